// Per-mailbox index in the index directory (`index_path`, default `<folders>/.imapd-index`): message
// offsets, sizes, UIDs, flags and dates plus a validity stamp of the spool, so an unchanged mailbox opens
// without a parse. Binary and compact: a small JSON head, then two typed arrays. Written atomically
// (tmp + rename); a missing or damaged index only costs a full parse, never mail.
//
// Layout: "DMBX" | u32 version | u32 json length | u32 count | json (padded to 8) |
//         f64[count*6] offset,end,size,date,modseq,expunged | u32[count*4] uid,flags,fileUid,key
// Version 2 added the per-message modseq and deferred expunge (issue 11); a version-1 index is not
// read (a full parse rebuilds it: modseqs then come from the change log's highest).

import { readFileSync, readSync, fsyncSync, openSync, closeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { replaceFileSync } from '../safe-file.js';
import { fnv1a } from './parse.js';
import { FLAG_DELETED, FLAG_OLD, FLAG_SEEN } from './format.js';
import { runSteps, type Steps } from '../pace.js';

export interface IndexedMessage {
  offset: number;
  end: number;
  size: number;
  date: number;
  uid: number;
  /** FLAG_* bits: the message's current flags (what the spool says, plus FLAG_OLD claims). */
  flags: number;
  /** X-UID written in the spool (0: the UID is only recorded here, written at the next rewrite). */
  fileUid: number;
  key: number;
  keywords: string[];
  uidl?: string;
  /** RFC 7162 mod-sequence of the message's append or last flag change. */
  modseq: number;
  /** Mod-sequence of its expunge while its bytes are kept for sessions that may still read it
   *  (deferred removal); 0 for a current message. Expunged messages are in no MailboxState. */
  expunged: number;
}

export interface SpoolStamp {
  size: number;
  ino: string;
  /** mtime in nanoseconds (decimal string: exact, unlike a float of milliseconds). */
  mtime: string;
  /** Hash of the last bytes: catches a same-size rewrite within one mtime tick. */
  tail: number;
}

export interface IndexData {
  stamp: SpoolStamp;
  uidValidity: number;
  uidNext: number;
  keywords: string[];
  /** The mailbox state as the spool itself records it (X-IMAPbase / X-IMAP), if it does. */
  fileBase: { uidValidity: number; uidNext: number } | null;
  /** The hidden UW pseudo-message, kept and never shown. */
  pseudo: { offset: number; end: number } | null;
  preambleEnd: number;
  /** Every message in the spool, expunged-but-kept ones included (ascending UID). */
  messages: IndexedMessage[];
  /** The change log's HIGHESTMODSEQ this index agrees with: when the log says more (a writer died
   *  between its log record and its index), the index is brought up to date from the log. */
  logSeen: number;
}

/** What usage() and status() need without decoding every message. */
export interface IndexHead {
  stamp: SpoolStamp;
  /** Bytes of expunged messages still kept in the spool (not counted for quota). */
  hiddenBytes: number;
}

/** The keyword list of the (many) messages without keywords: one shared, frozen array instead of 100k
 *  empty ones. Keyword lists are replaced, never changed in place. */
export const NO_KEYWORDS: string[] = Object.freeze([]) as unknown as string[];

const MAGIC = 0x58424d44; // "DMBX" little-endian
const VERSION = 2;
/** The layout of the index file's two arrays, per message (IndexColumns reads them in place). */
export const F64 = 6;
export const F_OFFSET = 0, F_END = 1, F_SIZE = 2, F_DATE = 3, F_MODSEQ = 4, F_EXPUNGED = 5;
export const U32 = 4;
export const U_UID = 0, U_FLAGS = 1, U_FILEUID = 2, U_KEY = 3;

export function stampTail(fd: number, size: number): number {
  const n = Math.min(64, size);
  if (n <= 0) return 0;
  const b = Buffer.alloc(n);
  readSync(fd, b, 0, n, size - n);
  return fnv1a(b, 0, n);
}

export function sameStamp(a: SpoolStamp, b: SpoolStamp): boolean {
  return a.size === b.size && a.ino === b.ino && a.mtime === b.mtime && a.tail === b.tail;
}

export function encodeIndex(d: IndexData): Buffer {
  return runSteps(encodeIndexSteps(d));
}

/** encodeIndex in steps (store/pace.ts): an index of 100,000 messages is a few MB. */
export function* encodeIndexSteps(d: IndexData): Steps<Buffer> {
  const count = d.messages.length;
  const extra: [number, string[], string | null][] = [];
  for (let i = 0; i < count; i++) {
    const m = d.messages[i]!;
    if (m.keywords.length || m.uidl) extra.push([i, m.keywords, m.uidl ?? null]);
    if ((i & 4095) === 4095) yield;
  }
  // The STATUS summary goes first, then the stamp: readIndexSummary() takes both from the head's first
  // bytes without parsing the rest (keyword and UIDL lists can make the head long).
  const head = Buffer.from(JSON.stringify({
    q: summaryOf(d), stamp: d.stamp, uidValidity: d.uidValidity, uidNext: d.uidNext, keywords: d.keywords,
    fileBase: d.fileBase, pseudo: d.pseudo, preambleEnd: d.preambleEnd, logSeen: d.logSeen,
    hiddenBytes: hiddenBytes(d.messages), extra,
  }), 'utf8');
  yield; // two passes over the messages above
  const headLen = (head.length + 7) & ~7;
  const out = Buffer.alloc(16 + headLen + count * F64 * 8 + count * 16);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(VERSION, 4);
  out.writeUInt32LE(head.length, 8);
  out.writeUInt32LE(count, 12);
  head.copy(out, 16);
  const f = new Float64Array(out.buffer, out.byteOffset + 16 + headLen, count * F64);
  const u = new Uint32Array(out.buffer, out.byteOffset + 16 + headLen + count * F64 * 8, count * 4);
  for (let i = 0; i < count; i++) {
    const m = d.messages[i]!;
    const o = i * F64;
    f[o] = m.offset; f[o + 1] = m.end; f[o + 2] = m.size; f[o + 3] = m.date; f[o + 4] = m.modseq; f[o + 5] = m.expunged;
    u[i * 4] = m.uid; u[i * 4 + 1] = m.flags; u[i * 4 + 2] = m.fileUid; u[i * 4 + 3] = m.key;
    if ((i & 4095) === 4095) yield;
  }
  return out;
}

/**
 * A decoded index's records as the file has them, as columns (views of the file's bytes): what the
 * common paths read (SELECT's snapshot and \Recent check, a message found by UID, facts identities)
 * without making an IndexedMessage per message. `messages` of such an index is made from these only
 * when something asks for it (a write, a sync that parses), once, and equal to them.
 */
export interface IndexColumns {
  readonly count: number;
  /** Per message F64 numbers: offset, end, size, date, modseq, expunged. */
  readonly f: Float64Array;
  /** Per message 4 numbers: uid, flags, fileUid, key. */
  readonly u: Uint32Array;
  /** Keyword and UIDL lists by record (the few messages that have any). */
  readonly extra: ReadonlyMap<number, [string[], string | null]>;
}

const COLUMNS = Symbol('index columns');
interface Lazy {
  cols: IndexColumns;
  made: IndexedMessage[] | null;
  prev: readonly IndexedMessage[] | undefined;
}
type Decoded = IndexData & { [COLUMNS]?: Lazy };

/** The columns of an index decoded from a file (null for an index made in memory: after a parse, a
 *  rewrite, or a copy with `{ ...d }`, which carries no columns). */
export function indexColumns(d: IndexData): IndexColumns | null {
  return (d as Decoded)[COLUMNS]?.cols ?? null;
}

/** The columns to read instead of `messages`: those of a decoded index whose message objects are not
 *  made (once they are, they are as cheap to read and may be what callers share); else null. */
export function unmadeColumns(d: IndexData): IndexColumns | null {
  const l = (d as Decoded)[COLUMNS];
  return l && !l.made ? l.cols : null;
}

/** Whether `messages` exists as objects (always, for an index made in memory). */
export function messagesMade(d: IndexData): boolean {
  const l = (d as Decoded)[COLUMNS];
  return !l || l.made !== null;
}

/** Let go of the message objects of a decoded index (they are made again, equal, when asked for): what
 *  an idle kept index keeps is its columns. Holders of the old array keep theirs. */
export function forgetMessages(d: IndexData): void {
  const l = (d as Decoded)[COLUMNS];
  if (l) { l.made = null; l.prev = undefined; }
}

/** Record i of the columns as an object. */
export function recordAt(c: IndexColumns, i: number): IndexedMessage {
  const o = i * F64;
  const m: IndexedMessage = {
    offset: c.f[o + F_OFFSET]!, end: c.f[o + F_END]!, size: c.f[o + F_SIZE]!, date: c.f[o + F_DATE]!,
    uid: c.u[i * U32 + U_UID]!, flags: c.u[i * U32 + U_FLAGS]!, fileUid: c.u[i * U32 + U_FILEUID]!, key: c.u[i * U32 + U_KEY]!, keywords: NO_KEYWORDS,
    modseq: c.f[o + F_MODSEQ]!, expunged: c.f[o + F_EXPUNGED]!,
  };
  const x = c.extra.get(i);
  if (x) {
    if (x[0].length) m.keywords = x[0];
    if (x[1]) m.uidl = x[1];
  }
  return m;
}

/** The position of `uid` in the columns (ascending UIDs), -1 if none. */
export function columnOf(c: IndexColumns, uid: number): number {
  let lo = 0;
  let hi = c.count - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const u = c.u[mid * U32 + U_UID]!;
    if (u === uid) return mid;
    if (u < uid) lo = mid + 1; else hi = mid - 1;
  }
  return -1;
}

