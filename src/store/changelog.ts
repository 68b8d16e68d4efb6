// Per-mailbox change log (issue 11, backend-neutral): every append, flag change, expunge and purge of a
// mailbox gets a mod-sequence here (RFC 7162), so HIGHESTMODSEQ, QRESYNC's VANISHED (EARLIER) and
// deferred removal all come from one record. Written only by a holder of the mailbox write lock (mbox:
// the spool lock; maildir: the uidlist dot-lock); anyone may read it.
//
// Binary, append-only, in the index directory:
//   header  "DMLG" | u32 version | u32 uidValidity | f64 baseModseq                       (20 bytes)
//   record  u32 length | u32 crc32(payload) | payload = f64 modseq | u8 kind | u32 count | count x (u32 lo, u32 hi)
// `length` is the payload's. Modseqs strictly increase from record to record. One write() plus
// fdatasync per record before the change is reported done; a torn or damaged record at the end (a kill
// mid-write) is ignored by readers and cut off by the next writer. The header is never rewritten in
// place: a new log (first use, compaction, new UIDVALIDITY) is written to a temporary file and renamed
// over the old one.
//
// baseModseq is the highest mod-sequence whose record is no longer in the file (or, for a new log, the
// mod-sequence of the mailbox as it was found): since(m) is complete only for m >= baseModseq.
// Compaction keeps the newest records and every expunge whose purge is not recorded (trimmed to the
// UIDs still pending), so an index rebuilt from the spool never shows a pending expunge again.

import {
  openSync, closeSync, fstatSync, readSync, writeSync, fdatasyncSync, fsyncSync, ftruncateSync, renameSync,
  unlinkSync, mkdirSync, constants,
} from 'node:fs';
import { crc32 } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { dirname, basename, join } from 'node:path';
import type { Logger } from '../log/types.js';
import { killPoint } from './killpoint.js';

export const CHANGE_APPEND = 1;
export const CHANGE_FLAGS = 2;
export const CHANGE_EXPUNGE = 3;
export const CHANGE_PURGE = 4;
export type ChangeKind = typeof CHANGE_APPEND | typeof CHANGE_FLAGS | typeof CHANGE_EXPUNGE | typeof CHANGE_PURGE;

export interface ChangeRecord {
  readonly modseq: number;
  readonly kind: ChangeKind;
  /** Ascending, without duplicates. */
  readonly uids: readonly number[];
}

export interface ChangeLog {
  readonly path: string;
  readonly uidValidity: number;
  /** HIGHESTMODSEQ: the newest record's mod-sequence, or baseModseq when there is none (always >= 1). */
  highestModseq(): number;
  /** Mod-sequence before the oldest record that may be missing (records above it are all present). */
  baseModseq(): number;
  /** Record a change durably (write + fdatasync) and return its new mod-sequence. Caller holds the
   *  mailbox write lock. Compacts now and then (amortised). */
  add(kind: ChangeKind, uids: readonly number[]): number;
  /** Records with modseq > `modseq`, oldest first. `complete` is false when records after `modseq`
   *  were compacted away (then `records` is what is left). */
  since(modseq: number): { records: ChangeRecord[]; complete: boolean };
  /** Expunges whose purge is not recorded yet, oldest first, each with its still-pending UIDs. */
  pendingExpunges(): { modseq: number; uids: number[] }[];
  /** Keep at most `maxRecords` newest records plus every pending expunge; raise baseModseq. */
  compact(): void;
  /** Make highestModseq() at least `modseq`, keeping every record (a backend's index knows a higher
   *  mod-sequence than the log: the log was deleted or damaged). Writer only. */
  raiseTo(modseq: number): void;
}

export interface ChangeLogOptions {
  /** Never create, truncate or rewrite (a reader without the write lock). A log for another
   *  uidValidity then reads as the fresh log a writer would start. */
  readOnly?: boolean;
  /** Records compaction keeps (default 4096); add() compacts once there are twice as many. */
  maxRecords?: number;
  /** Called after each record is durable (the in-process mailbox bus, store/bus.ts). */
  onAdd?: () => void;
}

const MAGIC = 0x474c4d44; // "DMLG" little-endian
const VERSION = 1;
const HEADER = 20;
const REC_HEAD = 8;
const PAYLOAD_FIXED = 13;
const DEFAULT_MAX = 4096;

interface Loaded {
  ino: bigint;
  uidValidity: number;
  base: number;
  records: ChangeRecord[];
  /** End of the last good record. */
  validEnd: number;
  /** The bytes just before validEnd: a file replaced by another at the same inode number (a second
   *  compaction can reuse the first one's) is told apart by them. */
  tail: Buffer;
}

const TAIL = 16;

const validUid = (u: number): boolean => Number.isInteger(u) && u > 0 && u <= 0xffffffff;

