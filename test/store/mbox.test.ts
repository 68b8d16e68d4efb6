// mbox-specific behaviour: UW/Dovecot headers, the hidden pseudo-message, UIDs agreed through the
// index before they reach the spool, preamble garbage, CRLF spools, symlinks, folder rules, locks.
import { describe, it, expect, afterEach } from 'vitest';
import { spawn } from 'node:child_process';
import { writeFileSync, readFileSync, unlinkSync, symlinkSync, mkdirSync, utimesSync, existsSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempUser, type TempUser } from './helpers.js';
import { StoreError } from '../../src/store/types.js';
import { ROOT } from '../helpers/site.js';

const users: TempUser[] = [];
const mk = (over = {}) => { const u = tempUser(over); users.push(u); return u; };
afterEach(() => { for (const u of users.splice(0)) u.cleanup(); });
const msg = (i: number) => `Subject: m${i}\nMessage-ID: <m${i}@x>\n\nbody ${i}\n`;
const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');
const code = async (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (e instanceof StoreError ? e.code : String(e)));

describe('UW hidden pseudo-message', () => {
  const PSEUDO = 'From MAILER-DAEMON Tue Jan 05 16:41:58 1999\nDate: Tue, 05 Jan 1999 16:41:58 +0000\nFrom: Mail System Internal Data <MAILER-DAEMON@x>\n' +
    "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nX-IMAP: 1234 0000000005 Work\nStatus: RO\n\nThis text is part of the internal format of your mail folder.\n\n";
  it('is hidden, keeps its state, and stays first through rewrites and appends', async () => {
    const u = mk();
    writeFileSync(u.paths.inbox, PSEUDO +
      'From a Tue Jan 05 16:41:58 1999\nSubject: one\nX-UID: 3\nStatus: O\n\nbody one\n\n' +
      'From a Tue Jan 05 16:41:59 1999\nSubject: two\nX-UID: 4\n\nbody two\n\n');
    const box = await u.store().open('INBOX');
    expect(box.state.uidValidity).toBe(1234);
    expect(box.state.messages.map((m) => m.uid)).toEqual([3, 4]);
    expect(box.state.uidNext).toBe(5);
    expect(box.state.keywords).toContain('Work');
    await box.expunge([3]);
    // Deferred removal: once the only handle has acknowledged the expunge, the next writer purges it.
    box.acknowledge(box.state);
    const a = await u.store().append('INBOX', Buffer.from(msg(9)));
    expect(a.uid).toBe(5);
    const text = readFileSync(u.paths.inbox, 'latin1');
    expect(text.startsWith('From MAILER-DAEMON Tue Jan 05 16:41:58 1999\n')).toBe(true);
    expect(text).toContain("DON'T DELETE THIS MESSAGE");
    expect(text).not.toContain('body one');
    expect(text).not.toContain('X-IMAPbase');
    // A fresh parse without our index agrees: the spool alone carries the state.
    unlinkSync(join(u.paths.indexDir, 'INBOX.idx'));
    const again = await u.store().open('INBOX');
    expect(again.state.uidValidity).toBe(1234);
    expect(again.state.messages.map((m) => m.uid)).toEqual([4, 5]);
    expect(again.state.uidNext).toBe(6);
  });
});

