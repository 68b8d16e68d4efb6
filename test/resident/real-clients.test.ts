// Real client programs against the resident mode (`imapd --daemon`) with real system users (PAM,
// per-uid workers): imapflow (npm), mbsync (isync), fetchmail and getmail6 — the same configurations as
// the per-connection tests in test/clients/, here through the master, the pre-login process and the
// user's worker. (Python imaplib/poplib: resident.test.ts.)
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImapFlow } from 'imapflow';
import { BIN, mbox, simpleMessage } from '../helpers/site.js';
import { cleanEnv } from '../helpers/inetd.js';
import { launch, lineClient, type Launched } from '../e2e/launchers.js';
import { cleanupTempDirs, tempDir } from '../auth/helpers.js';
import { createUser, installPamService, isRoot, removeUsers, type SysUser } from '../auth/system-users.js';
import { mboxSubjects, runClient } from '../clients/run-client.js';

const run = runClient;
const subjects = mboxSubjects;

describe.skipIf(!isRoot)('real clients on the resident mode (--daemon, PAM users, per-uid workers)', () => {
  let dir: string;
  let spool: string;
  let l: Launched;
  const users: Record<string, SysUser> = {};
  const PASS = 'resident-pw 1';

  /** A user whose INBOX (the mbox in the spool, theirs) holds n messages. */
  const give = (u: SysUser, n: number) => {
    const f = join(spool, u.name);
    writeFileSync(f, mbox(Array.from({ length: n }, (_, i) => ({ text: simpleMessage(i + 1) }))));
    chownSync(f, u.uid, u.gid);
    chmodSync(f, 0o600);
  };

  async function inboxCount(u: SysUser): Promise<number> {
    const c = await lineClient(l.port);
    await c.line();
    c.send(`l LOGIN ${u.name} "${PASS}"\r\ns STATUS INBOX (MESSAGES)\r\nz LOGOUT\r\n`);
    const lines = await c.until('s ');
    c.close();
    return Number(/MESSAGES (\d+)/.exec(lines.join('\n'))![1]);
  }

  beforeAll(async () => {
    installPamService();
    for (const k of ['flow', 'sync', 'fetch', 'getm']) users[k] = createUser(`dmr${k[0]}`, PASS, 'SHA512');
    dir = tempDir('dmail-resident-clients-');
    chmodSync(dir, 0o755);
    spool = join(dir, 'spool');
    mkdirSync(spool);
    chmodSync(spool, 0o1777);
    for (const d of ['log', 'work']) mkdirSync(join(dir, d));
    const conf = join(dir, 'dmail.conf');
    writeFileSync(conf, [
      `drop_path ${spool}`, `log_path ${join(dir, 'log')}`, `work_path ${join(dir, 'work')}`, 'log_level info',
      'authent_method unix_user', 'pam_service dmail', 'auth_fail_delay 0', '',
    ].join('\n'));
    l = await launch((port) => spawn(BIN.imapd, ['-i', conf, '--daemon', '--listen', `127.0.0.1:${port}`], {
      stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(),
    }));
  });
  afterAll(async () => { await l?.stop(); removeUsers(); cleanupTempDirs(); });

  it('imapflow: folders, append, fetch, flags, search, move, and IDLE seeing another session\'s append', async () => {
    const u = users.flow!;
    give(u, 3);
    const client = () => new ImapFlow({ host: '127.0.0.1', port: l.port, secure: false, auth: { user: u.name, pass: PASS }, logger: false });
    const c = client();
    await c.connect();
    await c.mailboxCreate('Flow');
    const appended = await c.append('Flow', 'From: flow@example.com\r\nSubject: via imapflow\r\n\r\nhello flow\r\n', ['\\Seen']);
    expect(appended && appended.uid).toBe(1);
    const lock = await c.getMailboxLock('INBOX');
    try {
      const msgs = [];
      for await (const m of c.fetch('1:*', { uid: true, flags: true, envelope: true, source: true })) msgs.push(m);
      expect(msgs.map((m) => m.envelope!.subject)).toEqual(['Test message 1', 'Test message 2', 'Test message 3']);
      expect(msgs[1]!.source!.toString()).toContain('Hello, this is message 2.');
      await c.messageFlagsAdd('1:2', ['\\Flagged']);
      expect(await c.search({ flagged: true })).toEqual([1, 2]);
      const moved = await c.messageMove('3', 'Flow');
      expect(moved && moved.uidMap && moved.uidMap.size).toBe(1);
    } finally {
      lock.release();
    }
    expect((await c.status('Flow', { messages: true })).messages).toBe(2);
    // IDLE in INBOX; a second session of the same user (same worker) appends: the idler is told.
    const idleLock = await c.getMailboxLock('INBOX');
    const exists = new Promise<number>((resolve) => c.on('exists', (e: { count: number }) => resolve(e.count)));
    const idling = c.idle();
    const d = client();
    await d.connect();
    await d.append('INBOX', 'From: other@example.com\r\nSubject: while idling\r\n\r\nnews\r\n');
    expect(await exists).toBe(3);
    idleLock.release();
    await d.logout();
    await c.logout();
    await idling.catch(() => undefined);
  });

  it('mbsync pulls every folder down, then pushes a local message up', async () => {
    const u = users.sync!;
    give(u, 4);
    const local = join(dir, 'maildir');
    mkdirSync(local);
    const rc = join(dir, 'mbsyncrc');
    writeFileSync(rc, [
      'IMAPAccount test', 'Host 127.0.0.1', `Port ${l.port}`, `User ${u.name}`, `Pass "${PASS}"`, 'SSLType None', 'AuthMechs LOGIN', '',
      'IMAPStore remote', 'Account test', '',
      'MaildirStore local', `Path ${local}/`, `Inbox ${local}/INBOX`, 'SubFolders Verbatim', '',
      'Channel sync', 'Far :remote:', 'Near :local:', 'Patterns *', 'Create Both', 'Expunge Both', 'SyncState *', '',
    ].join('\n'));
    const localFiles = () => ['cur', 'new'].flatMap((s) => readdirSync(join(local, 'INBOX', s)).map((f) => readFileSync(join(local, 'INBOX', s, f), 'latin1')));
    const first = await run('mbsync', ['-c', rc, '-a'], dir);
    expect(first.status, first.log).toBe(0);
    expect(localFiles().map((b) => /^Subject: (.*)$/m.exec(b)![1]).sort()).toEqual(['Test message 1', 'Test message 2', 'Test message 3', 'Test message 4']);
    writeFileSync(join(local, 'INBOX', 'new', `${Date.now()}.local1.host`), simpleMessage(77).replace(/\n/g, '\r\n'));
    const second = await run('mbsync', ['-c', rc, '-a'], dir);
    expect(second.status, second.log).toBe(0);
    expect(await inboxCount(u)).toBe(5);
    // What the worker wrote (as the user) is the user's.
    expect(readFileSync(join(spool, u.name), 'latin1')).toContain('Hello, this is message 77.');
  });

  it('fetchmail: keep twice fetches each message once; nokeep fetchall empties the INBOX', async () => {
    const u = users.fetch!;
    give(u, 3);
    const out = join(dir, 'fetched.mbox');
    const fetchmail = (keep: boolean) => {
      const rc = join(dir, 'fetchmailrc');
      writeFileSync(rc, [
        'set no bouncemail', `set idfile "${join(dir, 'fetchids')}"`,
        `poll 127.0.0.1 port ${l.port} proto imap auth password timeout 30`,
        `  user "${u.name}" there with password "${PASS}" is "root" here`,
        keep ? '  keep' : '  nokeep fetchall', '  sslproto "" no sslcertck', `  mda "cat >> ${out}"`, '',
      ].join('\n'));
      chmodSync(rc, 0o600);
      return run('fetchmail', ['-f', rc, '--nosyslog', '--nodetach', '-v', '--pidfile', join(dir, 'fm.pid')], dir);
    };
    const first = await fetchmail(true);
    expect(first.status, first.log).toBe(0);
    expect(subjects(out)).toEqual(['Test message 1', 'Test message 2', 'Test message 3']);
    const second = await fetchmail(true);
    expect(second.status, second.log).toBe(1); // 1 = no new mail
    expect(await inboxCount(u)).toBe(3);
    const third = await fetchmail(false);
    expect(third.status, third.log).toBe(0);
    expect(subjects(out)).toHaveLength(6);
    expect(await inboxCount(u)).toBe(0);
  });

  it('getmail6 fetches unseen messages once, then fetches all and deletes', async () => {
    const u = users.getm!;
    give(u, 2);
    const gdir = join(dir, 'getmail');
    const out = join(dir, 'getmail.mbox');
    writeFileSync(out, '');
    mkdirSync(gdir);
    const getmail = (keep: boolean) => {
      const rc = join(gdir, 'getmailrc');
      writeFileSync(rc, [
        '[retriever]', 'type = SimpleIMAPRetriever', 'server = 127.0.0.1', `port = ${l.port}`, `username = ${u.name}`, `password = ${PASS}`,
        'mailboxes = ("INBOX",)',
        '', '[destination]', 'type = MDA_external', 'path = /bin/sh', `arguments = ("-c", "cat >> ${out}")`, 'allow_root_commands = true',
        '', '[options]', `delete = ${keep ? 'false' : 'true'}`, `read_all = ${keep ? 'false' : 'true'}`, 'verbose = 1', '',
      ].join('\n'));
      return run('getmail', ['--getmaildir', gdir, '--rcfile', rc], dir);
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
    expect(await inboxCount(u)).toBe(0);
  });
});