/** The UIDs a record can hold: valid, unique, ascending. The usual input (a STORE or EXPUNGE over the
 *  store's UID-ordered messages) already is: one pass and a copy, no Set or sort of 100k numbers. */
function normalUids(uids: readonly number[]): number[] {
  let ok = true;
  for (let i = 0; i < uids.length; i++) {
    const u = uids[i]!;
    if (!validUid(u) || (i > 0 && u <= uids[i - 1]!)) { ok = false; break; }
  }
  if (ok) return uids.slice();
  return [...new Set(uids)].filter(validUid).sort((a, b) => a - b);
}

/** Ascending unique UIDs (normalUids' output) as [lo, hi] ranges. */
function toRanges(s: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length;) {
    const lo = s[i]!;
    let hi = lo;
    while (i + 1 < s.length && s[i + 1] === hi + 1) { hi++; i++; }
    i++;
    out.push(lo, hi);
  }
  return out;
}

/** `uids`: ascending, unique, valid (normalUids' output, or a record's). */
function encodeRecord(modseq: number, kind: ChangeKind, uids: readonly number[]): Buffer {
  const ranges = toRanges(uids);
  const count = ranges.length / 2;
  const len = PAYLOAD_FIXED + count * 8;
  const b = Buffer.alloc(REC_HEAD + len);
  b.writeUInt32LE(len, 0);
  b.writeDoubleLE(modseq, 8);
  b.writeUInt8(kind, 16);
  b.writeUInt32LE(count, 17);
  for (let i = 0; i < ranges.length; i++) b.writeUInt32LE(ranges[i]!, 21 + i * 4);
  b.writeUInt32LE(crc32(b.subarray(REC_HEAD)), 4);
  return b;
}

function encodeHeader(uidValidity: number, base: number): Buffer {
  const b = Buffer.alloc(HEADER);
  b.writeUInt32LE(MAGIC, 0);
  b.writeUInt32LE(VERSION, 4);
  b.writeUInt32LE(uidValidity >>> 0, 8);
  b.writeDoubleLE(base, 12);
  return b;
}

function readAll(fd: number, from: number, to: number): Buffer {
  const b = Buffer.allocUnsafe(Math.max(0, to - from));
  let got = 0;
  while (got < b.length) {
    const n = readSync(fd, b, got, b.length - got, from + got);
    if (n <= 0) break;
    got += n;
  }
  return b.subarray(0, got);
}

/** Parse records from `buf` (file bytes starting at `at`), after `prev` (the last good modseq). */
function parseRecords(buf: Buffer, at: number, prev: number, out: ChangeRecord[]): number {
  let p = 0;
  let last = prev;
  while (p + REC_HEAD <= buf.length) {
    const len = buf.readUInt32LE(p);
    if (len < PAYLOAD_FIXED || (len - PAYLOAD_FIXED) % 8 !== 0 || p + REC_HEAD + len > buf.length) break;
    const payload = buf.subarray(p + REC_HEAD, p + REC_HEAD + len);
    if (crc32(payload) !== buf.readUInt32LE(p + 4)) break;
    const modseq = payload.readDoubleLE(0);
    const kind = payload.readUInt8(8);
    const count = payload.readUInt32LE(9);
    if (!Number.isSafeInteger(modseq) || modseq <= last || kind < 1 || kind > 4 || count * 8 !== len - PAYLOAD_FIXED) break;
    const uids: number[] = [];
    for (let i = 0; i < count; i++) {
      const lo = payload.readUInt32LE(PAYLOAD_FIXED + i * 8);
      const hi = payload.readUInt32LE(PAYLOAD_FIXED + i * 8 + 4);
      for (let u = lo; u <= hi; u++) uids.push(u);
    }
    out.push({ modseq, kind: kind as ChangeKind, uids });
    last = modseq;
    p += REC_HEAD + len;
  }
  return at + p;
}

function fsyncDir(dir: string): void {
  let fd = -1;
  try { fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY); fsyncSync(fd); } catch { /* best effort */ } finally { if (fd >= 0) closeSync(fd); }
}

function writeFull(fd: number, b: Buffer, pos: number): void {
  let done = 0;
  while (done < b.length) done += writeSync(fd, b, done, b.length - done, pos + done);
}

class ChangeLogFile implements ChangeLog {
  private cur: Loaded | null = null;
  private readonly readOnly: boolean;
  private readonly maxRecords: number;
  private readonly onAdd: (() => void) | undefined;

  constructor(readonly path: string, readonly uidValidity: number, private readonly log: Logger | undefined, opts: ChangeLogOptions) {
    this.readOnly = opts.readOnly ?? false;
    this.maxRecords = Math.max(1, opts.maxRecords ?? DEFAULT_MAX);
    this.onAdd = opts.onAdd;
  }

