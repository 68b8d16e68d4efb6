// Issue 14, mbox: STATUS answered from the index without the spool lock when (and only when) the index
// is valid for the spool as it is, and APPEND / MULTIAPPEND / COPY at a constant number of fsyncs per
// call whatever the number of messages, still all or nothing under kill -9 (with an MDA delivering
// after the crash, and the base header raised in place).
import { describe, it, expect, afterEach, beforeAll, afterAll } from 'vitest';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { FLAG_DELETED, FLAG_OLD, FLAG_SEEN } from '../../src/store/mbox/format.js';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tempUser, type TempUser } from './helpers.js';
import { quickStatus } from '../../src/store/mbox/quick-status.js';
import { openChangeLog, CHANGE_FLAGS } from '../../src/store/changelog.js';
import type { MboxStore } from '../../src/store/mbox/store.js';
import type { MboxFile } from '../../src/store/mbox/file.js';
import type { MailboxStatus } from '../../src/store/types.js';
import { buildWorker } from './worker-build.js';
import { ROOT } from '../helpers/site.js';
import { haveProcmail } from '../imap/imap-client.js';
import { BATCH, batchMessage } from './multiappend-kit.js';

const users: TempUser[] = [];
const mk = () => { const u = tempUser(); users.push(u); return u; };
afterEach(() => { for (const u of users.splice(0)) u.cleanup(); });
const msg = (i: number, extra = '') => `Subject: m${i}\r\nMessage-ID: <m${i}@x>\r\n\r\nbody ${i}${extra}\r\n`;
const fileOf = (s: MboxStore, name: string) => (s as unknown as { file(n: string): MboxFile }).file(name);

/** The truth, the locked way: the spool locked, the index brought up to date, counted from it. */
async function truth(s: MboxStore, name: string): Promise<MailboxStatus> {
  const f = fileOf(s, name);
  return f.locked('read', (_fd, d) => {
    const ms = d.messages.filter((m) => !m.expunged);
    return {
      messages: ms.length, recent: ms.filter((m) => !(m.flags & FLAG_OLD)).length, unseen: ms.filter((m) => !(m.flags & FLAG_SEEN)).length, deleted: ms.filter((m) => m.flags & FLAG_DELETED).length,
      uidNext: d.uidNext, uidValidity: d.uidValidity, size: ms.reduce((a, m) => a + m.size, 0),
      highestModseq: Math.max(d.logSeen, f.changeLog(d.uidValidity).highestModseq()),
    };
  });
}