describe('UIDs', () => {
  it('are agreed through the index before they are written to the spool', async () => {
    const u = mk();
    for (let i = 1; i <= 3; i++) u.deliver(msg(i));
    const a = await u.store().open('INBOX');
    expect(readFileSync(u.paths.inbox, 'latin1')).not.toContain('X-UID');
    const b = await u.store().open('INBOX');
    expect(b.state.messages.map((m) => m.uid)).toEqual(a.state.messages.map((m) => m.uid));
    u.deliver(msg(4));
    const sb = await b.refresh();
    u.deliver(msg(5));
    const sa = await a.refresh();
    expect(sa.messages.slice(0, 4).map((m) => m.uid)).toEqual(sb.messages.map((m) => m.uid));
    expect(new Set(sa.messages.map((m) => m.uid)).size).toBe(5);
    await a.setFlags([sa.messages[0]!.uid], 'add', ['\\Seen']);
    const text = readFileSync(u.paths.inbox, 'latin1');
    expect(text).toMatch(/X-IMAPbase: \d+ 0*6/);
    for (const m of sa.messages) expect(text).toContain(`X-UID: ${m.uid}\n`);
  });

  it('writes flag changes of stamped messages in place: the spool keeps its size', async () => {
    const u = mk();
    for (let i = 1; i <= 4; i++) u.deliver(msg(i));
    const box = await u.store().open('INBOX');
    const uids = box.state.messages.map((m) => m.uid);
    await box.setFlags(uids, 'add', ['\\Seen']);
    const { statSync } = await import('node:fs');
    const size = statSync(u.paths.inbox).size;
    await box.setFlags([uids[1]!], 'add', ['\\Flagged', '\\Answered', '\\Draft', '\\Deleted', 'Work']);
    await box.setFlags([uids[0]!], 'remove', ['\\Seen']);
    expect(statSync(u.paths.inbox).size).toBe(size);
    const other = await u.store().open('INBOX');
    expect([...other.state.messages[1]!.flags].sort()).toEqual(['Work', '\\Answered', '\\Deleted', '\\Draft', '\\Flagged', '\\Seen'].sort());
    expect(other.state.messages[0]!.flags.size).toBe(0);
    unlinkSync(join(u.paths.indexDir, 'INBOX.idx'));
    const fresh = await u.store().open('INBOX');
    expect(fresh.state.messages.map((m) => [...m.flags].sort())).toEqual(other.state.messages.map((m) => [...m.flags].sort()));
  });

  it('keeps the UID of a last message without a final newline when mail is appended after it', async () => {
    const u = mk();
    writeFileSync(u.paths.inbox, 'From a Tue Jan 05 16:41:58 1999\nSubject: short\n\nno newline');
    const a = await u.store().open('INBOX');
    const uid = a.state.messages[0]!.uid;
    appendFileSync(u.paths.inbox, '\n\nFrom b Tue Jan 05 16:41:58 1999\nSubject: next\n\nx\n\n');
    const st = await a.refresh();
    expect(st.messages.map((m) => m.uid)).toEqual([uid, uid + 1]);
  });

  it('UIDVALIDITY survives a lost index once the spool carries X-IMAPbase; UIDs are never reused', async () => {
    const u = mk();
    for (let i = 1; i <= 4; i++) u.deliver(msg(i));
    const box = await u.store().open('INBOX');
    const v = box.state.uidValidity;
    const last = box.state.messages[3]!.uid;
    await box.expunge([box.state.messages[0]!.uid, last]);
    unlinkSync(join(u.paths.indexDir, 'INBOX.idx'));
    u.deliver(msg(5));
    const again = await u.store().open('INBOX');
    expect(again.state.uidValidity).toBe(v);
    expect(again.state.messages).toHaveLength(3);
    expect(again.state.messages[2]!.uid).toBeGreaterThan(last);
  });

  it('reads Dovecot/mutt headers: X-Keywords, X-Status letters, Status', async () => {
    const u = mk();
    writeFileSync(u.paths.inbox, 'From a Tue Jan 05 16:41:58 1999\nX-IMAPbase: 77 0000000010 $Forwarded Junk\nSubject: x\nStatus: RO\nX-Status: AFTD\nX-Keywords: $Forwarded Junk\nX-UID: 9\nContent-Length: 5\n\nbody\n\n');
    const box = await u.store().open('INBOX');
    const m = box.state.messages[0]!;
    expect(m.uid).toBe(9);
    expect(box.state.uidValidity).toBe(77);
    expect(box.state.uidNext).toBe(10);
    expect([...m.flags].sort()).toEqual(['$Forwarded', 'Junk', '\\Answered', '\\Deleted', '\\Draft', '\\Flagged', '\\Seen'].sort());
    expect((await box.read(9)).toString()).toBe('Subject: x\r\n\r\nbody\r\n');
  });
});