/** The record of `uid` (undefined: none), without making the whole `messages` of a decoded index. */
export function recordOf(d: IndexData, uid: number): IndexedMessage | undefined {
  const c = unmadeColumns(d);
  if (c) {
    const i = columnOf(c, uid);
    return i < 0 ? undefined : recordAt(c, i);
  }
  const msgs = d.messages;
  let lo = 0;
  let hi = msgs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const u = msgs[mid]!.uid;
    if (u === uid) return msgs[mid];
    if (u < uid) lo = mid + 1; else hi = mid - 1;
  }
  return undefined;
}

/** Whether a current (not expunged) message has no FLAG_OLD yet: a \Recent claim to make. */
export function hasUnclaimed(d: IndexData): boolean {
  const c = unmadeColumns(d);
  if (!c) return d.messages.some((m) => !(m.flags & FLAG_OLD) && !m.expunged);
  for (let i = 0; i < c.count; i++) if (!(c.u[i * U32 + U_FLAGS]! & FLAG_OLD) && !c.f[i * F64 + F_EXPUNGED]) return true;
  return false;
}

/**
 * The index in `buf` (null: not an index of this version, or damaged), its records left as columns
 * (IndexColumns) until `messages` is first read. `prev`: records of an earlier decoding (ascending UID,
 * as every index keeps them). When `messages` is made, a record equal to one of them in every field is
 * that object, not a new one (records are immutable: index-cache.ts).
 */
