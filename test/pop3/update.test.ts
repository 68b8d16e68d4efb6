// UPDATE-state semantics and the maildrop across sessions: DELE takes effect only at QUIT, a dropped
// connection or timeout removes nothing, late mail survives, one POP3 session per maildrop, add_status,
// and UIDLs that stay put.
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { mbox, simpleMessage, type Site } from '../helpers/site.js';
import { popFixture, deliverMail, NOT_MBOX, writeMail } from './pop-client.js';

const { site, connect } = popFixture();
async function subjects(s: Site): Promise<string[]> {
  const c = await connect(s);
  expect(await c.login()).toMatch(/^\+OK/);
  const n = Number((await c.cmd('STAT')).split(' ')[1]);
  const out: string[] = [];
  for (let i = 1; i <= n; i++) {
    const top = await c.multiCmd(`TOP ${i} 0`);
    out.push(top.lines.find((l) => l.startsWith('Subject: '))!.slice(9));
  }
  expect(await c.cmd('QUIT')).toMatch(/^\+OK/);
  await c.exited();
  return out;
}
async function uidls(s: Site): Promise<string[]> {
  const c = await connect(s);
  await c.login();
  const r = await c.multiCmd('UIDL');
  await c.cmd('QUIT');
  await c.exited();
  return r.lines.map((l) => l.split(' ')[1]!);
}
const all = (n: number) => Array.from({ length: n }, (_, i) => `Test message ${i + 1}`);

describe('UPDATE state', () => {
  it('removes DELE\'d messages at QUIT and keeps the rest with their UIDLs', async () => {
    const s = site(4);
    const before = await uidls(s);
    const c = await connect(s);
    await c.login();
    expect(await c.cmd('DELE 1')).toMatch(/^\+OK/);
    expect(await c.cmd('DELE 3')).toMatch(/^\+OK/);
    expect(await c.cmd('QUIT')).toMatch(/^\+OK .*\(2 messages left\)/);
    expect(await c.exited()).toBe(0);
    expect(await subjects(s)).toEqual(['Test message 2', 'Test message 4']);
    expect(await uidls(s)).toEqual([before[1], before[3]]);
  });

  it('a connection killed before QUIT deletes nothing', async () => {
    const s = site(3);
    const c = await connect(s);
    await c.login();
    for (const n of [1, 2, 3]) expect(await c.cmd(`DELE ${n}`)).toMatch(/^\+OK/);
    await c.multiCmd('RETR 1');
    c.close();
    await c.exited();
    expect(await subjects(s)).toEqual(all(3));
  });

  it('a killed server process (kill -9) deletes nothing and leaves no stale lock', async () => {
    const s = site(2);
    const c = await connect(s);
    await c.login();
    await c.cmd('DELE 1');
    c.kill('SIGKILL');
    await c.exited();
    expect(await subjects(s)).toEqual(all(2));
  });

  it('an idle timeout deletes nothing', async () => {
    const s = site(2, { pop_timeout: 2 });
    const c = await connect(s);
    await c.login();
    await c.cmd('DELE 1');
    expect(await c.line(10_000)).toMatch(/^-ERR .*inactivity/i);
    await c.exited();
    s.setConfig({}); // the checking session must not time out itself
    expect(await subjects(s)).toEqual(all(2));
  });

  it('mail arriving during a session is not shown, not deleted, and is there next time', async () => {
    const s = site(2);
    const c = await connect(s);
    await c.login();
    deliverMail(s, 'bob', simpleMessage(3));
    expect(await c.cmd('STAT')).toMatch(/^\+OK 2 /);
    expect(await c.cmd('RETR 3')).toMatch(/^-ERR/);
    await c.cmd('DELE 1');
    await c.cmd('DELE 2');
    expect(await c.cmd('QUIT')).toMatch(/^\+OK .*\(1 messages left\)/);
    await c.exited();
    expect(await subjects(s)).toEqual(['Test message 3']);
  });
});

describe('maildrop lock', () => {
  it('a second POP3 session gets -ERR [IN-USE]; after QUIT the maildrop is free again', async () => {
    const s = site(1);
    const a = await connect(s);
    expect(await a.login()).toMatch(/^\+OK/);
    const b = await connect(s);
    expect(await b.login()).toMatch(/^-ERR \[IN-USE\]/);
    await b.exited();
    expect(await a.cmd('QUIT')).toMatch(/^\+OK/);
    await a.exited();
    const c = await connect(s);
    expect(await c.login()).toMatch(/^\+OK/);
  });
});