  /** Bring the in-memory copy up to date with the file (reads only what was appended since). Null: no
   *  usable log (missing, or not a log). */
  private load(): Loaded | null {
    let fd: number;
    try { fd = openSync(this.path, constants.O_RDONLY | constants.O_NOFOLLOW); } catch { this.cur = null; return null; }
    try {
      const st = fstatSync(fd, { bigint: true });
      const size = Number(st.size);
      const c = this.cur;
      // No copy in memory yet (a reader's first look, as STATUS takes for each folder of LIST-STATUS):
      // the whole file in one read rather than three (head, records, tail).
      const all = c ? null : readAll(fd, 0, size);
      const head = all ? all.subarray(0, HEADER) : readAll(fd, 0, HEADER);
      if (head.length < HEADER || head.readUInt32LE(0) !== MAGIC || head.readUInt32LE(4) !== VERSION) {
        this.cur = null;
        return null;
      }
      const uidValidity = head.readUInt32LE(8);
      const base = head.readDoubleLE(12);
      if (c && c.ino === st.ino && c.uidValidity === uidValidity && c.base === base && size >= c.validEnd &&
          readAll(fd, c.validEnd - c.tail.length, c.validEnd).equals(c.tail)) {
        if (size > c.validEnd) {
          const prev = c.records.length ? c.records[c.records.length - 1]!.modseq : 0;
          c.validEnd = parseRecords(readAll(fd, c.validEnd, size), c.validEnd, prev, c.records);
          c.tail = readAll(fd, Math.max(HEADER, c.validEnd - TAIL), c.validEnd);
        }
        return c;
      }
      const records: ChangeRecord[] = [];
      const validEnd = parseRecords(all ? all.subarray(HEADER) : readAll(fd, HEADER, size), HEADER, 0, records);
      const tail = all ? Buffer.from(all.subarray(Math.max(HEADER, validEnd - TAIL), validEnd)) : readAll(fd, Math.max(HEADER, validEnd - TAIL), validEnd);
      this.cur = { ino: st.ino, uidValidity, base, records, validEnd, tail };
      return this.cur;
    } finally { closeSync(fd); }
  }

  private static highestOf(l: Loaded): number {
    const last = l.records.length ? l.records[l.records.length - 1]!.modseq : 0;
    return Math.max(l.base, last, 1);
  }

  /** The log as it applies to our uidValidity (a log of another one reads as a fresh start). */
  private view(): { base: number; records: ChangeRecord[]; fresh: boolean } {
    const l = this.load();
    if (!l) return { base: 1, records: [], fresh: true };
    if (l.uidValidity !== (this.uidValidity >>> 0)) return { base: ChangeLogFile.highestOf(l) + 1, records: [], fresh: true };
    return { base: l.base, records: l.records, fresh: false };
  }

  highestModseq(): number {
    const v = this.view();
    const last = v.records.length ? v.records[v.records.length - 1]!.modseq : 0;
    return Math.max(v.base, last, 1);
  }

  baseModseq(): number {
    return this.view().base;
  }

  since(modseq: number): { records: ChangeRecord[]; complete: boolean } {
    const v = this.view();
    return { records: v.records.filter((r) => r.modseq > modseq), complete: modseq >= v.base };
  }

  private pendingMemo: { records: ChangeRecord[]; count: number; value: { modseq: number; uids: number[] }[] } | null = null;

  pendingExpunges(): { modseq: number; uids: number[] }[] {
    // Asked after every write (deferred removal): recomputed only when the records changed.
    const records = this.view().records;
    const m = this.pendingMemo;
    if (m && m.records === records && m.count === records.length) return m.value.map((p) => ({ modseq: p.modseq, uids: p.uids.slice() }));
    const value = pendingOf(records);
    this.pendingMemo = { records, count: records.length, value };
    return value.map((p) => ({ modseq: p.modseq, uids: p.uids.slice() }));
  }

  /** Writer: a log for our uidValidity exists (created or started afresh). */
  private writable(): Loaded {
    if (this.readOnly) throw new Error('change log opened read-only');
    let l = this.load();
    if (!l || l.uidValidity !== (this.uidValidity >>> 0)) {
      const base = l ? ChangeLogFile.highestOf(l) + 1 : 1;
      if (l) this.log?.info({ log: this.path, base }, 'mailbox has a new UIDVALIDITY: change log started afresh');
      this.rewrite(base, []);
      l = this.load();
      if (!l) throw new Error(`change log ${this.path} unreadable after writing it`);
    }
    return l;
  }