export function decodeIndex(buf: Buffer, prev?: readonly IndexedMessage[]): IndexData | null {
  if (buf.length < 16 || buf.readUInt32LE(0) !== MAGIC || buf.readUInt32LE(4) !== VERSION) return null;
  const jsonLen = buf.readUInt32LE(8);
  const count = buf.readUInt32LE(12);
  const headLen = (jsonLen + 7) & ~7;
  if (buf.length !== 16 + headLen + count * (F64 * 8 + 16)) return null;
  type Head = Omit<IndexData, 'messages' | 'logSeen'> & { logSeen?: number; extra: [number, string[], string | null][] };
  let head: Head;
  try { head = JSON.parse(buf.toString('utf8', 16, 16 + jsonLen)) as Head; } catch { return null; }
  // Typed arrays need aligned memory; a Buffer from readFileSync may not be.
  const aligned = (buf.byteOffset % 8 === 0) ? buf : Buffer.from(buf);
  const f = new Float64Array(aligned.buffer, aligned.byteOffset + 16 + headLen, count * F64);
  const u = new Uint32Array(aligned.buffer, aligned.byteOffset + 16 + headLen + count * F64 * 8, count * 4);
  const extra = new Map<number, [string[], string | null]>();
  for (const e of head.extra ?? []) {
    if (!Array.isArray(e)) return null;
    const [i, kw, uidl] = e;
    if (!Number.isInteger(i) || i < 0 || i >= count || !Array.isArray(kw) || !kw.every((k) => typeof k === 'string') ||
        (uidl !== null && uidl !== undefined && typeof uidl !== 'string')) return null;
    extra.set(i, [kw, uidl ?? null]);
  }
  // Ascending UIDs, as every writer keeps them (lookups by UID are binary searches): else damaged.
  for (let i = 1; i < count; i++) if (u[i * 4]! <= u[(i - 1) * 4]!) return null;
  const lazy: Lazy = { cols: { count, f, u, extra }, made: null, prev };
  const d = {
    stamp: head.stamp, uidValidity: head.uidValidity, uidNext: head.uidNext, keywords: head.keywords ?? [],
    fileBase: head.fileBase ?? null, pseudo: head.pseudo ?? null, preambleEnd: head.preambleEnd ?? 0,
    logSeen: head.logSeen ?? 0,
  } as IndexData;
  Object.defineProperty(d, 'messages', { enumerable: true, get: () => (lazy.made ??= makeMessages(lazy)) });
  Object.defineProperty(d, COLUMNS, { enumerable: false, value: lazy });
  return d;
}