describe('maildrop lock release', () => {
  it('is free the moment QUIT is answered, so an immediate reconnect is never IN-USE', async () => {
    const s = site(3);
    let c = await connect(s);
    expect(await c.login()).toMatch(/^\+OK/);
    for (let i = 0; i < 8; i++) {
      await c.multiCmd('RETR 1'); // add_status gives QUIT a store write to do before answering
      // The next session is already greeted and has sent USER: only PASS remains after our +OK.
      const next = await connect(s);
      expect(await next.cmd('USER bob')).toMatch(/^\+OK/);
      expect(await c.cmd('QUIT')).toMatch(/^\+OK/);
      expect(await next.cmd('PASS secret'), `round ${i}`).toMatch(/^\+OK bob has 3 msgs/);
      c = next;
    }
    await c.cmd('QUIT');
  });
});

describe('add_status and UIDLs', () => {
  it.skipIf(NOT_MBOX)('marks retrieved messages read at QUIT (Status: R), not TOP\'d ones', async () => {
    const s = site(3);
    const c = await connect(s);
    await c.login();
    await c.multiCmd('RETR 2');
    await c.multiCmd('TOP 3 1');
    await c.cmd('QUIT');
    await c.exited();
    const spool = readFileSync(s.drop('bob'), 'latin1');
    const parts = spool.split(/^From /m).filter(Boolean);
    expect(parts).toHaveLength(3);
    // The store may pad status headers with spaces (so later flag changes fit in place).
    const status = (p: string) => /^Status:([^\n]*)$/m.exec(p.split('\n\n')[0]!)?.[1]?.trim() ?? '';
    expect(status(parts[1]!)).toContain('R');
    expect(status(parts[0]!)).not.toContain('R');
    expect(status(parts[2]!)).not.toContain('R');
  });

  it.skipIf(NOT_MBOX)('with add_status false, RETR leaves messages unread', async () => {
    const s = site(1, { add_status: false });
    const c = await connect(s);
    await c.login();
    await c.multiCmd('RETR 1');
    await c.cmd('QUIT');
    await c.exited();
    expect(readFileSync(s.drop('bob'), 'latin1')).not.toMatch(/^Status: *\S*R/m);
  });

  it('UIDLs are stable across sessions, flag rewrites and deletions of others; X-UIDL is used', async () => {
    const s = site(0);
    writeMail(s, 'bob', [simpleMessage(1), simpleMessage(2, 'X-UIDL: legacy-id-42\n'), simpleMessage(3)]);
    const first = await uidls(s);
    expect(first[1]).toBe('legacy-id-42');
    expect(await uidls(s)).toEqual(first);
    // A session that reads everything (add_status rewrites the spool) changes no id.
    const c = await connect(s);
    await c.login();
    for (const n of [1, 2, 3]) await c.multiCmd(`RETR ${n}`);
    await c.cmd('QUIT');
    await c.exited();
    expect(await uidls(s)).toEqual(first);
  });
});

describe.skipIf(NOT_MBOX)('UW pseudo-message', () => {
  const PSEUDO = [
    'From MAILER-DAEMON Tue Jan 02 03:04:05 2024',
    'Date: Tue, 02 Jan 2024 03:04:05 +0000',
    'From: Mail System Internal Data <MAILER-DAEMON@example.com>',
    "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA",
    'Message-ID: <1704164645@example.com>',
    'X-IMAP: 1700000000 0000000005',
    'Status: RO',
    '',
    'This text is part of the internal format of your mail folder, and is not',
    'a real message.  It is created automatically by the mail system software.',
    '', '',
  ].join('\n');

  it('is never shown, survives deleting everything, and UIDLs derive from X-IMAP and X-UID', async () => {
    const s = site(0);
    writeFileSync(s.drop('bob'), PSEUDO + mbox([
      { text: simpleMessage(1, 'X-UID: 3\nStatus: O\n') },
      { text: simpleMessage(2, 'X-UID: 4\nStatus: O\n') },
    ]));
    expect(await subjects(s)).toEqual(['Test message 1', 'Test message 2']);
    // Decisions 9: %08X(uid) %08X(uidvalidity); 1700000000 = 0x6553F100.
    expect(await uidls(s)).toEqual(['000000036553F100', '000000046553F100']);
    const c = await connect(s);
    await c.login();
    await c.cmd('DELE 1');
    await c.cmd('DELE 2');
    expect(await c.cmd('QUIT')).toMatch(/maildrop empty/);
    await c.exited();
    expect(readFileSync(s.drop('bob'), 'latin1')).toContain('FOLDER INTERNAL DATA');
    expect(await subjects(s)).toEqual([]);
  });
});