describe('spool shapes', () => {
  it('keeps garbage before the first From through rewrites, and a spool with no From line at all', async () => {
    const u = mk();
    writeFileSync(u.paths.inbox, 'garbage line\n\0binary\n');
    const box = await u.store().open('INBOX');
    expect(box.state.messages).toHaveLength(0);
    await u.store().append('INBOX', Buffer.from(msg(1)));
    await u.store().append('INBOX', Buffer.from(msg(2)));
    await box.refresh();
    await box.setFlags([box.state.messages[0]!.uid], 'add', ['\\Deleted']);
    await box.expunge();
    const text = readFileSync(u.paths.inbox, 'latin1');
    expect(text.startsWith('garbage line\n\0binary\n')).toBe(true);
    expect(box.state.messages).toHaveLength(1);
    expect((await box.read(box.state.messages[0]!.uid)).toString()).toBe(crlf(msg(2)));
  });

  it('rewrites a CRLF spool in CRLF', async () => {
    const u = mk();
    writeFileSync(u.paths.inbox, 'From a Tue Jan 05 16:41:58 1999\r\nSubject: one\r\n\r\nbody\r\n\r\nFrom a Tue Jan 05 16:41:58 1999\r\nSubject: two\r\n\r\nbody2\r\n\r\n');
    const box = await u.store().open('INBOX');
    await box.setFlags([box.state.messages[0]!.uid], 'add', ['\\Seen']);
    const text = readFileSync(u.paths.inbox, 'latin1');
    expect(text.replace(/\r\n/g, '')).not.toContain('\n');
    expect((await box.read(box.state.messages[1]!.uid)).toString()).toBe('Subject: two\r\n\r\nbody2\r\n');
  });

  it('opens malformed spools: truncated, NUL bytes, a 10 MB header line', async () => {
    const u = mk();
    const big = 'X-Long: ' + 'y'.repeat(10 * 1024 * 1024) + '\n';
    writeFileSync(u.paths.inbox, 'From a Tue Jan 05 16:41:58 1999\nSubject: nul\n\n\0\0\0\n\n' +
      `From a Tue Jan 05 16:41:58 1999\n${big}Subject: big\n\nb\n\n` + 'From a Tue Jan 05 16:41:58 1999\nSubject: trunc');
    const box = await u.store().open('INBOX');
    expect(box.state.messages).toHaveLength(3);
    expect((await box.read(box.state.messages[0]!.uid)).toString('latin1')).toBe('Subject: nul\r\n\r\n\0\0\0\r\n');
    expect((await box.read(box.state.messages[1]!.uid)).length).toBe(box.state.messages[1]!.size);
    // Appending after a message without a final newline completes that line first.
    await u.store().append('INBOX', Buffer.from(msg(4)));
    const again = await u.store().open('INBOX');
    expect(again.state.messages).toHaveLength(4);
    expect((await again.read(again.state.messages[3]!.uid)).toString()).toBe(crlf(msg(4)));
  });

  it('uses the index for a warm open and parses only the tail when the spool grew', async () => {
    const u = mk();
    for (let i = 1; i <= 5; i++) u.deliver(msg(i));
    await u.store().open('INBOX');
    const idx = join(u.paths.indexDir, 'INBOX.idx');
    expect(existsSync(idx)).toBe(true);
    u.deliver(msg(6));
    const box = await u.store().open('INBOX');
    expect(box.state.messages).toHaveLength(6);
    expect((await box.read(box.state.messages[5]!.uid)).toString()).toBe(crlf(msg(6)));
    // A damaged index costs a parse, not mail.
    writeFileSync(idx, 'garbage');
    const again = await u.store().open('INBOX');
    expect(again.state.messages.map((m) => m.uid)).toEqual(box.state.messages.map((m) => m.uid));
  });
});

describe('big messages', () => {
  const collect = async (r: NodeJS.ReadableStream) => { const c: Buffer[] = []; for await (const b of r) c.push(b as Buffer); return Buffer.concat(c); };
  it('streams a big message in pieces, equal to read(), while another session moves it', async () => {
    const u = mk();
    u.deliver(msg(1));
    const line = 'From the body of a big message with a quoted line\n>From here\n' + 'x'.repeat(70) + '\n';
    const big = 'Subject: big\nMessage-ID: <big@x>\n\n' + line.repeat(60000) + 'last line without newline';
    u.deliver(big);
    u.deliver(msg(3));
    const box = await u.store().open('INBOX');
    const m = box.state.messages[1]!;
    expect(m.size).toBeGreaterThan(4 * 1024 * 1024);
    const whole = await box.read(m.uid);
    expect(whole.length).toBe(m.size);
    // Buffer.equals: deep equality of megabyte buffers is far too slow in expect().
    expect((await collect(box.stream(m.uid))).equals(whole)).toBe(true);
    expect((await collect(box.stream(m.uid, 100, 3_000_000))).equals(whole.subarray(100, 3_000_000))).toBe(true);
    expect((await collect(box.stream(m.uid, m.size - 10))).toString()).toBe(whole.subarray(m.size - 10).toString());
    // Another session expunges the message before it (shifting it) and changes its flags mid-stream.
    const other = await u.store().open('INBOX');
    const s = box.stream(m.uid);
    const parts: Buffer[] = [];
    let moved = false;
    for await (const b of s) {
      parts.push(b as Buffer);
      if (!moved) {
        moved = true;
        await other.expunge([other.state.messages[0]!.uid]);
        await other.setFlags([m.uid], 'add', ['\\Seen', 'Big']);
      }
    }
    expect(Buffer.concat(parts).equals(whole)).toBe(true);
  });
});

