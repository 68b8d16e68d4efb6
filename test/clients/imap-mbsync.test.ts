// mbsync (isync, from Debian) syncing bob's mailboxes both ways with a local maildir; the two sides are
// then compared message by message (bytes and flags).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, simpleMessage } from '../helpers/site.js';
import { listen, type Listener } from '../helpers/listener.js';
import { connectImap, siteWithMessages, type TestSite } from '../imap/imap-client.js';

let t: TestSite;
let l: Listener;
let local: string;
let conf: string;
beforeAll(async () => {
  t = siteWithMessages(4);
  l = await listen(BIN.imapd, ['-i', t.site.conf]);
  local = join(t.site.dir, 'maildir');
  mkdirSync(local);
  conf = join(t.site.dir, 'mbsyncrc');
  writeFileSync(conf, [
    'IMAPAccount test', 'Host 127.0.0.1', `Port ${l.port}`, 'User bob', 'Pass secret', 'SSLType None', 'AuthMechs LOGIN', '',
    'IMAPStore remote', 'Account test', '',
    'MaildirStore local', `Path ${local}/`, `Inbox ${local}/INBOX`, 'SubFolders Verbatim', '',
    'Channel sync', 'Far :remote:', 'Near :local:', 'Patterns *', 'Create Both', 'Expunge Both', 'SyncState *', '',
  ].join('\n'));
});
afterAll(async () => {
  await l.close();
  t.cleanup();
});

/** Asynchronously: the listener that starts imapd per connection lives in this very process. */
async function mbsync(): Promise<string> {
  const { stdout } = await promisify(execFile)('mbsync', ['-c', conf, '-a'], { encoding: 'utf8', timeout: 40_000 });
  return stdout;
}

interface LocalMsg { body: string; flags: string }

function localMessages(folder: string): LocalMsg[] {
  const out: LocalMsg[] = [];
  for (const sub of ['cur', 'new']) {
    const dir = join(local, folder, sub);
    for (const f of readdirSync(dir)) {
      out.push({ body: readFileSync(join(dir, f), 'latin1'), flags: /:2,([A-Z]*)$/.exec(f)?.[1] ?? '' });
    }
  }
  return out;
}

async function remoteMessages(folder: string): Promise<LocalMsg[]> {
  const s = await connectImap(t.site);
  await s.login();
  await s.cmd(`EXAMINE ${folder}`);
  const out: LocalMsg[] = [];
  const st = await s.cmd(`STATUS ${folder} (MESSAGES)`);
  const n = Number(/MESSAGES (\d+)/.exec(st[0]!)![1]);
  for (let i = 1; i <= n; i++) {
    s.send(`f${i} FETCH ${i} (FLAGS BODY.PEEK[])\r\n`);
    const head = await s.c.line();
    const size = Number(/\{(\d+)\}$/.exec(head)![1]);
    const body = (await s.c.bytes(size)).toString('latin1');
    await s.c.until(`f${i} `);
    const flags = /FLAGS \(([^)]*)\)/.exec(head)?.[1] ?? '';
    out.push({ body, flags: [flags.includes('\\Flagged') ? 'F' : '', flags.includes('\\Seen') ? 'S' : ''].join('') });
  }
  s.close();
  return out;
}

/** mbsync may add an X-TUID header to messages it uploads; compare without it. */
const norm = (m: LocalMsg) => `${m.flags}|${m.body.replace(/^X-TUID: .*\r?\n/m, '').replace(/\r\n/g, '\n')}`;

describe('mbsync', () => {
  it('pulls everything down, then pushes local changes up, both sides equal message by message', async () => {
    const s = await connectImap(t.site);
    await s.login();
    await s.cmd('CREATE Work');
    await s.cmd('APPEND Work (\\Flagged) {30+}\r\nSubject: work item\r\n\r\nwork!\r\n');
    s.close();
    await mbsync();
    expect(localMessages('INBOX').map(norm).sort()).toEqual((await remoteMessages('INBOX')).map(norm).sort());
    expect(localMessages('Work').map(norm).sort()).toEqual((await remoteMessages('Work')).map(norm).sort());
    expect(localMessages('INBOX').length).toBe(4);

    // Local changes: a new message, and one message marked read.
    writeFileSync(join(local, 'INBOX', 'new', `${Date.now()}.local1.host`), simpleMessage(77).replace(/\n/g, '\r\n'));
    const cur = join(local, 'INBOX', 'cur');
    const newDir = join(local, 'INBOX', 'new');
    const first = [...readdirSync(cur).map((f) => join(cur, f)), ...readdirSync(newDir).filter((f) => !f.includes('local1')).map((f) => join(newDir, f))][0]!;
    renameSync(first, join(cur, first.split('/').pop()!.replace(/(:2,[A-Z]*)?$/, ':2,S')));
    await mbsync();
    const remote = await remoteMessages('INBOX');
    expect(remote.length).toBe(5);
    expect(remote.some((m) => m.body.includes('message 77'))).toBe(true);
    expect(remote.filter((m) => m.flags.includes('S')).length).toBe(1);
    expect(localMessages('INBOX').map(norm).sort()).toEqual(remote.map(norm).sort());

    // A server-side expunge reaches the maildir.
    const e = await connectImap(t.site);
    await e.login();
    await e.cmd('SELECT INBOX');
    await e.cmd('STORE 1 +FLAGS (\\Deleted)');
    await e.cmd('EXPUNGE');
    e.close();
    await mbsync();
    const after = await remoteMessages('INBOX');
    expect(after.length).toBe(4);
    expect(localMessages('INBOX').map(norm).sort()).toEqual(after.map(norm).sort());
  });
});