function makeMessages(l: Lazy): IndexedMessage[] {
  const { count, f, u, extra } = l.cols;
  const messages: IndexedMessage[] = [];
  const old = l.prev ?? [];
  l.prev = undefined;
  let j = 0;
  for (let i = 0; i < count; i++) {
    const o = i * F64;
    const uid = u[i * 4]!;
    const x = extra.get(i);
    while (j < old.length && old[j]!.uid < uid) j++;
    const p = j < old.length ? old[j]! : undefined;
    if (p && p.uid === uid && p.offset === f[o] && p.end === f[o + 1] && p.size === f[o + 2] && p.date === f[o + 3] &&
        p.modseq === f[o + 4] && p.expunged === f[o + 5] && p.flags === u[i * 4 + 1] && p.fileUid === u[i * 4 + 2] &&
        p.key === u[i * 4 + 3] && (p.uidl ?? null) === (x?.[1] || null) && sameWords(p.keywords, x?.[0])) {
      messages.push(p);
      continue;
    }
    messages.push(recordAt(l.cols, i));
  }
  return messages;
}

function sameWords(a: readonly string[], b: readonly string[] | undefined): boolean {
  const n = b?.length ?? 0;
  if (a.length !== n) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b![i]) return false;
  return true;
}

/** What STATUS counts, over the current messages (expunged ones kept for other sessions, deferred
 *  removal, are not the user's any more). The one place for it: the locked path and the summary. */
export function statusCounts(messages: readonly IndexedMessage[]): { messages: number; unseen: number; recent: number; deleted: number; size: number } {
  const c = { messages: 0, unseen: 0, recent: 0, deleted: 0, size: 0 };
  for (const m of messages) {
    if (m.expunged) continue;
    c.messages++;
    if (!(m.flags & FLAG_SEEN)) c.unseen++;
    if (!(m.flags & FLAG_OLD)) c.recent++;
    if (m.flags & FLAG_DELETED) c.deleted++;
    c.size += m.size;
  }
  return c;
}

/** statusCounts of an index, from its columns while its message objects are not made. */
export function indexStatusCounts(d: IndexData): { messages: number; unseen: number; recent: number; deleted: number; size: number } {
  const c = unmadeColumns(d);
  if (!c) return statusCounts(d.messages);
  const r = { messages: 0, unseen: 0, recent: 0, deleted: 0, size: 0 };
  for (let i = 0; i < c.count; i++) {
    if (c.f[i * F64 + F_EXPUNGED]) continue;
    const flags = c.u[i * U32 + U_FLAGS]!;
    r.messages++;
    if (!(flags & FLAG_SEEN)) r.unseen++;
    if (!(flags & FLAG_OLD)) r.recent++;
    if (flags & FLAG_DELETED) r.deleted++;
    r.size += c.f[i * F64 + F_SIZE]!;
  }
  return r;
}

/** [messages, unseen, recent, size, uidNext, uidValidity, logSeen, deleted]: what STATUS answers. */
function summaryOf(d: IndexData): number[] {
  const c = statusCounts(d.messages);
  return [c.messages, c.unseen, c.recent, c.size, d.uidNext, d.uidValidity, d.logSeen, c.deleted];
}