  add(kind: ChangeKind, uids: readonly number[]): number {
    if (this.readOnly) throw new Error('change log opened read-only');
    const norm = normalUids(uids);
    const found = this.load();
    if (!found || found.uidValidity !== (this.uidValidity >>> 0)) {
      // No log for our UIDVALIDITY yet (a new mailbox's first change): the new file is written with
      // its first record in it, one fsync and rename instead of a header first and then the record.
      const modseq = (found ? ChangeLogFile.highestOf(found) + 1 : 1) + 1;
      if (found) this.log?.info({ log: this.path, base: modseq - 1 }, 'mailbox has a new UIDVALIDITY: change log started afresh');
      killPoint('modlog-before-write');
      this.rewrite(modseq - 1, [{ modseq, kind, uids: norm }]);
      // The record is in the file and durable now: what those two steps of the append below mean.
      killPoint('modlog-written');
      killPoint('modlog-synced');
      if (this.load()?.records.length !== 1) throw new Error(`change log ${this.path} unreadable after writing it`);
      this.onAdd?.();
      return modseq;
    }
    const l = this.writable();
    const modseq = ChangeLogFile.highestOf(l) + 1;
    const rec = encodeRecord(modseq, kind, norm);
    const fd = openSync(this.path, constants.O_RDWR | constants.O_NOFOLLOW);
    try {
      // A torn record from a killed writer goes first, so ours follows the last good one.
      if (fstatSync(fd).size > l.validEnd) ftruncateSync(fd, l.validEnd);
      killPoint('modlog-before-write');
      writeFull(fd, rec, l.validEnd);
      killPoint('modlog-written');
      fdatasyncSync(fd);
      killPoint('modlog-synced');
    } finally { closeSync(fd); }
    l.records.push({ modseq, kind, uids: norm });
    l.validEnd += rec.length;
    l.tail = Buffer.from(rec.subarray(Math.max(0, rec.length - TAIL)));
    this.onAdd?.();
    if (l.records.length >= 2 * this.maxRecords) this.compact();
    return modseq;
  }

  compact(): void {
    const l = this.writable();
    if (l.records.length <= this.maxRecords) return;
    const cut = l.records.length - this.maxRecords;
    const pending = new Map<number, number>();
    for (const p of pendingOf(l.records)) for (const u of p.uids) pending.set(u, p.modseq);
    const kept: ChangeRecord[] = [];
    let base = l.base;
    for (let i = 0; i < cut; i++) {
      const r = l.records[i]!;
      if (r.kind === CHANGE_EXPUNGE) {
        const still = r.uids.filter((u) => pending.get(u) === r.modseq);
        if (still.length) kept.push({ modseq: r.modseq, kind: r.kind, uids: still });
        if (still.length === r.uids.length) continue;
      }
      base = Math.max(base, r.modseq);
    }
    this.rewrite(base, [...kept, ...l.records.slice(cut)]);
  }

  raiseTo(modseq: number): void {
    const l = this.writable();
    if (ChangeLogFile.highestOf(l) >= modseq) return;
    this.rewrite(modseq, l.records);
  }

  /** Replace the log with a new one (temporary file, fsync, rename: a kill leaves the old or the new). */
  private rewrite(base: number, records: readonly ChangeRecord[]): void {
    const dir = dirname(this.path);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = join(dir, `.${basename(this.path)}.${randomBytes(8).toString('hex')}.tmp`);
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      const parts = [encodeHeader(this.uidValidity, base), ...records.map((r) => encodeRecord(r.modseq, r.kind, r.uids))];
      writeFull(fd, Buffer.concat(parts), 0);
      fsyncSync(fd);
    } catch (e) {
      closeSync(fd);
      try { unlinkSync(tmp); } catch { /* never made */ }
      throw e;
    }
    closeSync(fd);
    killPoint('modlog-new-written');
    renameSync(tmp, this.path);
    fsyncDir(dir);
    killPoint('modlog-renamed');
    this.cur = null;
  }
}


function pendingOf(records: readonly ChangeRecord[]): { modseq: number; uids: number[] }[] {
  const at = new Map<number, number>();
  for (const r of records) {
    if (r.kind === CHANGE_EXPUNGE) { for (const u of r.uids) if (!at.has(u)) at.set(u, r.modseq); }
    else if (r.kind === CHANGE_PURGE) for (const u of r.uids) at.delete(u);
  }
  const by = new Map<number, number[]>();
  for (const [u, m] of at) {
    const l = by.get(m);
    if (l) l.push(u); else by.set(m, [u]);
  }
  return [...by.entries()].sort((a, b) => a[0] - b[0]).map(([modseq, uids]) => ({ modseq, uids: uids.sort((a, b) => a - b) }));
}

/** Open the change log at `path` for a mailbox with `uidValidity`. Cheap: nothing is read until asked,
 *  and later calls read only what other writers appended since. Keep one per mailbox and process. */
export function openChangeLog(path: string, uidValidity: number, log?: Logger, opts: ChangeLogOptions = {}): ChangeLog {
  return new ChangeLogFile(path, uidValidity, log, opts);
}