describe('STATUS from the index (mbox)', () => {
  it('answers without the lock exactly what the locked path knows, through appends, flags, claims and deferred expunges', async () => {
    const u = mk();
    const s = u.store();
    await s.create('F');
    await s.appendMany('F', [1, 2, 3].map((i) => ({ message: Buffer.from(msg(i)), flags: i === 1 ? ['\\Seen'] : [] })));
    const f = fileOf(s, 'F');
    let q = quickStatus(f);
    expect(q).not.toBeNull();
    expect(q).toEqual(await truth(s, 'F'));
    expect(q).toMatchObject({ messages: 3, unseen: 2, recent: 3 });
    // A session claims \Recent and changes flags; another keeps an expunged message readable.
    const a = await s.open('F', { claimRecent: true });
    const b = await s.open('F');
    await a.setFlags([a.state.messages[1]!.uid], 'add', ['\\Seen', '\\Deleted']);
    await a.expunge();
    q = quickStatus(fileOf(s, 'F'));
    expect(q).not.toBeNull();
    expect(q).toMatchObject({ messages: 2, unseen: 1, recent: 0 });
    expect(await s.status('F')).toEqual(await truth(s, 'F'));
    expect(q).toEqual(await s.status('F'));
    await a.close();
    await b.close();
    expect(await s.status('F')).toEqual(await truth(s, 'F'));
  });

  it('falls back to the locked path when the spool changed, a journal is left, or the log is ahead', async () => {
    const u = mk();
    const s = u.store();
    await s.append('INBOX', Buffer.from(msg(1)));
    const before = await s.status('INBOX');
    expect(quickStatus(fileOf(s, 'INBOX'))).toEqual(before);
    // An MDA delivers: the stamp no longer matches; the locked path sees the new message at once.
    u.deliver(msg(2));
    expect(quickStatus(fileOf(s, 'INBOX'))).toBeNull();
    const after = await s.status('INBOX');
    expect(after.messages).toBe(2);
    expect(after.uidNext).toBe(before.uidNext + 1);
    expect(after.highestModseq).toBeGreaterThan(before.highestModseq);
    // That STATUS brought the index up to date: unlocked again.
    expect(quickStatus(fileOf(s, 'INBOX'))).toEqual(after);
    // A journal in the index directory (a rewrite in flight or left by a crash).
    const f = fileOf(s, 'INBOX');
    writeFileSync(f.journalPath + '.probe', '');
    expect(quickStatus(f)).not.toBeNull();
    unlinkSync(f.journalPath + '.probe');
    writeFileSync(f.journalPath, '');
    expect(quickStatus(f)).toBeNull();
    unlinkSync(f.journalPath);
    // A change recorded in the log that the index has not taken in (a writer died in between).
    openChangeLog(f.modlogPath, after.uidValidity).add(CHANGE_FLAGS, [1]);
    expect(quickStatus(f)).toBeNull();
    const st = await s.status('INBOX');
    expect(st.highestModseq).toBe(after.highestModseq + 1);
    // An index of another shape (older version, damaged): locked path, same answer.
    writeFileSync(f.indexPath, 'garbage');
    expect(quickStatus(f)).toBeNull();
    expect(await s.status('INBOX')).toMatchObject({ messages: 2, uidNext: after.uidNext, uidValidity: after.uidValidity });
  });

  it.skipIf(!haveProcmail)('a STATUS racing procmail deliveries from other processes never goes back and ends at the truth', async () => {
    const u = mk();
    const s = u.store();
    await s.append('INBOX', Buffer.from(msg(0)));
    const rc = join(u.dir, 'procmailrc');
    writeFileSync(rc, `LOGFILE=/dev/null\nVERBOSE=off\nLOCKTIMEOUT=60\nLOCKSLEEP=1\n:0:\n${u.paths.inbox}\n`);
    const procmail = (i: number) => new Promise<void>((resolve, reject) => {
      const p = spawn('procmail', ['-m', rc], { stdio: ['pipe', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '' } });
      let err = '';
      p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      p.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`procmail exit ${c}: ${err}`))));
      p.stdin.end(`From mda${i}@example.com Tue Jan  2 03:04:05 2024\nSubject: d${i}\nMessage-ID: <d${i}@x>\n\nbody ${i}\n`);
    });
    const N = 6;
    // Four deliveries at a time, from other processes, while this one asks STATUS again and again.
    let next = 1;
    const deliveries = Promise.all([0, 1, 2, 3].map(async () => { for (let i = next++; i <= N; i = next++) await procmail(i); }));
    let finished = false;
    void deliveries.then(() => { finished = true; }, () => { finished = true; });
    let last = 0;
    let lastUidNext = 0;
    let seen = 0;
    while (!finished) {
      const st = await s.status('INBOX');
      expect(st.messages).toBeGreaterThanOrEqual(last);
      expect(st.uidNext).toBeGreaterThanOrEqual(lastUidNext);
      expect(st.uidNext).toBeGreaterThan(st.messages);
      if (st.messages > last) seen++;
      last = st.messages;
      lastUidNext = st.uidNext;
      // The unlocked STATUS does not wait on anything: let the child processes' events in.
      await new Promise((r) => setImmediate(r));
    }
    await deliveries;
    const final = await s.status('INBOX');
    expect(final.messages).toBe(N + 1);
    expect(final).toEqual(await truth(s, 'INBOX'));
    expect(await s.status('INBOX')).toEqual(final);
    expect(quickStatus(fileOf(s, 'INBOX'))).toEqual(final);
  });
});

/** Count fsync and fdatasync calls made through node:fs while `fn` runs. */
async function countSyncs(fn: () => Promise<unknown>): Promise<number> {
  // The CommonJS face of node:fs is writable; syncBuiltinESMExports() carries it to every ESM import.
  const mod = createRequire(import.meta.url)('node:fs') as typeof import('node:fs') & Record<string, unknown>;
  const orig = { fsyncSync: mod.fsyncSync, fdatasyncSync: mod.fdatasyncSync };
  let n = 0;
  mod.fsyncSync = (fd: number) => { n++; orig.fsyncSync(fd); };
  mod.fdatasyncSync = (fd: number) => { n++; orig.fdatasyncSync(fd); };
  syncBuiltinESMExports();
  try { await fn(); } finally {
    mod.fsyncSync = orig.fsyncSync;
    mod.fdatasyncSync = orig.fdatasyncSync;
    syncBuiltinESMExports();
  }
  return n;
}

