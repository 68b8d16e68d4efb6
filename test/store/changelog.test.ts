// The per-mailbox change log (src/store/changelog.ts): torn records, compaction, UIDVALIDITY changes,
// and kill -9 of a real child process while it appends and compacts.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, appendFileSync, statSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/site.js';
import { buildWorker } from './worker-build.js';
import {
  openChangeLog, CHANGE_APPEND, CHANGE_FLAGS, CHANGE_EXPUNGE, CHANGE_PURGE,
} from '../../src/store/changelog.js';

let dir: string;
let worker: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'store-modlog-'));
  worker = await buildWorker('modlog-worker', dir);
});
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

let n = 0;
const fresh = () => join(dir, `t${++n}.modlog`);

describe('change log', () => {
  it('numbers changes from 1 on, reads them back, and answers since()', () => {
    const p = fresh();
    const log = openChangeLog(p, 77);
    expect(log.highestModseq()).toBe(1);
    expect(log.add(CHANGE_APPEND, [3, 1, 2, 2, 10])).toBe(2);
    expect(log.add(CHANGE_FLAGS, [2])).toBe(3);
    expect(log.add(CHANGE_EXPUNGE, [1, 10])).toBe(4);
    const other = openChangeLog(p, 77);
    expect(other.highestModseq()).toBe(4);
    expect(other.since(2)).toEqual({ complete: true, records: [
      { modseq: 3, kind: CHANGE_FLAGS, uids: [2] }, { modseq: 4, kind: CHANGE_EXPUNGE, uids: [1, 10] },
    ] });
    expect(other.since(0).records[0]).toEqual({ modseq: 2, kind: CHANGE_APPEND, uids: [1, 2, 3, 10] });
    expect(other.pendingExpunges()).toEqual([{ modseq: 4, uids: [1, 10] }]);
    // A record added by the other handle is seen by the first one (incremental read).
    expect(other.add(CHANGE_PURGE, [1])).toBe(5);
    expect(log.highestModseq()).toBe(5);
    expect(log.pendingExpunges()).toEqual([{ modseq: 4, uids: [10] }]);
    expect(log.add(CHANGE_FLAGS, [3])).toBe(6);
    expect(other.since(5).records.map((r) => r.modseq)).toEqual([6]);
  });

  it('records ascending UIDs as given and anything else cleaned (invalid dropped, sorted, unique)', () => {
    const p = fresh();
    const log = openChangeLog(p, 5);
    const many = Array.from({ length: 20_000 }, (_x, i) => i + 1).filter((u) => u % 1000 !== 7);
    log.add(CHANGE_FLAGS, many);
    log.add(CHANGE_FLAGS, [0, 4, 9, 9, 2.5, -1, 2 ** 32, 3]);
    log.add(CHANGE_FLAGS, [1, 2, 2, 3]);
    const reader = openChangeLog(p, 5, undefined, { readOnly: true });
    for (const l of [log, reader]) {
      const r = l.since(1).records.map((x) => x.uids);
      expect(r[0]).toEqual(many);
      expect(r.slice(1)).toEqual([[3, 4, 9], [1, 2, 3]]);
    }
  });

  it('ignores a torn record at the end, and the next writer cuts it off', () => {
    const p = fresh();
    const log = openChangeLog(p, 5);
    for (let i = 1; i <= 3; i++) log.add(CHANGE_APPEND, [i]);
    const good = statSync(p).size;
    const whole = readFileSync(p);
    // A kill in the middle of a write: the first bytes of a record (a plausible length, no more).
    appendFileSync(p, whole.subarray(20, 31));
    expect(openChangeLog(p, 5).highestModseq()).toBe(4);
    expect(openChangeLog(p, 5).since(0).records).toHaveLength(3);
    // A whole record with a wrong checksum is no better.
    const bad = Buffer.from(whole.subarray(good - 29, good));
    bad[20] ^= 0xff;
    appendFileSync(p, bad);
    const reader = openChangeLog(p, 5, undefined, { readOnly: true });
    expect(reader.highestModseq()).toBe(4);
    const w = openChangeLog(p, 5);
    expect(w.add(CHANGE_FLAGS, [2])).toBe(5);
    expect(statSync(p).size).toBe(good + 29);
    expect(openChangeLog(p, 5).since(4).records).toEqual([{ modseq: 5, kind: CHANGE_FLAGS, uids: [2] }]);
    // A reader that had seen the torn bytes reads on correctly.
    expect(reader.since(4).records.map((r) => r.modseq)).toEqual([5]);
  });

  it('a reader is not fooled by another log at the same inode number (same header, longer)', () => {
    const p = fresh();
    const q = fresh();
    const a = openChangeLog(p, 3);
    a.add(CHANGE_APPEND, [1]);
    a.add(CHANGE_FLAGS, [1]);
    const reader = openChangeLog(p, 3, undefined, { readOnly: true });
    expect(reader.since(0).records.map((r) => r.uids[0])).toEqual([1, 1]);
    // Another log, same UIDVALIDITY and base, written over the same file (as a reused inode would be).
    const b = openChangeLog(q, 3);
    b.add(CHANGE_APPEND, [7]);
    b.add(CHANGE_FLAGS, [8]);
    b.add(CHANGE_EXPUNGE, [9]);
    writeFileSync(p, readFileSync(q));
    expect(reader.since(0).records).toEqual(openChangeLog(q, 3).since(0).records);
    expect(reader.pendingExpunges()).toEqual([{ modseq: 4, uids: [9] }]);
  });

  it('compaction keeps every expunge whose purge is not recorded, and raises the base', () => {
    const p = fresh();
    const log = openChangeLog(p, 9, undefined, { maxRecords: 4 });
    log.add(CHANGE_APPEND, [1, 2, 3, 4, 5, 6]);          // 2
    const e1 = log.add(CHANGE_EXPUNGE, [1, 2]);          // 3: 1 purged later, 2 stays pending
    const e2 = log.add(CHANGE_EXPUNGE, [3]);             // 4: purged entirely
    log.add(CHANGE_PURGE, [1, 3]);                       // 5
    for (let i = 0; i < 6; i++) log.add(CHANGE_FLAGS, [4]); // 6..11
    expect(e1).toBe(3);
    expect(e2).toBe(4);
    const before = log.highestModseq();
    log.compact();
    const again = openChangeLog(p, 9);
    expect(again.highestModseq()).toBe(before);
    expect(again.pendingExpunges()).toEqual([{ modseq: 3, uids: [2] }]);
    expect(again.baseModseq()).toBe(7);
    const all = again.since(0);
    expect(all.complete).toBe(false);
    expect(all.records.map((r) => r.modseq)).toEqual([3, 8, 9, 10, 11]);
    expect(again.since(7)).toMatchObject({ complete: true });
    expect(again.since(6).complete).toBe(false);
    // The purge of the kept expunge later lets a compaction drop it.
    const small = openChangeLog(p, 9, undefined, { maxRecords: 4 });
    small.add(CHANGE_PURGE, [2]);
    small.compact();
    expect(openChangeLog(p, 9).pendingExpunges()).toEqual([]);
    expect(openChangeLog(p, 9).since(0).records.every((r) => r.kind !== CHANGE_EXPUNGE)).toBe(true);
  });

  it('add() compacts by itself, so the log stays bounded', () => {
    const p = fresh();
    const log = openChangeLog(p, 9, undefined, { maxRecords: 10 });
    log.add(CHANGE_EXPUNGE, [100]);
    for (let i = 0; i < 200; i++) log.add(CHANGE_FLAGS, [i + 1]);
    expect(log.highestModseq()).toBe(202);
    const recs = openChangeLog(p, 9).since(0).records;
    expect(recs.length).toBeLessThan(21);
    expect(recs[0]).toEqual({ modseq: 2, kind: CHANGE_EXPUNGE, uids: [100] });
    expect(statSync(p).size).toBeLessThan(20 + 21 * 40);
    // No temporary files left behind.
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a new UIDVALIDITY starts the log afresh without ever lowering HIGHESTMODSEQ', () => {
    const p = fresh();
    const log = openChangeLog(p, 100);
    for (let i = 0; i < 9; i++) log.add(CHANGE_APPEND, [i + 1]);
    log.add(CHANGE_EXPUNGE, [1]);
    expect(log.highestModseq()).toBe(11);
    // A reader that finds the old log (mailbox recreated, log not yet rewritten) already says more.
    expect(openChangeLog(p, 200, undefined, { readOnly: true }).highestModseq()).toBe(12);
    const next = openChangeLog(p, 200);
    expect(next.highestModseq()).toBe(12);
    expect(next.pendingExpunges()).toEqual([]);
    expect(next.add(CHANGE_APPEND, [1])).toBe(13);
    expect(next.since(12)).toEqual({ complete: true, records: [{ modseq: 13, kind: CHANGE_APPEND, uids: [1] }] });
    expect(next.since(5).complete).toBe(false);
    // Back to the first value (a stale session): still higher, never equal or lower.
    const back = openChangeLog(p, 100);
    expect(back.add(CHANGE_FLAGS, [1])).toBe(15);
    expect(openChangeLog(p, 200).highestModseq()).toBe(16);
  });
});