describe('safety', () => {
  it('refuses symlinked folders and a symlinked drop file', async () => {
    const u = mk();
    const s = u.store();
    await s.create('Real');
    mkdirSync(join(u.dir, 'elsewhere'));
    writeFileSync(join(u.dir, 'elsewhere', 'f'), 'From a Tue Jan 05 16:41:58 1999\nSubject: x\n\nx\n');
    symlinkSync(join(u.dir, 'elsewhere', 'f'), join(u.paths.folders, 'Link'));
    symlinkSync(join(u.dir, 'elsewhere'), join(u.paths.folders, 'Dir'));
    expect(await code(s.open('Link'))).toBe('NOPERM');
    expect(await code(s.open('Dir/f'))).toBe('NOPERM');
    expect((await s.list()).map((f) => f.name)).toEqual(['INBOX', 'Real']);
    symlinkSync(join(u.dir, 'elsewhere', 'f'), u.paths.inbox);
    expect(await code(s.open('INBOX'))).toBe('NOPERM');
  });

  it('follows the folder rules: a message folder cannot hold folders', async () => {
    const u = mk();
    const s = u.store();
    await s.create('A');
    expect(await code(s.create('A/B'))).toBe('CANNOT');
    await s.create('P/C');
    expect(await code(s.open('P'))).toBe('CANNOT');
    expect(await code(s.delete('P'))).toBe('CANNOT');
    await s.delete('P/C');
    await s.delete('P');
    expect(await code(s.create('INBOX/x'))).toBe('CANNOT');
    // A long nested name still gets an index and crash-safe rewrites.
    const long = Array.from({ length: 4 }, (_, i) => `level${i}-` + 'n'.repeat(60)).join('/');
    await s.create(long);
    await s.append(long, Buffer.from(msg(1)));
    const box = await s.open(long);
    await box.setFlags([box.state.messages[0]!.uid], 'add', ['\\Deleted']);
    expect(await box.expunge()).toHaveLength(1);
  });
});

describe('locking', () => {
  it('waits for a live dot-lock and gives UNAVAILABLE after lock_timeout; breaks a stale one', async () => {
    const u = mk({ lock_timeout: 1, lock_stale: 60 });
    u.deliver(msg(1));
    writeFileSync(u.paths.inbox + '.lock', '');
    expect(await code(u.store().open('INBOX'))).toBe('UNAVAILABLE');
    const old = new Date(Date.now() - 120_000);
    utimesSync(u.paths.inbox + '.lock', old, old);
    const box = await u.store().open('INBOX');
    expect(box.state.messages).toHaveLength(1);
    expect(existsSync(u.paths.inbox + '.lock')).toBe(false);
  });

  it('honours an fcntl lock held by another process (as procmail takes it)', async () => {
    const u = mk({ lock_timeout: 1 });
    u.deliver(msg(1));
    const holder = spawn(process.execPath, ['-e', `
      const f = require('fs-ext'); const fd = require('fs').openSync(${JSON.stringify(u.paths.inbox)}, 'r+');
      f.fcntl(fd, 'setlk', f.constants.F_WRLCK, (e) => { console.log(e ? 'fail' : 'locked'); setTimeout(() => {}, 30000); });
    `], { env: { PATH: process.env.PATH ?? '', NODE_PATH: join(ROOT, 'node_modules') }, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
      expect(await code(u.store().open('INBOX'))).toBe('UNAVAILABLE');
      expect(existsSync(u.paths.inbox + '.lock')).toBe(false);
    } finally {
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('exit', r));
    }
    expect((await u.store().open('INBOX')).state.messages).toHaveLength(1);
  });

  it('with use_flock also honours an flock() held by another process', async () => {
    const u = mk({ lock_timeout: 1, use_flock: true });
    u.deliver(msg(1));
    const holder = spawn('flock', ['-F', '-x', u.paths.inbox, 'sleep', '30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect(await code(u.store().open('INBOX'))).toBe('UNAVAILABLE');
    } finally {
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('exit', r));
    }
    await new Promise((r) => setTimeout(r, 100));
    expect((await u.store().open('INBOX')).state.messages).toHaveLength(1);
  });

  it('uses lock_id with link() temp files and leaves none behind', async () => {
    const u = mk({ lock_id: 'node7' });
    u.deliver(msg(1));
    const box = await u.store().open('INBOX');
    await box.setFlags([box.state.messages[0]!.uid], 'add', ['\\Seen']);
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(u.spool).sort()).toEqual(['bob', 'bob.mbx']);
    appendFileSync(u.paths.inbox, '');
  });
});