describe('APPEND at a constant number of fsyncs (mbox)', () => {
  it('one message, 100 messages and a COPY of 100 each cost the same few fsyncs, and keep the base header ahead', async () => {
    const u = mk();
    const s = u.store();
    await s.create('F');
    await s.create('G');
    await s.append('F', Buffer.from(msg(0)));
    await s.append('G', Buffer.from(msg(0)));
    const one = await countSyncs(() => s.append('F', Buffer.from(msg(1))));
    const many = await countSyncs(() => s.appendMany('F', Array.from({ length: 100 }, (_, i) => ({ message: Buffer.from(msg(100 + i, 'x'.repeat(2000))) }))));
    const box = await s.open('F');
    const copy = await countSyncs(() => s.copy(box, box.state.messages.map((m) => m.uid), 'G'));
    await box.close();
    // Change log record, journal, its directory entry, the spool: four, not four per message.
    expect(one).toBeLessThanOrEqual(4);
    expect(many).toBe(one);
    expect(copy).toBe(one);
    const st = await s.status('F');
    expect(st.messages).toBe(102);
    // The spool's X-IMAPbase says at least the last UID given (UW c-client's rule), X-UIDs ascend.
    const raw = readFileSync(join(u.paths.folders, 'F'), 'latin1');
    const base = /^X-IMAPbase: (\d+) (\d+)/m.exec(raw)!;
    expect(Number(base[1])).toBe(st.uidValidity);
    const xuids = [...raw.matchAll(/^X-UID: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(xuids.length).toBeGreaterThanOrEqual(101);
    expect(Number(base[2])).toBeGreaterThanOrEqual(Math.max(...xuids));
    for (let i = 1; i < xuids.length; i++) expect(xuids[i]).toBeGreaterThan(xuids[i - 1]!);
    expect((await s.status('G')).messages).toBe(103);
  });
});

describe('a pure append killed at each step, then an MDA delivery (mbox)', () => {
  let work = '';
  let worker = '';
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'store-append-fast-'));
    worker = await buildWorker('multiappend-worker', work);
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const run = (spool: string, killpoint: string) => new Promise<{ signal: string | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [worker, 'mbox', spool, 'once', 'k'], {
      env: { PATH: process.env.PATH ?? '', NODE_PATH: join(ROOT, 'node_modules'), DMAIL_STORE_KILLPOINT: killpoint }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (_c, signal) => { clearTimeout(guard); resolve({ signal, stderr }); });
  });

  // Each with a late message smaller and one larger than the batch (~1.2 MB): the replay must tell the
  // MDA's bytes at the old end from our extended file either way.
  const cases: [string, boolean][] = [];
  for (const point of ['base-raised', 'journal-committed', 'extended', 'mid-write', 'written']) for (const big of [false, true]) cases.push([point, big]);

  it('leaves the batch whole or absent, the MDA mail and the old mail intact, the base ahead', async () => {
    const one = async ([point, big]: [string, boolean]) => {
      const u = mk();
      const s = u.store();
      // Mail from before, stamped by us (X-IMAPbase + X-UIDs), so the append raises the base header.
      await s.appendMany('INBOX', [{ message: Buffer.from(msg(1)) }, { message: Buffer.from(msg(2)) }]);
      const r = await run(u.spool, point);
      expect(r.stderr).toBe('');
      expect(r.signal, `killpoint ${point} not reached`).toBe('SIGKILL');
      if (existsSync(u.paths.inbox + '.lock')) unlinkSync(u.paths.inbox + '.lock');
      const lateBody = big ? `${'z'.repeat(70)}\n`.repeat(20000) : 'late mail\n';
      const late = `Subject: late\nMessage-ID: <late@x>\n\n${lateBody}`;
      const sep = readFileSync(u.paths.inbox).subarray(-2).toString() === '\n\n' ? '' : '\n';
      appendFileSync(u.paths.inbox, `${sep}From mda@example.com Tue Jan 02 03:04:05 2024\n${late}\n`);
      const box = await u.store().open('INBOX');
      const texts = await Promise.all(box.state.messages.map(async (m) => (await box.read(m.uid)).toString('latin1')));
      const uids = box.state.messages.map((m) => m.uid);
      await box.close();
      const batch = texts.filter((t) => t.startsWith('Subject: batch '));
      const committed = point !== 'base-raised';
      expect(batch, `${point} big=${big}`).toEqual(committed ? Array.from({ length: BATCH }, (_, i) => batchMessage('k-0', i)) : []);
      expect(texts.filter((t) => t === msg(1) || t === msg(2))).toHaveLength(2);
      expect(texts.filter((t) => t === late.replace(/\n/g, '\r\n'))).toHaveLength(1);
      expect(texts).toHaveLength(3 + (committed ? BATCH : 0));
      for (let i = 1; i < uids.length; i++) expect(uids[i]).toBeGreaterThan(uids[i - 1]!);
      // The store goes on: the next append lands whole, after everything, below the base header.
      const next = await u.store().appendMany('INBOX', [{ message: Buffer.from(msg(3)) }, { message: Buffer.from(msg(4)) }]);
      expect(next.uids[0]).toBeGreaterThan(uids[uids.length - 1]!);
      expect(next.uids[1]).toBe(next.uids[0]! + 1);
      const raw = readFileSync(u.paths.inbox, 'latin1');
      const base = Number(/^X-IMAPbase: \d+ (\d+)/m.exec(raw)![1]);
      expect(base).toBeGreaterThanOrEqual(Math.max(...[...raw.matchAll(/^X-UID: (\d+)$/gm)].map((m) => Number(m[1]))));
    };
    const todo = [...cases];
    await Promise.all([0, 1, 2].map(async () => { for (let c = todo.shift(); c; c = todo.shift()) await one(c); }));
  }, 120_000);
});