interface Line { modseq: number; kind: number; uid: number }

function runWorker(p: string, start: number, opts: { killAfter?: number; point?: string; count?: number }): Promise<{ lines: Line[]; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', NODE_PATH: join(ROOT, 'node_modules') };
    if (opts.point) env.DMAIL_STORE_KILLPOINT = opts.point;
    if (opts.count) env.MODLOG_COUNT = String(opts.count);
    const child = spawn(process.execPath, [worker, p, '42', String(start), '8'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Line[] = [];
    let buf = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const l = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (l === 'ready') continue;
        const [modseq, kind, uid] = l.split(' ').map(Number) as [number, number, number];
        lines.push({ modseq, kind, uid });
        if (opts.killAfter !== undefined && lines.length === opts.killAfter) child.kill('SIGKILL');
      }
    });
    child.on('exit', (_c, signal) => resolve({ lines, signal, stderr }));
  });
}

describe('kill -9 of a process writing the change log', () => {
  it('loses nothing committed and resurrects nothing, at named points and at arbitrary moments', async () => {
    const p = fresh();
    const committed: Line[] = [];
    let next = 0;
    let seed = 4242;
    const rand = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
    const rounds: { point?: string; killAfter?: number }[] = [];
    /** Newest step seen per UID, over all rounds (a compaction later drops records seen here). */
    const last = new Map<number, number>();
    // Named points fire at the first record (or the first compaction) of a round.
    for (const point of ['modlog-before-write', 'modlog-written', 'modlog-synced', 'modlog-new-written', 'modlog-renamed']) rounds.push({ point });
    for (let i = 0; i < 14; i++) rounds.push({ killAfter: 1 + Math.floor(rand() * 40) });
    for (const r of rounds) {
      const out = await runWorker(p, next, r);
      expect(out.signal, out.stderr).toBe('SIGKILL');
      committed.push(...out.lines);
      const log = openChangeLog(p, 42, undefined, { readOnly: true });
      const highest = log.highestModseq();
      const { records } = log.since(0);
      const byModseq = new Map(records.map((x) => [x.modseq, x]));
      for (const c of committed) {
        expect(highest).toBeGreaterThanOrEqual(c.modseq);
        if (c.modseq > log.baseModseq()) expect(byModseq.get(c.modseq), `modseq ${c.modseq} lost`).toEqual({ modseq: c.modseq, kind: c.kind, uids: [c.uid] });
      }
      // Where each UID's cycle is (append, expunge, flags, purge): the newest step the worker reported
      // or the log holds (a record written but not yet reported counts too).
      const step = (kind: number, uid: number) => (uid - 1) * 4 + [CHANGE_APPEND, CHANGE_EXPUNGE, CHANGE_FLAGS, CHANGE_PURGE].indexOf(kind as 1);
      for (const c of [...committed, ...records.map((x) => ({ kind: x.kind, uid: x.uids[0]! }))]) {
        last.set(c.uid, Math.max(last.get(c.uid) ?? -1, step(c.kind, c.uid)));
      }
      // Expunged and not purged: still pending, whatever compaction did. Purged: never pending again.
      const pending = new Set(log.pendingExpunges().flatMap((x) => x.uids));
      for (const [uid, s] of last) {
        const phase = s % 4;
        if (phase === 1 || phase === 2) expect(pending.has(uid), `uid ${uid} expunge forgotten`).toBe(true);
        else expect(pending.has(uid), `uid ${uid} pending after ${phase === 3 ? 'its purge' : 'its append'}`).toBe(false);
      }
      next = last.size ? Math.max(...last.values()) + 1 : 0;
    }
    expect(committed.length).toBeGreaterThan(100);
    // Finally a clean run: the log is whole and writable after all those kills.
    const out = await runWorker(p, next, { count: 3 });
    expect(out.signal).toBeNull();
    expect(out.lines).toHaveLength(3);
    const final = openChangeLog(p, 42).since(0).records;
    for (let i = 1; i < final.length; i++) expect(final[i]!.modseq).toBeGreaterThan(final[i - 1]!.modseq);
  });
});
