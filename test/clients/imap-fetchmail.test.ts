// Debian's fetchmail and getmail6 speaking IMAP to bin/imapd: keep-on-server twice (the second run
// finds nothing new, by \Seen), then fetch-and-delete, which must leave an empty INBOX.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/site.js';
import { listen, type Listener } from '../helpers/listener.js';
import { connectImap, siteWithMessages, type TestSite } from '../imap/imap-client.js';
import { mboxSubjects, runClient } from './run-client.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f(); });

async function setup(n: number): Promise<{ t: TestSite; l: Listener }> {
  const t = siteWithMessages(n);
  cleanup.push(() => t.cleanup());
  const l = await listen(BIN.imapd, ['-i', t.site.conf]);
  cleanup.push(() => l.close());
  return { t, l };
}

const run = runClient;
const subjects = mboxSubjects;

async function inboxCount(t: TestSite): Promise<number> {
  const s = await connectImap(t.site);
  await s.login();
  const st = await s.cmd('STATUS INBOX (MESSAGES)');
  s.close();
  return Number(/MESSAGES (\d+)/.exec(st[0]!)![1]);
}

describe('fetchmail over IMAP', () => {
  it('keep twice fetches each message once; nokeep fetchall deletes them', async () => {
    const { t, l } = await setup(3);
    const out = join(t.site.dir, 'fetched.mbox');
    const fetchmail = async (keep: boolean) => {
      const rc = join(t.site.dir, 'fetchmailrc');
      writeFileSync(rc, [
        'set no bouncemail',
        `set idfile "${join(t.site.dir, 'fetchids')}"`,
        `poll 127.0.0.1 port ${l.port} proto imap auth password timeout 30`,
        '  user "bob" there with password "secret" is "bob" here',
        keep ? '  keep' : '  nokeep fetchall',
        '  sslproto "" no sslcertck',
        `  mda "cat >> ${out}"`,
        '',
      ].join('\n'));
      chmodSync(rc, 0o600);
      return run('fetchmail', ['-f', rc, '--nosyslog', '--nodetach', '-v', '--pidfile', join(t.site.dir, 'fm.pid')], t.site.dir);
    };
    const first = await fetchmail(true);
    expect(first.status, first.log).toBe(0);
    expect(subjects(out)).toEqual(['Test message 1', 'Test message 2', 'Test message 3']);
    const second = await fetchmail(true);
    expect(second.status, second.log).toBe(1); // 1 = no new mail
    expect(await inboxCount(t)).toBe(3);
    const third = await fetchmail(false);
    expect(third.status, third.log).toBe(0);
    expect(subjects(out)).toHaveLength(6);
    expect(await inboxCount(t)).toBe(0);
  });
});

describe('getmail6 over IMAP', () => {
  it('fetches unseen messages once, then fetches all and deletes', async () => {
    const { t, l } = await setup(2);
    const dir = join(t.site.dir, 'getmail');
    const out = join(t.site.dir, 'getmail.mbox');
    writeFileSync(out, '');
    mkdirSync(dir, { recursive: true });
    const getmail = async (keep: boolean) => {
      const rc = join(dir, 'getmailrc');
      writeFileSync(rc, [
        '[retriever]', 'type = SimpleIMAPRetriever', 'server = 127.0.0.1', `port = ${l.port}`, 'username = bob', 'password = secret',
        'mailboxes = ("INBOX",)',
        '', '[destination]', 'type = MDA_external', 'path = /bin/sh', `arguments = ("-c", "cat >> ${out}")`, 'allow_root_commands = true',
        '', '[options]', `delete = ${keep ? 'false' : 'true'}`, `read_all = ${keep ? 'false' : 'true'}`, 'verbose = 1', '',
      ].join('\n'));
      return run('getmail', ['--getmaildir', dir, '--rcfile', rc], t.site.dir);
    };
    const first = await getmail(true);
    expect(first.status, first.log).toBe(0);
    expect(subjects(out)).toEqual(['Test message 1', 'Test message 2']);
    const second = await getmail(true);
    expect(second.status, second.log).toBe(0);
    expect(subjects(out)).toHaveLength(2);
    const third = await getmail(false);
    expect(third.status, third.log).toBe(0);
    expect(subjects(out)).toHaveLength(4);
    expect(await inboxCount(t)).toBe(0);
  });
});
