// Deferred removal across real processes (issue 11): sessions in child processes (as separate imapd /
// dpop processes would be) expunge, read, acknowledge, close and die; the spool file itself is checked
// for when an expunged message's bytes leave it.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, unlinkSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/site.js';
import { tempUser, type TempUser } from './helpers.js';
import { buildWorker } from './worker-build.js';
import { openChangeLog, CHANGE_APPEND } from '../../src/store/changelog.js';

let workDir: string;
let worker: string;
beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'store-deferred-'));
  worker = await buildWorker('session-worker', workDir);
});
afterAll(() => { rmSync(workDir, { recursive: true, force: true }); });

type Reply = Record<string, unknown> & { err?: string; uids?: number[]; highest?: number; removed?: number[]; data?: string; modified?: number[]; modseqs?: number[]; complete?: boolean };

/** One store session in its own process. */
class Session {
  readonly child: ChildProcess;
  private buf = '';
  private waiters: ((r: Reply) => void)[] = [];
  constructor(u: TempUser) {
    this.child = spawn(process.execPath, [worker, u.spool], {
      env: { PATH: process.env.PATH ?? '', NODE_PATH: join(ROOT, 'node_modules') }, stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.child.stdout!.on('data', (d: Buffer) => {
      this.buf += d.toString();
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const l = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        this.waiters.shift()?.(JSON.parse(l) as Reply);
      }
    });
  }
  cmd(c: Record<string, unknown>): Promise<Reply> {
    return new Promise((r) => { this.waiters.push(r); this.child.stdin!.write(JSON.stringify(c) + '\n'); });
  }
  async ok(c: Record<string, unknown>): Promise<Reply> {
    const r = await this.cmd(c);
    expect(r.err, JSON.stringify(c)).toBeUndefined();
    return r;
  }
  async read(uid: number): Promise<string> {
    return Buffer.from((await this.ok({ op: 'read', uid })).data!, 'base64').toString('latin1');
  }
  kill9(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((r) => { this.child.once('exit', () => r()); this.child.kill('SIGKILL'); });
  }
  end(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((r) => { this.child.once('exit', () => r()); this.child.stdin!.end(); });
  }
}

const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');
const text = (i: number) => `From: s${i}@example.com\nSubject: msg ${i}\nMessage-ID: <d-${i}@x>\n\nbody of message ${i}\n`;
const spoolText = (u: TempUser) => readFileSync(u.paths.inbox, 'latin1');

function seeded(n: number): TempUser {
  const u = tempUser();
  for (let i = 1; i <= n; i++) u.deliver(text(i));
  return u;
}

async function withSessions(u: TempUser, n: number, fn: (s: Session[]) => Promise<void>): Promise<void> {
  const s = Array.from({ length: n }, () => new Session(u));
  try { await fn(s); } finally {
    for (const x of s) await x.kill9();
    u.cleanup();
  }
}

describe('deferred removal between processes', () => {
  it('A expunges; B reads the original bytes until it acknowledges; then the next writer purges', async () => {
    const u = seeded(4);
    await withSessions(u, 2, async ([a, b]) => {
      const sa = await a!.ok({ op: 'open' });
      await b!.ok({ op: 'open' });
      expect(sa.uids).toEqual([1, 2, 3, 4]);
      const before = sa.highest!;
      expect((await a!.ok({ op: 'expunge', uids: [2] })).removed).toEqual([2]);
      await a!.ok({ op: 'ack' });
      // Hidden from every new state at once, and from status and quota.
      const st = await u.store().status('INBOX');
      expect(st.messages).toBe(3);
      expect(st.highestModseq).toBeGreaterThan(before);
      expect(spoolText(u)).toContain('body of message 2');
      const usage = await u.store().usage();
      expect(usage).toBeLessThan(Buffer.byteLength(spoolText(u)));
      // B was never told: it reads the message as it was, before and after a refresh.
      expect(await b!.read(2)).toBe(crlf(text(2)));
      const sb = await b!.ok({ op: 'refresh' });
      expect(sb.uids).toEqual([1, 3, 4]);
      expect(await b!.read(2)).toBe(crlf(text(2)));
      expect((await b!.cmd({ op: 'since', modseq: before })).uids).toEqual([2]);
      // A write while B still holds its claim keeps the bytes.
      await a!.ok({ op: 'flags', uids: [1], mode: 'add', flags: ['\\Seen'] });
      expect(spoolText(u)).toContain('body of message 2');
      await b!.ok({ op: 'ack' });
      expect((await b!.cmd({ op: 'read', uid: 2 })).err).toBe('NONEXISTENT');
      // Nobody can reference it now: the next write takes it out of the spool.
      await a!.ok({ op: 'flags', uids: [3], mode: 'add', flags: ['\\Seen'] });
      expect(spoolText(u)).not.toContain('body of message 2');
      expect(await u.store().usage()).toBe(Buffer.byteLength(spoolText(u)));
      const again = await b!.ok({ op: 'refresh' });
      expect(again.uids).toEqual([1, 3, 4]);
      for (const uid of [1, 3, 4]) expect(await b!.read(uid)).toBe(crlf(text(uid)));
    });
  });

  it('a POP3-like handle that never acknowledges keeps the bytes until it closes; the last one out purges', async () => {
    const u = seeded(3);
    await withSessions(u, 2, async ([imap, pop]) => {
      await pop!.ok({ op: 'open' });
      await imap!.ok({ op: 'open' });
      await imap!.ok({ op: 'expunge', uids: [1, 3] });
      await imap!.ok({ op: 'ack' });
      await imap!.ok({ op: 'close' });
      // The IMAP session is gone; the POP3 listing still holds 1 and 3.
      expect(spoolText(u)).toContain('body of message 1');
      expect(await pop!.read(1)).toBe(crlf(text(1)));
      expect(await pop!.read(3)).toBe(crlf(text(3)));
      // DELE of a message someone else expunged is harmless.
      expect((await pop!.ok({ op: 'expunge', uids: [3, 2] })).removed).toEqual([2]);
      expect(await pop!.read(3)).toBe(crlf(text(3)));
      await pop!.ok({ op: 'close' });
      const left = spoolText(u);
      expect(left).not.toContain('body of message 1');
      expect(left).not.toContain('body of message 2');
      expect(left).not.toContain('body of message 3');
      const box = await u.store().open('INBOX');
      expect(box.state.messages).toHaveLength(0);
      await box.close();
    });
  });

  it('a handle killed with -9 does not hold back removal', async () => {
    const u = seeded(3);
    await withSessions(u, 2, async ([a, dead]) => {
      await dead!.ok({ op: 'open' });
      await a!.ok({ op: 'open' });
      await a!.ok({ op: 'expunge', uids: [2] });
      await a!.ok({ op: 'ack' });
      await a!.ok({ op: 'flags', uids: [1], mode: 'add', flags: ['\\Flagged'] });
      expect(spoolText(u)).toContain('body of message 2');
      await dead!.kill9();
      await a!.ok({ op: 'flags', uids: [1], mode: 'add', flags: ['\\Seen'] });
      expect(spoolText(u)).not.toContain('body of message 2');
    });
  });

  it('STORE on an expunged message is a silent no-op; UNCHANGEDSINCE reports what changed since', async () => {
    const u = seeded(3);
    await withSessions(u, 2, async ([a, b]) => {
      const sa = await a!.ok({ op: 'open' });
      const sb = await b!.ok({ op: 'open' });
      await a!.ok({ op: 'expunge', uids: [1] });
      const r = await b!.ok({ op: 'flags', uids: [1, 2, 99], mode: 'add', flags: ['\\Seen'] });
      expect(r.modified).toEqual([]);
      expect(r.uids).toEqual([2, 3]);
      const m2 = r.modseqs![0]!;
      expect(m2).toBeGreaterThan(sb.highest!);
      expect(r.highest).toBe(m2);
      // A's view is older than B's change of 2: its conditional STORE on 2 is refused, 3 is changed.
      const c = await a!.ok({ op: 'flags', uids: [2, 3], mode: 'add', flags: ['$Done'], unchangedSince: sa.highest });
      expect(c.modified).toEqual([2]);
      expect(c.modseqs).toEqual([m2, c.highest]);
      // Mod-sequences only grow.
      expect(c.highest).toBeGreaterThan(m2);
    });
  });

  it('a lost index never brings back a pending expunge (it comes back from the change log)', async () => {
    const u = seeded(3);
    await withSessions(u, 2, async ([a, holder]) => {
      await holder!.ok({ op: 'open' });
      await a!.ok({ op: 'open' });
      await a!.ok({ op: 'expunge', uids: [3] });
      await a!.ok({ op: 'ack' });
      unlinkSync(join(u.paths.indexDir, 'INBOX.idx'));
      const box = await u.store().open('INBOX');
      expect(box.state.messages.map((m) => m.uid)).toEqual([1, 2]);
      await box.close();
      // The holder still reads it; once it is gone too, so is the message.
      expect(await holder!.read(3)).toBe(crlf(text(3)));
      await holder!.kill9();
      await a!.ok({ op: 'close' });
      expect(spoolText(u)).not.toContain('body of message 3');
    });
  });

  it('refresh() fails with NONEXISTENT once the folder was deleted, renamed away or replaced', async () => {
    const u = tempUser();
    const s = u.store();
    for (const f of ['Gone', 'Moved', 'Replaced']) {
      await s.create(f);
      await s.append(f, Buffer.from(text(1)));
    }
    await withSessions(u, 3, async ([g, m, r]) => {
      await g!.ok({ op: 'open', name: 'Gone' });
      await m!.ok({ op: 'open', name: 'Moved' });
      await r!.ok({ op: 'open', name: 'Replaced' });
      // Other programs (or another server's DELETE/RENAME) act on the files.
      const dir = u.paths.folders;
      unlinkSync(join(dir, 'Gone'));
      renameSync(join(dir, 'Moved'), join(dir, 'Elsewhere'));
      const p = join(dir, 'Replaced');
      // A copy put in its place (as `mv` of an edited copy would): same bytes, another file.
      writeFileSync(p + '.new', readFileSync(p));
      renameSync(p + '.new', p);
      for (const x of [g, m, r]) expect((await x!.cmd({ op: 'refresh' })).err).toBe('NONEXISTENT');
      // Closing such a handle leaves nothing behind for the old name.
      await g!.ok({ op: 'close' });
      expect(existsSync(join(dir, 'Gone'))).toBe(false);
    });
  });

  it('watch() reports another process\'s expunge (no spool change) and an MDA delivery', async () => {
    const u = seeded(2);
    await withSessions(u, 1, async ([a]) => {
      const box = await u.store().open('INBOX');
      let wake: (() => void) | null = null;
      const stop = box.watch(() => { const w = wake; wake = null; w?.(); });
      try {
        await a!.ok({ op: 'open' });
        await a!.ok({ op: 'flags', uids: [1], mode: 'add', flags: ['\\Deleted'] });
        await box.refresh();
        const size = spoolText(u).length;
        let changed = new Promise<void>((r) => { wake = r; });
        await a!.ok({ op: 'expunge' });
        expect(spoolText(u).length).toBe(size);
        await changed;
        expect((await box.refresh()).messages.map((m) => m.uid)).toEqual([2]);
        changed = new Promise<void>((r) => { wake = r; });
        u.deliver(text(3));
        await changed;
        const st = await box.refresh();
        expect(st.messages.map((m) => m.uid)).toEqual([2, 3]);
        // The delivery was logged as an append when its UID was given.
        const rec = openChangeLog(join(u.paths.indexDir, 'INBOX.modlog'), st.uidValidity).since(0).records;
        expect(rec.some((x) => x.kind === CHANGE_APPEND && x.uids.includes(3) && x.modseq === st.messages[1]!.modseq)).toBe(true);
        expect(st.highestModseq).toBe(st.messages[1]!.modseq);
      } finally {
        stop();
        await box.close();
      }
    });
  });
});

describe('mbox index and change log agree', () => {
  it('an index of the old format (version 1) is rebuilt, never misread', async () => {
    const u = seeded(3);
    try {
      const box = await u.store().open('INBOX');
      await box.setFlags([2], 'add', ['\\Flagged']);
      const highest = box.state.highestModseq;
      await box.close();
      const idx = join(u.paths.indexDir, 'INBOX.idx');
      const b = readFileSync(idx);
      b.writeUInt32LE(1, 4);
      writeFileSync(idx, b);
      const again = await u.store().open('INBOX');
      expect(again.state.messages.map((m) => m.uid)).toEqual([1, 2, 3]);
      expect([...again.state.messages[1]!.flags]).toEqual(['\\Flagged']);
      // Rebuilt: every message gets the log's highest; nothing goes back.
      expect(again.state.highestModseq).toBe(highest);
      for (const m of again.state.messages) expect(m.modseq).toBe(highest);
      expect(readFileSync(idx).readUInt32LE(4)).toBe(2);
      await again.close();
    } finally { u.cleanup(); }
  });

  it('a deleted change log is raised to what the index knows: HIGHESTMODSEQ never goes back', async () => {
    const u = seeded(2);
    try {
      const box = await u.store().open('INBOX');
      for (let i = 0; i < 5; i++) await box.setFlags([1], i % 2 ? 'remove' : 'add', ['\\Seen']);
      const highest = box.state.highestModseq;
      expect(highest).toBeGreaterThanOrEqual(6);
      await box.close();
      unlinkSync(join(u.paths.indexDir, 'INBOX.modlog'));
      const again = await u.store().open('INBOX');
      expect(again.state.highestModseq).toBe(highest);
      const st = await again.setFlags([2], 'add', ['\\Seen']);
      expect(st.highestModseq).toBe(highest + 1);
      expect((await u.store().status('INBOX')).highestModseq).toBe(highest + 1);
      await again.close();
    } finally { u.cleanup(); }
  });
});

describe('what a program reading the spool sees meanwhile', () => {
  it('an expunged, stamped message stays, marked deleted in place (X-Status: D), until the purge', async () => {
    const u = seeded(3);
    try {
      const a = await u.store().open('INBOX');
      const keep = await u.store().open('INBOX');
      await a.setFlags([1, 2, 3], 'add', ['\\Seen']);
      const before = spoolText(u);
      await a.expunge([2]);
      const during = spoolText(u);
      expect(during.length).toBe(before.length);
      const block = (t: string, i: number) => t.split(/\n(?=From )/).find((b) => b.includes(`Subject: msg ${i}`))!;
      expect(block(during, 2)).toMatch(/^X-Status: *D/m);
      expect(block(during, 1)).not.toMatch(/^X-Status: *D/m);
      // Only the mark changed: everything else byte for byte.
      expect(during.replace(/^X-Status:.*$/mg, '')).toBe(before.replace(/^X-Status:.*$/mg, ''));
      await keep.close();
      a.acknowledge(a.state);
      await a.close();
      expect(spoolText(u)).not.toContain('Subject: msg 2');
    } finally { u.cleanup(); }
  });

  it('an expunge of stamped messages without room for the mark writes nothing to the spool (O(expunged))', async () => {
    const u = tempUser();
    try {
      // Written by another program: X-UID and X-IMAPbase, no padding after the status letters.
      const mbox = [1, 2, 3].map((i) => `From a@b Tue Jan 02 03:04:05 2024\n${i === 1 ? 'X-IMAPbase: 1700000000 0000000004\n' : ''}Subject: msg ${i}\nX-UID: ${i}\nStatus: RO\n\nbody ${i}\n\n`).join('');
      writeFileSync(u.paths.inbox, mbox);
      const a = await u.store().open('INBOX');
      const keep = await u.store().open('INBOX');
      expect(a.state.messages.map((m) => m.uid)).toEqual([1, 2, 3]);
      await a.expunge([2]);
      expect(spoolText(u)).toBe(mbox);
      expect((await u.store().status('INBOX')).messages).toBe(2);
      expect((await keep.read(2)).toString('latin1')).toBe('Subject: msg 2\r\n\r\nbody 2\r\n');
      await keep.close();
      a.acknowledge(a.state);
      await a.close();
      expect(spoolText(u)).not.toContain('Subject: msg 2');
      expect(spoolText(u)).toContain('Subject: msg 3');
    } finally { u.cleanup(); }
  });
});