/** What STATUS needs, as the index recorded it with the spool stamp it is valid for. */
export interface IndexSummary {
  stamp: SpoolStamp;
  messages: number;
  unseen: number;
  recent: number;
  deleted: number;
  size: number;
  uidNext: number;
  uidValidity: number;
  /** The change log's HIGHESTMODSEQ the index agrees with. */
  logSeen: number;
}

const SUMMARY_PREFIX = /^\{"q":(\[[0-9,]*\]),"stamp":(\{[^{}]*\})[,}]/;
const SUMMARY_READ = 1024;

/** The STATUS summary of an index from its first bytes: one open, one read, one close. Null when the
 *  index is missing, damaged, of another version or written before summaries were kept. */
export function readIndexSummary(path: string): IndexSummary | null {
  let fd = -1;
  try {
    fd = openSync(path, 'r');
    const b = Buffer.alloc(SUMMARY_READ);
    const n = readSync(fd, b, 0, SUMMARY_READ, 0);
    if (n < 16 || b.readUInt32LE(0) !== MAGIC || b.readUInt32LE(4) !== VERSION) return null;
    const m = SUMMARY_PREFIX.exec(b.toString('utf8', 16, Math.min(n, 16 + b.readUInt32LE(8))));
    if (!m) return null;
    const q = JSON.parse(m[1]!) as number[];
    const stamp = JSON.parse(m[2]!) as SpoolStamp;
    // Eight numbers (an index written before STATUS DELETED had seven: the locked path then).
    if (q.length !== 8 || !q.every((x) => Number.isSafeInteger(x) && x >= 0)) return null;
    if (typeof stamp.size !== 'number' || typeof stamp.ino !== 'string' || typeof stamp.mtime !== 'string' || typeof stamp.tail !== 'number') return null;
    const [messages, unseen, recent, size, uidNext, uidValidity, logSeen, deleted] = q as [number, number, number, number, number, number, number, number];
    return { stamp, messages, unseen, recent, deleted, size, uidNext, uidValidity, logSeen };
  } catch { return null; } finally { if (fd >= 0) closeSync(fd); }
}

function hiddenBytes(messages: readonly IndexedMessage[]): number {
  let n = 0;
  for (const m of messages) if (m.expunged) n += m.end - m.offset;
  return n;
}

/** The index's stamp and summary without decoding its messages (null: missing, old or damaged). */
export function readIndexHead(path: string): IndexHead | null {
  let fd = -1;
  try {
    fd = openSync(path, 'r');
    const h = Buffer.alloc(16);
    if (readSync(fd, h, 0, 16, 0) !== 16 || h.readUInt32LE(0) !== MAGIC || h.readUInt32LE(4) !== VERSION) return null;
    const len = h.readUInt32LE(8);
    const j = Buffer.alloc(len);
    if (readSync(fd, j, 0, len, 16) !== len) return null;
    const head = JSON.parse(j.toString('utf8')) as { stamp: SpoolStamp; hiddenBytes?: number };
    return { stamp: head.stamp, hiddenBytes: head.hiddenBytes ?? 0 };
  } catch { return null; } finally { if (fd >= 0) closeSync(fd); }
}

export function readIndex(path: string): IndexData | null {
  try { return decodeIndex(readFileSync(path)); } catch { return null; }
}

/** Atomic replace. Returns false (and leaves the old index) when the index directory is not writable. */
export function writeIndex(path: string, dir: string, d: IndexData): boolean {
  return runSteps(writeIndexSteps(path, dir, d));
}

/** `onWritten`: told of the file just put in place, the bytes it was made of and its inode (index-cache.ts). */
export function* writeIndexSteps(path: string, _dir: string, d: IndexData, onWritten?: (path: string, d: IndexData, bytes: Buffer, ino: number) => void): Steps<boolean> {
  try {
    const bytes = yield* encodeIndexSteps(d);
    // A cache: not fsynced (a lost index is rebuilt); safe-file: random temp name, checked directory.
    const w = replaceFileSync(dirname(path), basename(path), bytes, { mkdirMode: 0o700, sync: false });
    onWritten?.(path, d, bytes, Number(w.ino));
    return true;
  } catch {
    return false;
  }
}

/** fsync a directory so a rename in it is durable. */
export function fsyncDir(dir: string): void {
  let fd = -1;
  try { fd = openSync(dir, 'r'); fsyncSync(fd); } catch { /* best effort */ } finally { if (fd >= 0) closeSync(fd); }
}
