// The sort/thread family of the facts cache (issue 14, speed): beside the text facts file
// (facts-file.ts, `<name>`) a small binary file `<name>.sk` holds only what SORT, THREAD and SEARCH
// SENT* need per message — SortKeys and ThreadingKeys — so that a SORT or THREAD over 100k messages
// reads a few MB in one read instead of every record's ENVELOPE, BODYSTRUCTURE and header fields, and
// decodes no JSON.
//
//   header   `DMFKEYS2` u32 UIDVALIDITY, u32 n, u32 C, u32 crc32(columns), u32 T, u32 crc32(threads),
//            u32 B, u32 crc32(body), u32 0, u32 crc32(the header's first 44 bytes)  (48 bytes, little endian)
//   columns  C bytes, n rows (SlotTable.columnsBlock): f64 sentDate[n], identity pair a[n], b[n] (NaN:
//            another form), u32 uid[n], record place[n], record CRC[n], u16 keys offset[n], record
//            length[n]; then, when some identity is not two numbers (maildir), u32 place[n + 1] and
//            those identities' UTF-8 bytes (a row of two numbers: empty)
//   threads  T bytes (SlotTable.threadsBlock): each row's Message-ID, first In-Reply-To and References
//            as numbers of an ID space (its IDs' bytes and places), each row's base subject as a number
//            of another, reply flags
//   body     B bytes: the n records (in row order), framed as below
//   then     records appended since the compaction that wrote the file
//   record   u32 MAGIC, u32 payload length, u32 crc32(payload), payload
//   payload  u32 uid, str identity, f64 sentDate, f64 sentDay (NaN: null), nstr dateHeader, nstr subject,
//            addr from, addr to, addr cc, nstr messageId, list inReplyTo, list references
//            str = u32 byte length + UTF-8; nstr = str, or u32 0xffffffff for null;
//            addr = u8 0 (null) | u8 1 nstr name, nstr mailbox, nstr domain; list = u32 n, n × str
//
// Only a compaction (KeysFile.compact: atomic replace) writes a header, columns, threads and body; an
// appender adds records. A reader believes each part only by its CRC: the header by its own (else
// nothing of the file is believed, and a writable handle rewrites it); the columns by theirs (they are
// then the table: SORT (DATE) reads header and columns, nothing else — one read, one CRC call, no
// per-record work); the threads block by its own, read at the first THREAD (else the numbers are worked
// out from the records); the body by its one CRC, read whole when many records are wanted (wantAll),
// else record by record, each then by its own CRC. A body whose CRC fails, or columns that fail, send
// the reader back to the records' own CRCs (the body scanned as below); records found elsewhere than
// the columns say (the file changed in place) make the next read ignore the columns (`distrust`).
// A file shorter than its header says is scanned record by record. The first format (`DMFKEYS1`
// u32 UIDVALIDITY u32 0, then records) is still read, record by record, and rewritten compacted by
// the next writable handle that closes after looking at it; so is a file whose records outside its
// checked body (appends) pass 64 KB and an eighth of that body (`loose`, `tidy`): a mailbox filled
// from scratch is compacted at the end of the session that filled it. Columns are written and read
// as the machine's typed arrays, so only where those are little endian (elsewhere: none, the body
// is scanned).
//
// Append-only between compactions: a later record of a UID replaces an earlier one, and a record is
// believed only when its CRC (or its body's) holds, the file's UIDVALIDITY is the mailbox's and its
// identity is the message's now. Every record starts with MAGIC, so a record torn by kill -9 (or any
// garbage) is skipped by looking for the next MAGIC whose record's CRC holds: an appender never has to
// repair the file.
//
// Same trust rules as the text file (opened with O_NOFOLLOW, used and appended to only when it is a
// plain file of ours with one link that no one else may write; created by replaceFileSync in a trusted
// directory), same cap and compaction rules, not fsynced (a cache). What the first lookup needs is read
// then (header and columns; a first-format file or one without columns whole, in one read, its records
// checked then; the threads block and the body when asked for), records decoded only when asked for; kept per process
// in a `ProcessCache` entry (`cache` below) for the next handle, within the process's budget: while no
// handle holds it, as columns only (SlotTable.idle: the records' places, CRC verdicts, dates, identities,
// ID and base-subject numbers — those a threads block gave are read again from it), a record read again when asked and believed only if it is the one checked
// (magic, length, CRC and UID as kept, well formed).
import { closeSync, constants, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { basename } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Logger } from '../log/types.js';
import { digitsAt, pairOf } from './identity-pair.js';
import { subjectKey } from '../mime/base-subject.js';
import { forgetFile, goIdle, refreshKept, trustedCacheFd } from './kept-file.js';
import { ProcessCache, processCaches } from './process-cache.js';
import { killPoint } from './killpoint.js';
import { replaceFileSync } from './safe-file.js';
import type { MailboxState, MessageFacts, SortAddress, SortKeys, ThreadingKeys } from './types.js';

/** The first format: a header and records, each believed by its own CRC (still read; rewritten by the
 *  next writable handle's compaction). */
const HEAD1 = Buffer.from('DMFKEYS1', 'latin1');
const HEAD1_LEN = 16;
/** The compacted format (see the top of this file): header, columns, one checked body, then appends. */
const HEAD = Buffer.from('DMFKEYS2', 'latin1');
const HEAD_LEN = 48;
/** Bytes a row takes in the columns block: f64 sentDate, pa, pb; u32 uid, place, CRC; u16 keys, end. */
const COL_ROW = 40;
/** Columns are written and read as the machine's typed arrays: only where those are little endian
 *  (elsewhere a compaction writes none, and a reader scans the checked body). */
const LE = endianness() === 'LE';
/** Records outside a checked body (appended since the last compaction, or a first-format file) beyond
 *  which the last handle's close() compacts: at least this, and an eighth of the checked body. */
const LOOSE_MIN = 64 * 1024;
const MAGIC = 0x1af54b44; // "DK\xf5\x1a" little endian
const MAGIC_BYTES = Buffer.alloc(4);
MAGIC_BYTES.writeUInt32LE(MAGIC, 0);
/** Records larger than this are not kept (a hostile References list). */
export const MAX_KEYS_RECORD = 32 * 1024;
const NULL = 0xffffffff;
const FLUSH_RECORDS = 512;
const FLUSH_DELAY_MS = 100;
const { O_WRONLY, O_APPEND, O_NOFOLLOW } = constants;

export interface KeysRecord {
  sortKeys: SortKeys;
  threading: ThreadingKeys;
}

/** A lone surrogate does not survive UTF-8: such a record is not cached (it is parsed each time). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Scratch space records are encoded in (then copied out at their exact size): one buffer per process
 *  instead of one allocation per record. Grows to the largest record, at most MAX_KEYS_RECORD-ish. */
let scratch = Buffer.allocUnsafe(4096);

class Writer {
  private buf = scratch;
  n = 0;
  ok = true;
  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const b = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.n + k));
    this.buf.copy(b, 0, 0, this.n);
    this.buf = b;
    if (b.length <= 2 * MAX_KEYS_RECORD) scratch = b;
  }
  u8(v: number): void { this.room(1); this.buf[this.n++] = v; }
  u32(v: number): void { this.room(4); this.buf.writeUInt32LE(v, this.n); this.n += 4; }
  f64(v: number | null): void { this.room(8); this.buf.writeDoubleLE(v ?? NaN, this.n); this.n += 8; }
  str(s: string): void {
    if (LONE_SURROGATE.test(s)) this.ok = false;
    const len = Buffer.byteLength(s, 'utf8');
    this.room(4 + len);
    this.buf.writeUInt32LE(len, this.n);
    this.buf.write(s, this.n + 4, len, 'utf8');
    this.n += 4 + len;
  }
  nstr(s: string | null): void { if (s === null) this.u32(NULL); else this.str(s); }
  addr(a: SortAddress | null): void {
    if (!a) { this.u8(0); return; }
    this.u8(1);
    this.nstr(a.name);
    this.nstr(a.mailbox);
    this.nstr(a.domain);
  }
  list(l: readonly string[]): void { this.u32(l.length); for (const s of l) this.str(s); }
  /** The encoded bytes, valid until the next record is encoded. */
  done(): Buffer { return this.buf.subarray(0, this.n); }
}

class Reader {
  constructor(private readonly b: Buffer, public p: number, private readonly end: number) {}
  private need(k: number): void { if (this.p + k > this.end) throw new Error('short record'); }
  u8(): number { this.need(1); return this.b[this.p++]!; }
  u32(): number { this.need(4); const v = this.b.readUInt32LE(this.p); this.p += 4; return v; }
  f64(): number | null { this.need(8); const v = this.b.readDoubleLE(this.p); this.p += 8; return Number.isNaN(v) ? null : v; }
  str(): string {
    const len = this.u32();
    this.need(len);
    const s = this.b.toString('utf8', this.p, this.p + len);
    this.p += len;
    return s;
  }
  nstr(): string | null {
    this.need(4);
    if (this.b.readUInt32LE(this.p) === NULL) { this.p += 4; return null; }
    return this.str();
  }
  addr(): SortAddress | null {
    if (this.u8() === 0) return null;
    return { name: this.nstr(), mailbox: this.nstr(), domain: this.nstr() };
  }
  list(): string[] {
    const n = this.u32();
    if (n > (this.end - this.p) / 4) throw new Error('bad list');
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.str());
    return out;
  }
}

/** The payload of a record (uid, identity, keys); null when it cannot be stored faithfully. The bytes
 *  are valid until the next call (scratch space): copy them. */
export function encodeKeys(uid: number, identity: string, sk: SortKeys, th: ThreadingKeys): Buffer | null {
  const w = new Writer();
  w.u32(uid);
  w.str(identity);
  w.f64(sk.sentDate);
  w.f64(sk.sentDay);
  w.nstr(sk.dateHeader);
  w.nstr(sk.subject);
  w.addr(sk.from);
  w.addr(sk.to);
  w.addr(sk.cc);
  w.nstr(th.messageId);
  w.list(th.inReplyTo);
  w.list(th.references);
  return w.ok ? w.done() : null;
}

/** The keys of a payload (after its uid and identity, at `p`). Throws on a malformed payload. */
function decodeKeys(b: Buffer, p: number, end: number): KeysRecord {
  const r = new Reader(b, p, end);
  const sentDate = r.f64();
  const sentDay = r.f64();
  const dateHeader = r.nstr();
  const subject = r.nstr();
  const from = r.addr();
  const to = r.addr();
  const cc = r.addr();
  const messageId = r.nstr();
  const inReplyTo = r.list();
  const references = r.list();
  if (r.p !== end) throw new Error('record has trailing bytes');
  return { sortKeys: { dateHeader, sentDate, sentDay, subject, from, to, cc }, threading: { messageId, inReplyTo, references } };
}

/** Whether the keys of a payload (at `p`, up to `end`) are well formed, without making a string: a
 *  record indexed once passed this, so its lazy decoding (LazyKeys) cannot fail later. */
function wellFormed(b: Buffer, p: number, end: number): boolean {
  // Straight-line (no closure, no exception): run for every record taken in. Each step: a u32 length
  // (0xffffffff: null where a string may be null) and the bytes it counts, never past `end`.
  p += 16; // sentDate, sentDay
  for (let k = 0; k < 8; k++) {
    if (k >= 2 && k <= 4) { // from, to, cc: u8 0 | u8 1 + three nstr
      if (p >= end) return false;
      if (b[p++] === 0) continue;
      for (let j = 0; j < 3; j++) {
        if (p + 4 > end) return false;
        const len = b.readUInt32LE(p);
        p += 4;
        if (len !== NULL) { if (len > end - p) return false; p += len; }
      }
      continue;
    }
    if (p + 4 > end) return false;
    const len = b.readUInt32LE(p);
    p += 4;
    if (k < 6) { // dateHeader, subject, messageId (k = 5): nstr
      if (len !== NULL) { if (len > end - p) return false; p += len; }
      continue;
    }
    // inReplyTo, references: u32 n, n × str
    if (len > (end - p) / 4) return false;
    for (let i = 0; i < len; i++) {
      if (p + 4 > end) return false;
      const l = b.readUInt32LE(p);
      p += 4;
      if (l > end - p) return false;
      p += l;
    }
  }
  return p === end;
}

/** The subject of a well-formed record whose keys start at b[p]. */
function subjectAt(b: Buffer, p: number): string | null {
  p += 16; // sentDate, sentDay
  const len = b.readUInt32LE(p);
  if (len !== NULL) p += len; // dateHeader
  p += 4;
  const sl = b.readUInt32LE(p);
  return sl === NULL ? null : b.toString('utf8', p + 4, p + 4 + sl);
}

/**
 * A record's keys, decoded as they are asked for: the two dates (SORT DATE, SEARCH SENT*) straight
 * from their fixed place, every string only when something reads one (then the whole record, once).
 * SORT (DATE) or a SENT* search over 100k messages thus makes no string at all. One object per record
 * and process (kept in its SlotTable row): callers may key their own derived values on it (sort-keys.ts). It is
 * a whole MessageFacts answer too ({ uid, exists, sortKeys, threading }), so that factsAll() answers
 * 100k messages without making an object per message.
 */
export class LazyKeys implements KeysRecord, SortKeys, ThreadingKeys, MessageFacts {
  private all?: KeysRecord;
  readonly exists = true;
  readonly sentDate: number | null;
  readonly sentDay: number | null;
  readonly payloadBytes: number;
  constructor(readonly uid: number, private readonly b: Buffer, private readonly p: number, private readonly end: number) {
    this.payloadBytes = end - p;
    const d = b.readDoubleLE(p);
    const day = b.readDoubleLE(p + 8);
    this.sentDate = Number.isNaN(d) ? null : d;
    this.sentDay = Number.isNaN(day) ? null : day;
  }
  private get full(): KeysRecord { return (this.all ??= decodeKeys(this.b, this.p, this.end)); }
  get sortKeys(): SortKeys { return this; }
  get threading(): ThreadingKeys { return this; }
  get dateHeader(): string | null { return this.full.sortKeys.dateHeader; }
  get subject(): string | null {
    if (this.all) return this.all.sortKeys.subject;
    return subjectAt(this.b, this.p); // SORT SUBJECT asks for the subject only: that string alone
  }
  get from(): SortAddress | null { return this.full.sortKeys.from; }
  get to(): SortAddress | null { return this.full.sortKeys.to; }
  get cc(): SortAddress | null { return this.full.sortKeys.cc; }
  get messageId(): string | null { return this.full.threading.messageId; }
  get inReplyTo(): readonly string[] { return this.full.threading.inReplyTo; }
  get references(): readonly string[] { return this.full.threading.references; }
}

/**
 * Message-IDs as numbers: equal numbers exactly for equal IDs (byte for byte in UTF-8, which for the
 * strings a record can hold — no lone surrogate — is string equality). An open-addressing table of
 * numbers keyed by a hash of the bytes; a hash match is believed only when the bytes match too, so two
 * IDs of one hash stay two numbers. The bytes of each ID are copied into one arena: no string and no
 * object per ID. Numbers only grow (0, 1, ...): a number once given keeps its meaning for the life of
 * the space.
 */
export class IdSpace {
  /** Open-addressing table of numbers (-1: free); null while trimmed (`trim`), rebuilt at the next intern. */
  private table: Int32Array | null = new Int32Array(1024).fill(-1);
  /** Each number's hash; null while trimmed (worked out again from the bytes at the next intern). */
  private hashes: Uint32Array | null = new Uint32Array(256);
  /** Where number k's bytes are in `arena`: offs[k] up to offs[k + 1] (count + 1 entries used). */
  private offs = new Uint32Array(257);
  private arena = Buffer.allocUnsafe(8192);
  private used = 0;
  count = 0;
  /** `hash` only for tests (a poor hash must cost speed, never answers). */
  constructor(private readonly hash: (b: Uint8Array, s: number, e: number) => number = fnv1a) {}

  /** The number of the ID whose UTF-8 bytes are b[s, e). */
  intern(b: Uint8Array, s: number, e: number): number {
    const h = this.hash(b, s, e) >>> 0;
    const len = e - s;
    let table = this.table ?? this.rehash(tableSize(this.count + 1));
    const hashes = this.hashes!; // made by rehash when trimmed
    let mask = table.length - 1;
    let i = h & mask;
    for (;;) {
      const id = table[i]!;
      if (id < 0) break;
      if (hashes[id] === h && this.offs[id + 1]! - this.offs[id]! === len && this.same(this.offs[id]!, b, s, len)) return id;
      i = (i + 1) & mask;
    }
    const id = this.count++;
    if (id >= hashes.length) {
      const x = new Uint32Array(Math.max(256, hashes.length * 2));
      x.set(hashes);
      this.hashes = x;
    }
    if (id + 1 >= this.offs.length) {
      const x = new Uint32Array(Math.max(257, this.offs.length * 2));
      x.set(this.offs);
      this.offs = x;
    }
    if (this.used + len > this.arena.length) {
      const a = Buffer.allocUnsafe(Math.max(8192, this.arena.length * 2, this.used + len));
      this.arena.copy(a, 0, 0, this.used);
      this.arena = a;
    }
    for (let k = 0; k < len; k++) this.arena[this.used + k] = b[s + k]!;
    this.hashes![id] = h;
    this.used += len;
    this.offs[id + 1] = this.used;
    table[i] = id;
    if (this.count * 2 > table.length) table = this.rehash(table.length * 2); // kept at most half full
    return id;
  }

  /** The table made anew at `size` slots (a power of two); the hashes too when trimmed. */
  private rehash(size: number): Int32Array {
    let hashes = this.hashes;
    if (!hashes) {
      hashes = this.hashes = new Uint32Array(Math.max(256, this.count + 1));
      for (let k = 0; k < this.count; k++) hashes[k] = this.hash(this.arena, this.offs[k]!, this.offs[k + 1]!) >>> 0;
    }
    const t = new Int32Array(size).fill(-1);
    const mask = size - 1;
    for (let k = 0; k < this.count; k++) {
      let j = hashes[k]! & mask;
      while (t[j]! >= 0) j = (j + 1) & mask;
      t[j] = k;
    }
    return (this.table = t);
  }

  /** Keep only what the numbers need (an idle entry): the IDs' bytes and places, at their used size; no
   *  lookup table and no hashes (made again from the bytes when an ID is next interned). Numbers keep
   *  their meaning. */
  trim(): void {
    this.table = null;
    this.hashes = null;
    if (this.arena.length > this.used) {
      const a = Buffer.allocUnsafeSlow(this.used);
      this.arena.copy(a, 0, 0, this.used);
      this.arena = a;
    }
    if (this.offs.length > this.count + 1) this.offs = this.offs.slice(0, this.count + 1);
  }

  /** A space of `count` numbers whose bytes are arena[offs[k], offs[k + 1]) (as `parts` gave them, checked
   *  by the caller: offs[0] = 0, never decreasing, offs[count] = arena.length; the IDs all differ), in the
   *  trimmed state (its lookup table made at the next intern). Null when offs is not so. */
  static load(arena: Buffer, offs: Uint32Array, count: number): IdSpace | null {
    if (offs.length !== count + 1 || offs[0] !== 0 || offs[count] !== arena.length) return null;
    for (let k = 0; k < count; k++) if (offs[k + 1]! < offs[k]!) return null;
    const s = new IdSpace();
    s.table = null;
    s.hashes = null;
    s.arena = arena as typeof s.arena;
    s.offs = offs as typeof s.offs;
    s.used = arena.length;
    s.count = count;
    return s;
  }

  /** The IDs' bytes and places (`load`'s input). */
  parts(): { arena: Buffer; offs: Uint32Array } {
    return { arena: this.arena.subarray(0, this.used), offs: this.offs.subarray(0, this.count + 1) };
  }

  /** The number of an ID given as a string. */
  internString(id: string): number {
    if (LONE_SURROGATE.test(id)) {
      // Not faithful in UTF-8 (two such strings could share bytes): its UTF-16 units after a 0xff byte,
      // which no UTF-8 text has, so it equals only itself.
      const b = Buffer.allocUnsafe(1 + 2 * id.length);
      b[0] = 0xff;
      for (let k = 0; k < id.length; k++) b.writeUInt16LE(id.charCodeAt(k), 1 + 2 * k);
      return this.intern(b, 0, b.length);
    }
    const need = Buffer.byteLength(id, 'utf8');
    if (scratch.length < need) scratch = Buffer.allocUnsafe(need);
    const n = scratch.write(id, 0, 'utf8');
    return this.intern(scratch, 0, n);
  }

  private same(off: number, b: Uint8Array, s: number, len: number): boolean {
    const a = this.arena;
    for (let k = 0; k < len; k++) if (a[off + k] !== b[s + k]) return false;
    return true;
  }

  /** Memory held, for the budget. */
  get bytes(): number {
    return this.arena.length + (this.table?.length ?? 0) * 4 + (this.hashes?.length ?? 0) * 4 + this.offs.length * 4 + 96;
  }
}

/** Slots of an IdSpace table for `count` numbers (a power of two, at most half full). */
function tableSize(count: number): number {
  let n = 1024;
  while (count * 2 > n) n *= 2;
  return n;
}

/** FNV-1a over bytes. */
function fnv1a(b: Uint8Array, s: number, e: number): number {
  let h = 0x811c9dc5;
  for (let i = s; i < e; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

/** Growable typed arrays: `a` with room for index `i`. */
function room<T extends Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array>(a: T, i: number): T {
  if (i < a.length) return a;
  const x = new (a.constructor as new (n: number) => T)(Math.max(16, a.length * 2, i + 1));
  x.set(a);
  return x;
}

/** Bytes of the file read again at a time when an idle entry's record is asked for (aligned pieces). */
const CHUNK = 64 * 1024;

/**
 * The records by UID, as columns (one row per UID, no object per record): where the record is in the
 * file, its CRC (the verdict: a record was believed once its CRC held), its identity (two numbers when
 * it is written `${a}.${b}`, as mbox's size and hash are: compared as numbers, no string; else the
 * string) and its sent date (SORT (DATE), SENT*: no byte of the record read). A UID finds its row
 * through an array indexed by UID (no hashing; it may be sparse). Rows are in first-insertion order for
 * walking. The threading IDs of a row are worked out when first asked for (threadRow) and kept as
 * numbers of this table's IdSpace.
 *
 * The records' bytes are what a session reads (the file's new part in one read) and keeps while it
 * holds the entry; an idle entry keeps the columns only (`idle()`). A record asked for later is read
 * again from the entry's descriptor (`source`, a file the caller checked is the same one) in aligned
 * pieces, and believed only when its magic, length and CRC are those kept for the row: bytes changed
 * meanwhile are never taken for the record the columns describe (the table is marked `broken`, and the
 * caller reads the file anew).
 */
export class SlotTable {
  /** Row of each UID below its length (-1: none); UIDs beyond what a dense array should hold in `far`. */
  private rowOf = new Int32Array(0);
  private far: Map<number, number> | null = null;
  /** Parts of the file in memory: what takeIn read (`formed`: records checked, CRC and form, then), a
   *  compacted body read whole (its CRC held: each record's form is checked when it is used). */
  private segs: { from: number; buf: Buffer; formed: boolean }[] = [];
  /** The compacted body the columns were read from (loadColumns): its bytes are read only when a record
   *  is needed — all at once under `bulk` (one read, one CRC), else in pieces, record by record. */
  private body: { from: number; end: number; crc: number; state: 'unread' | 'ok' | 'bad' } | null = null;
  /** Many records will be asked for (wantAll): read the compacted body whole at the first. */
  private bulk = false;
  private chunks = new Map<number, Buffer>();
  /** Bytes of `segs` and `chunks`. */
  heldBytes = 0;
  /** Reads up to `len` bytes of the file at `pos` (the entry's descriptor); null when it is not open. */
  source: ((pos: number, len: number) => Buffer | null) | null = null;
  /** Bytes read again were not the record kept for a row: the file is not what the columns describe. */
  broken = false;
  private uidR = new Uint32Array(64);
  /** The record's place in the file: its start, its keys (after uid and identity), its end. */
  private atR = new Uint32Array(64);
  private keysR = new Uint16Array(64); // from the record's start (a record is at most MAX_KEYS_RECORD + 12)
  private endR = new Uint16Array(64);
  private crcR = new Uint32Array(64);
  private paR = new Float64Array(64);
  private pbR = new Float64Array(64);
  private dateR = new Float64Array(64);
  private thrR = new Int32Array(64);
  /** The base subject's number in `subjects` (-1: empty, -2: not worked out yet) and reply flag. */
  private subjR = new Int32Array(64);
  private rfR = new Uint8Array(64);
  private readonly idStr: (string | undefined)[] = [];
  private idStrBytes = 0;
  private decodedR: (LazyKeys | undefined)[] = [];
  rows = 0;
  /** The IDs of this table's records as numbers; `pool` holds per row [messageId, first In-Reply-To,
   *  n, n References] (-1: none) from thrR[row]. */
  private idSpace = new IdSpace();
  /** The base subjects' i;unicode-casemap keys (UTF-8) as numbers. */
  private subjSpace = new IdSpace();
  /** A compacted file's threads block not read yet (read at the first need of a row's threading or
   *  subject numbers, before any is worked out: its numbers are those of its ID spaces). */
  private thr: { from: number; len: number; crc: number } | null = null;
  /** Rows taken from a columns block (loadColumns): those a threads block describes. */
  private colRows = 0;
  /** Where the file's threads block is, once its numbers were taken (`idle` drops them: read again). */
  private thrBlock: { from: number; len: number; crc: number } | null = null;

  /** The IDs of this table's records as numbers. */
  get ids(): IdSpace { this.threadsFirst(); return this.idSpace; }
  /** The base subjects' i;unicode-casemap keys (UTF-8) as numbers. */
  get subjects(): IdSpace { this.threadsFirst(); return this.subjSpace; }

  /** Read the threads block if there is one not read yet: its numbers are taken when its CRC holds and
   *  they are in range, else the rows' numbers are worked out from their records when asked. */
  private threadsFirst(): void {
    const t = this.thr;
    if (!t) return;
    this.thr = null;
    let b = this.source?.(t.from, t.len) ?? null;
    if (!b || b.length !== t.len || crc32(b) !== t.crc) return;
    if (b.byteOffset % 8) { const c = Buffer.allocUnsafeSlow(b.length); b.copy(c); b = c; }
    if (this.loadThreads(b)) this.thrBlock = t;
  }

  private pool = new Int32Array(1024);
  private poolUsed = 0;

  row(uid: number): number {
    return uid < this.rowOf.length ? this.rowOf[uid]! : (this.far?.get(uid) ?? -1);
  }

  private setRow(uid: number, r: number): void {
    if (uid >= this.rowOf.length) {
      // Dense while the UIDs are (at most 4 slots a row): an array indexed by UID, no hashing.
      const want = Math.max(1024, uid + 1, this.rowOf.length * 2);
      if (want > 4 * (this.rows + 1024)) {
        (this.far ??= new Map()).set(uid, r);
        return;
      }
      const x = new Int32Array(want).fill(-1);
      x.set(this.rowOf);
      this.rowOf = x;
      if (this.far) {
        for (const [u, row] of this.far) if (u < want) { x[u] = row; this.far.delete(u); }
        if (!this.far.size) this.far = null;
      }
    }
    this.rowOf[uid] = r;
  }

  /** The file's bytes from `from` on, just read (`formed`: its records are checked as they are taken in). */
  addSegment(from: number, buf: Buffer, formed = true): void {
    this.segs.push({ from, buf, formed });
    this.heldBytes += buf.length;
  }

  /** Many records will be asked for: read a compacted body not yet read in one piece. */
  wantAll(): void {
    this.bulk = true;
  }

  /**
   * Rows from a compacted file's columns block (`block`, `n` rows, its CRC held), describing the records
   * of the body at [bodyFrom, bodyEnd) whose bytes have CRC `bodyCrc`. False (nothing taken) when the
   * rows do not describe records inside the body (each record itself is checked when read: `bytesOf`).
   * The columns are used in place (views of `block`, which must start at an 8-byte boundary).
   */
  loadColumns(block: Buffer, n: number, bodyFrom: number, bodyEnd: number, bodyCrc: number, thr: { from: number; len: number; crc: number } | null): boolean {
    if (this.rows || !LE || block.byteOffset % 8 || block.length < n * COL_ROW) return false;
    // After the fixed part, when some identity is not two numbers: u32 places[n + 1] and the UTF-8 bytes
    // of each such row's identity (rows of two numbers: empty).
    let strs: { offs: Uint32Array; from: number } | null = null;
    if (block.length > n * COL_ROW) {
      const from = n * COL_ROW + 4 * (n + 1);
      if (from > block.length) return false;
      const offs = new Uint32Array(block.buffer, block.byteOffset + n * COL_ROW, n + 1);
      if (offs[0] !== 0 || offs[n]! > block.length - from) return false;
      for (let r = 0; r < n; r++) if (offs[r + 1]! < offs[r]!) return false;
      strs = { offs, from };
    }
    this.rows = n; // while the UID index is made (its dense part is sized by rows)
    const ab = block.buffer as ArrayBuffer;
    const o = block.byteOffset;
    const dateR = new Float64Array(ab, o, n);
    const paR = new Float64Array(ab, o + 8 * n, n);
    const pbR = new Float64Array(ab, o + 16 * n, n);
    const uidR = new Uint32Array(ab, o + 24 * n, n);
    const atR = new Uint32Array(ab, o + 28 * n, n);
    const crcR = new Uint32Array(ab, o + 32 * n, n);
    const keysR = new Uint16Array(ab, o + 36 * n, n);
    const endR = new Uint16Array(ab, o + 38 * n, n);
    for (let r = 0; r < n; r++) {
      const at = atR[r]!;
      const end = endR[r]!;
      const k = keysR[r]!;
      if (at < bodyFrom || at + end > bodyEnd || end > MAX_KEYS_RECORD + 12 || k < 20 || k + 16 > end || this.row(uidR[r]!) >= 0) {
        this.rowOf = new Int32Array(0);
        this.far = null;
        this.rows = 0;
        return false;
      }
      this.setRow(uidR[r]!, r);
    }
    this.dateR = dateR; this.paR = paR; this.pbR = pbR; this.uidR = uidR; this.atR = atR; this.crcR = crcR; this.keysR = keysR; this.endR = endR;
    if (strs) {
      for (let r = 0; r < n; r++) {
        if (!Number.isNaN(paR[r]!)) continue;
        const id = block.toString('utf8', strs.from + strs.offs[r]!, strs.from + strs.offs[r + 1]!);
        this.idStr[r] = id;
        this.idStrBytes += 24 + 2 * id.length;
      }
    }
    this.thrR = new Int32Array(n).fill(-1);
    this.subjR = new Int32Array(n).fill(-2);
    this.rfR = new Uint8Array(n);
    this.body = { from: bodyFrom, end: bodyEnd, crc: bodyCrc, state: 'unread' };
    this.thr = thr && thr.len ? thr : null;
    this.colRows = n;
    return true;
  }

  /** The columns block of rows 0..rows-1 (loadColumns' layout; places moved by `shift`): the fixed part,
   *  then, when a row's identity is not two numbers, every row's identity place and those identities. */
  columnsBlock(shift: number): Buffer {
    const n = this.rows;
    let strBytes = 0;
    let any = false;
    for (let r = 0; r < n; r++) {
      const id = this.idStr[r];
      if (id !== undefined) { any = true; strBytes += Buffer.byteLength(id, 'utf8'); }
    }
    const fixed = n * COL_ROW;
    const out = Buffer.alloc(any ? fixed + 4 * (n + 1) + strBytes : fixed);
    let at = 0;
    const put = (a: Float64Array | Uint32Array | Uint16Array): void => {
      const b = Buffer.from(a.buffer, a.byteOffset, n * a.BYTES_PER_ELEMENT);
      b.copy(out, at);
      at += b.length;
    };
    put(this.dateR); put(this.paR); put(this.pbR); put(this.uidR);
    for (let r = 0; r < n; r++) out.writeUInt32LE(this.atR[r]! + shift, at + 4 * r);
    at += 4 * n;
    put(this.crcR); put(this.keysR); put(this.endR);
    if (any) {
      let p = fixed + 4 * (n + 1);
      const from = p;
      out.writeUInt32LE(0, fixed);
      for (let r = 0; r < n; r++) {
        const id = this.idStr[r];
        if (id !== undefined) p += out.write(id, p, 'utf8');
        out.writeUInt32LE(p - from, fixed + 4 * (r + 1));
      }
    }
    return out;
  }

  /**
   * The threads block of rows 0..rows-1, every row's threading and base subject numbers worked out
   * (threadRow, subjectRow): u32 ID count, ID bytes, subject count, subject bytes, pool length; i32
   * thrR[rows], subjR[rows]; u32 ID places[count + 1], subject places[count + 1]; i32 pool; u8 reply
   * flags[rows]; the ID bytes; the subject bytes; zeros to a multiple of 8. Null when a row's record
   * cannot be read.
   */
  threadsBlock(): Buffer | null {
    const n = this.rows;
    for (let r = 0; r < n; r++) if (this.threadRow(r) < 0 || this.subjectRow(r) === -2) return null;
    const ids = this.ids.parts();
    const sub = this.subjects.parts();
    const words = 5 + 2 * n + ids.offs.length + sub.offs.length + this.poolUsed;
    const len = 4 * words + n + ids.arena.length + sub.arena.length;
    const out = Buffer.alloc((len + 7) & ~7);
    let at = 0;
    for (const v of [ids.offs.length - 1, ids.arena.length, sub.offs.length - 1, sub.arena.length, this.poolUsed]) { out.writeUInt32LE(v, at); at += 4; }
    const put = (a: Int32Array | Uint32Array | Uint8Array | Buffer, k: number): void => {
      const b = Buffer.from(a.buffer, a.byteOffset, k * a.BYTES_PER_ELEMENT);
      b.copy(out, at);
      at += b.length;
    };
    put(this.thrR, n); put(this.subjR, n); put(ids.offs, ids.offs.length); put(sub.offs, sub.offs.length); put(this.pool, this.poolUsed);
    put(this.rfR, n); put(ids.arena, ids.arena.length); put(sub.arena, sub.arena.length);
    return out;
  }

  /** Rows' threading and subject numbers from a threads block (`threadsBlock`; its CRC held, at an
   *  8-byte boundary) for the rows loadColumns took: used in place. False (nothing taken) when a
   *  number is out of its range. */
  loadThreads(block: Buffer): boolean {
    const n = this.colRows;
    if (!n || block.byteOffset % 8 || block.length < 20) return false;
    const ab = block.buffer as ArrayBuffer;
    const o = block.byteOffset;
    const idCount = block.readUInt32LE(0);
    const idBytes = block.readUInt32LE(4);
    const subCount = block.readUInt32LE(8);
    const subBytes = block.readUInt32LE(12);
    const poolLen = block.readUInt32LE(16);
    const words = 5 + 2 * n + (idCount + 1) + (subCount + 1) + poolLen;
    if (4 * words + n + idBytes + subBytes > block.length) return false;
    let at = o + 20;
    const i32 = (k: number): Int32Array<ArrayBuffer> => { const a = new Int32Array(ab, at, k); at += 4 * k; return a; };
    const u32 = (k: number): Uint32Array<ArrayBuffer> => { const a = new Uint32Array(ab, at, k); at += 4 * k; return a; };
    const thrR = i32(n);
    const subjR = i32(n);
    const idOffs = u32(idCount + 1);
    const subOffs = u32(subCount + 1);
    const pool = i32(poolLen);
    const rfR = new Uint8Array(ab, at, n); at += n;
    const ids = IdSpace.load(Buffer.from(ab, at, idBytes), idOffs, idCount); at += idBytes;
    const subjects = IdSpace.load(Buffer.from(ab, at, subBytes), subOffs, subCount);
    if (!ids || !subjects) return false;
    for (let r = 0; r < n; r++) {
      const a = thrR[r]!;
      const sj = subjR[r]!;
      if (a < 0 || a + 3 > poolLen || sj < -1 || sj >= subCount || rfR[r]! > 1) return false;
      const m = pool[a + 2]!;
      if (m < 0 || a + 3 + m > poolLen) return false;
      if (pool[a]! < -1 || pool[a]! >= idCount || pool[a + 1]! < -1 || pool[a + 1]! >= idCount) return false;
      for (let k = 0; k < m; k++) { const v = pool[a + 3 + k]!; if (v < 0 || v >= idCount) return false; }
    }
    if (this.rows === n) {
      this.thrR = thrR; this.subjR = subjR; this.rfR = rfR;
    } else { // rows added since (appended records: none worked out yet, threadRow reads this block first)
      this.thrR.set(thrR); this.subjR.set(subjR); this.rfR.set(rfR);
    }
    this.pool = pool; this.poolUsed = poolLen;
    this.idSpace = ids; this.subjSpace = subjects;
    return true;
  }

  /** Takes in a record of `uid`, checked (CRC), at b[p, end) (the file's offset `base` is b[0]); its
   *  identity as written at b[idAt, keys). */
  set(uid: number, base: number, b: Buffer, p: number, keys: number, end: number, idAt: number): void {
    let r = this.row(uid);
    if (r >= 0 && this.thr) this.threadsFirst(); // the block's numbers for this row would be another record's
    if (r < 0) {
      r = this.rows++;
      this.setRow(uid, r);
      if (r >= this.uidR.length) {
        this.uidR = room(this.uidR, r); this.atR = room(this.atR, r); this.keysR = room(this.keysR, r); this.endR = room(this.endR, r);
        this.crcR = room(this.crcR, r); this.paR = room(this.paR, r); this.pbR = room(this.pbR, r); this.dateR = room(this.dateR, r);
        this.thrR = room(this.thrR, r); this.subjR = room(this.subjR, r); this.rfR = room(this.rfR, r);
      }
    }
    this.uidR[r] = uid;
    this.atR[r] = base + p;
    this.keysR[r] = keys - p;
    this.endR[r] = end - p;
    this.crcR[r] = b.readUInt32LE(p + 8);
    this.dateR[r] = b.readDoubleLE(keys);
    this.thrR[r] = -1;
    this.subjR[r] = -2;
    this.decodedR[r] = undefined;
    // `${a}.${b}`, both as String(number) writes a safe integer: compared as numbers.
    const dot = b.indexOf(0x2e, idAt);
    const a = dot >= 0 && dot < keys ? digitsAt(b, idAt, dot) : NaN;
    const c = Number.isNaN(a) ? NaN : digitsAt(b, dot + 1, keys);
    const was = this.idStr[r];
    if (was !== undefined) { this.idStrBytes -= 24 + 2 * was.length; this.idStr[r] = undefined; }
    if (!Number.isNaN(c)) {
      this.paR[r] = a;
      this.pbR[r] = c;
    } else {
      const id = b.toString('utf8', idAt, keys);
      const [pa, pb] = pairOf(id);
      this.paR[r] = pa;
      this.pbR[r] = pb;
      if (Number.isNaN(pa)) { this.idStr[r] = id; this.idStrBytes += 24 + 2 * id.length; }
    }
  }

  /** Whether row `r`'s identity is `identity`. */
  isIdentity(r: number, identity: string): boolean {
    let s = this.idStr[r];
    if (s === undefined && Number.isNaN(this.paR[r]!)) {
      // A row from a columns block keeps no identity string: read from its record at the first ask.
      const rec = this.bytesOf(r);
      if (!rec) return false;
      s = this.idStr[r] = rec.toString('utf8', 20, this.keysR[r]!);
      this.idStrBytes += 24 + 2 * s.length;
    }
    if (s !== undefined) return s === identity;
    const [a, b] = pairOf(identity);
    return this.paR[r] === a && this.pbR[r] === b;
  }

  isPair(r: number, a: number, b: number): boolean {
    return this.paR[r] === a && this.pbR[r] === b;
  }

  /** The sent date of row `r` (NaN: none), as the record has it. */
  sentDate(r: number): number {
    return this.dateR[r]!;
  }

  /** Record length in the file (framing included). */
  size(r: number): number { return this.endR[r]!; }
  uidAt(r: number): number { return this.uidR[r]!; }

  /** Row `r`'s record as the file holds it (framing included): from memory, or read again and believed
   *  only if it is the record checked before (magic, length, CRC as kept); null (and `broken`) if not. */
  bytesOf(r: number): Buffer | null {
    const at = this.atR[r]!;
    const end = at + this.endR[r]!;
    for (const s of this.segs) {
      if (at >= s.from && end <= s.from + s.buf.length) {
        const rec = s.buf.subarray(at - s.from, end - s.from);
        return s.formed ? rec : this.believe(r, rec, false);
      }
    }
    const body = this.body;
    if (body && this.bulk && body.state === 'unread' && at >= body.from && end <= body.end) {
      // One read and one CRC for the whole body; a body whose CRC fails is read record by record.
      const b = this.source?.(body.from, body.end - body.from) ?? null;
      if (b && b.length === body.end - body.from && crc32(b) === body.crc) {
        body.state = 'ok';
        this.addSegment(body.from, b, false);
        return this.believe(r, b.subarray(at - body.from, end - body.from), false);
      }
      if (b) body.state = 'bad';
    }
    let from: number;
    let b: Buffer | null | undefined;
    const ci = Math.floor(at / CHUNK);
    if (end <= (ci + 1) * CHUNK) {
      from = ci * CHUNK;
      b = this.chunks.get(ci);
      if (!b) {
        b = this.source?.(from, CHUNK) ?? null;
        if (b) { this.chunks.set(ci, b); this.heldBytes += b.length; }
      }
    } else {
      from = at;
      b = this.source?.(at, end - at) ?? null;
    }
    return this.believe(r, b && end - from <= b.length ? b.subarray(at - from, end - from) : null, true);
  }

  /** `rec` if it is row r's record: magic, length, CRC as kept (`crc`: computed too, else the bytes were
   *  checked by a body CRC), UID, identity length as kept and well formed; else null, and `broken`. */
  private believe(r: number, rec: Buffer | null, crc: boolean): Buffer | null {
    const c = this.crcR[r]!;
    const keys = this.keysR[r]!;
    if (!rec || rec.length < 20 || rec.readUInt32LE(0) !== MAGIC || rec.readUInt32LE(4) !== rec.length - 12 || rec.readUInt32LE(8) !== c ||
        (crc && crc32(rec.subarray(12)) !== c) || rec.readUInt32LE(12) !== this.uidR[r] || rec.readUInt32LE(16) !== keys - 20 ||
        !wellFormed(rec, keys, rec.length)) {
      this.broken = true;
      return null;
    }
    return rec;
  }

  decoded(r: number): LazyKeys | undefined { return this.decodedR[r]; }
  /** Row `r`'s keys as an object (kept with the row while the entry is held); null: its bytes are not
   *  the record's any more (`bytesOf`). */
  lazy(r: number): LazyKeys | null {
    const rec = this.bytesOf(r);
    return rec ? (this.decodedR[r] = new LazyKeys(this.uidR[r]!, rec, this.keysR[r]!, rec.length)) : null;
  }

  /** Where row `r`'s threading numbers start in `threadPool()`: [messageId, first In-Reply-To, n, n
   *  References], -1 for none; worked out from the record's bytes at the first ask (no string made).
   *  -1 also when the record's bytes cannot be had (`bytesOf`): the caller parses the message. */
  threadRow(r: number): number {
    if (this.thr) this.threadsFirst();
    const have = this.thrR[r]!;
    if (have >= 0) return have;
    const b = this.bytesOf(r);
    if (!b) return -1;
    let p = this.keysR[r]!;
    const skipStr = (): void => { const len = b.readUInt32LE(p); p += 4; if (len !== NULL) p += len; };
    p += 16; // sentDate, sentDay
    skipStr(); skipStr(); // dateHeader, subject
    for (let k = 0; k < 3; k++) if (b[p++] !== 0) { skipStr(); skipStr(); skipStr(); } // from, to, cc
    let mid = -1;
    const midLen = b.readUInt32LE(p); p += 4;
    if (midLen !== NULL) { mid = this.idSpace.intern(b, p, p + midLen); p += midLen; }
    const nIrt = b.readUInt32LE(p); p += 4;
    let irt = -1;
    for (let k = 0; k < nIrt; k++) {
      const len = b.readUInt32LE(p); p += 4;
      if (k === 0) irt = this.idSpace.intern(b, p, p + len);
      p += len;
    }
    const nRefs = b.readUInt32LE(p); p += 4;
    const at = this.poolUsed;
    this.pool = room(this.pool, at + 3 + nRefs);
    this.pool[at] = mid;
    this.pool[at + 1] = irt;
    this.pool[at + 2] = nRefs;
    for (let k = 0; k < nRefs; k++) {
      const len = b.readUInt32LE(p); p += 4;
      this.pool[at + 3 + k] = this.idSpace.intern(b, p, p + len);
      p += len;
    }
    this.poolUsed = at + 3 + nRefs;
    this.thrR[r] = at;
    return at;
  }

  threadPool(): Int32Array { return this.pool; }

  /** Row `r`'s base subject as a number of `subjects` (-1: empty; its reply flag: `replyOrForward`),
   *  worked out from the record at the first ask and kept; -2 when the record's bytes cannot be had
   *  (`bytesOf`): the caller parses the message. */
  subjectRow(r: number): number {
    if (this.thr) this.threadsFirst();
    const have = this.subjR[r]!;
    if (have !== -2) return have;
    const b = this.bytesOf(r);
    if (!b) return -2;
    const k = subjectKey(subjectAt(b, this.keysR[r]!));
    this.rfR[r] = k.replyOrForward ? 1 : 0;
    return (this.subjR[r] = k.key === '' ? -1 : this.subjSpace.internString(k.key));
  }

  replyOrForward(r: number): boolean { return this.rfR[r] === 1; }

  /** No handle holds the entry: keep the columns only, each at its used size — no byte of a record, no
   *  decoded record (read again when asked: `bytesOf`), no ID lookup table (IdSpace.trim). */
  idle(): void {
    this.segs = [];
    this.chunks.clear();
    this.heldBytes = 0;
    this.decodedR = [];
    this.bulk = false;
    if (this.body?.state === 'ok') this.body.state = 'unread';
    if (this.thrBlock) {
      // Numbers that came from the file's threads block: not kept (most of an idle entry's size), read
      // again (one read, one CRC) at the next need; those of rows appended since are worked out again.
      this.thr = this.thrBlock;
      this.thrBlock = null;
      const n = this.rows;
      this.thrR = new Int32Array(n).fill(-1);
      this.subjR = new Int32Array(n).fill(-2);
      this.rfR = new Uint8Array(n);
      this.pool = new Int32Array(0);
      this.poolUsed = 0;
      this.idSpace = new IdSpace();
      this.subjSpace = new IdSpace();
    }
    const n = this.rows;
    if (this.uidR.length > n) {
      this.uidR = this.uidR.slice(0, n); this.atR = this.atR.slice(0, n); this.keysR = this.keysR.slice(0, n); this.endR = this.endR.slice(0, n);
      this.crcR = this.crcR.slice(0, n); this.paR = this.paR.slice(0, n); this.pbR = this.pbR.slice(0, n); this.dateR = this.dateR.slice(0, n);
      this.thrR = this.thrR.slice(0, n); this.subjR = this.subjR.slice(0, n); this.rfR = this.rfR.slice(0, n);
    }
    if (this.pool.length > this.poolUsed) this.pool = this.pool.slice(0, this.poolUsed);
    this.idSpace.trim();
    this.subjSpace.trim();
  }

  /** Memory held by the columns and ID numbers (not the records' bytes: `heldBytes`), for the budget:
   *  typed arrays at their allocated length, JS arrays at 8 bytes a slot plus their strings. */
  get columnBytes(): number {
    return 512 + this.uidR.length * 49 + this.rowOf.length * 4 + (this.far?.size ?? 0) * 40 + this.idStr.length * 8 + this.idStrBytes +
      this.decodedR.length * 8 + this.pool.length * 4 + this.idSpace.bytes + this.subjSpace.bytes + this.chunks.size * 96 + this.segs.length * 96;
  }

  keys(): number[] {
    const out: number[] = [];
    for (let r = 0; r < this.rows; r++) out.push(this.uidR[r]!);
    return out;
  }
}

interface Shared {
  /** Open while a handle holds the entry; -1 while idle (the columns stay: SlotTable.idle). */
  fd: number;
  ino: number;
  dev: number;
  /** Birth time of the file (0 where the file system has none): a recycled inode number has another. */
  birth: number;
  /** Bytes of the file taken in so far (a record start, or the start of bytes not yet understood). */
  indexed: number;
  uidValidity: number;
  /** The format read (1, 2; 0: none yet) and the bytes of its body believed by the body's CRC (2). */
  version: number;
  bodyFrom: number;
  bodyLen: number;
  /** Inode of a file whose records were found not to be where its columns said (changed in place since
   *  it was written): its columns are not used again (its body is scanned), and it is compacted. */
  distrust: number;
  map: SlotTable;
  /** The decoded records' estimate (sharedBytes: the budget's figure). */
  decodedBytes: number;
  /** The file's first bytes and those just before `indexed` (`fingerprint`), kept when the fd was
   *  closed: compared when it is opened again. */
  tail: Buffer | null;
}

/** A compacted file of these records (each framed, its CRC checked or just made; one per UID):
 *  header, the records' columns (none where typed arrays are not little endian), their threading and
 *  base subject numbers (none when the file would be over `cap` with them), the records. */
export function compactedFile(uidValidity: number, recs: readonly Buffer[], cap = Infinity): Buffer {
  let bodyLen = 0;
  for (const rec of recs) bodyLen += rec.length;
  const body = Buffer.allocUnsafe(bodyLen);
  const t = new SlotTable();
  let at = 0;
  for (const rec of recs) {
    rec.copy(body, at);
    t.set(rec.readUInt32LE(12), at, rec, 0, 20 + rec.readUInt32LE(16), rec.length, 20);
    at += rec.length;
  }
  t.addSegment(0, body);
  const n = LE && t.rows === recs.length ? recs.length : 0; // (one record per UID: as callers give them)
  const cols = n ? t.columnsBlock(0) : Buffer.alloc(0);
  let threads = n ? t.threadsBlock() : null;
  if (threads && HEAD_LEN + cols.length + threads.length + bodyLen > cap) threads = null; // within the cap without it
  const colEnd = HEAD_LEN + cols.length;
  const bodyFrom = colEnd + (threads?.length ?? 0);
  const out = Buffer.allocUnsafe(bodyFrom + bodyLen);
  // The records' places in this file: the columns again, moved past header, columns and threads.
  if (n) t.columnsBlock(bodyFrom).copy(out, HEAD_LEN);
  threads?.copy(out, colEnd);
  body.copy(out, bodyFrom);
  out.fill(0, 0, HEAD_LEN);
  HEAD.copy(out, 0);
  out.writeUInt32LE(uidValidity >>> 0, 8);
  out.writeUInt32LE(n, 12);
  out.writeUInt32LE(cols.length, 16);
  out.writeUInt32LE(crc32(out.subarray(HEAD_LEN, colEnd)), 20);
  out.writeUInt32LE(threads?.length ?? 0, 24);
  out.writeUInt32LE(crc32(out.subarray(colEnd, bodyFrom)), 28);
  out.writeUInt32LE(bodyLen, 32);
  out.writeUInt32LE(crc32(body), 36);
  out.writeUInt32LE(crc32(out.subarray(0, 44)), 44);
  return out;
}

/** What an entry keeps alive: the file's bytes it holds (SlotTable.heldBytes: none when idle), its
 *  columns and ID numbers, and the records decoded as objects (LazyKeys: the object, its strings once
 *  decoded, 2 B a byte of the record as an estimate, and what callers derive from it and key on it,
 *  sort-keys.ts; none when idle). */
function sharedBytes(sh: Shared): number {
  return 256 + sh.map.heldBytes + sh.decodedBytes + sh.map.columnBytes + (sh.tail?.length ?? 0);
}

/** A table whose records are read again through the entry's descriptor (whichever is open then). */
function tableOf(sh: Shared): SlotTable {
  const t = new SlotTable();
  t.source = (pos, len) => {
    if (sh.fd < 0 || sh.map !== t) return null;
    const b = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const n = readSync(sh.fd, b, got, len - got, pos + got);
      if (n <= 0) break;
      got += n;
    }
    return got === len ? b : b.subarray(0, got);
  };
  return t;
}

function freshShared(): Shared {
  const sh: Shared = { fd: -1, ino: -1, dev: -1, birth: 0, indexed: 0, uidValidity: 0, version: 0, bodyFrom: 0, bodyLen: 0, distrust: -1, map: null as unknown as SlotTable, decodedBytes: 0, tail: null };
  sh.map = tableOf(sh);
  return sh;
}

function resetShared(sh: Shared): void {
  forgetFile(sh);
  sh.uidValidity = 0;
  sh.version = 0;
  sh.bodyFrom = 0;
  sh.bodyLen = 0;
  sh.map = tableOf(sh);
  sh.decodedBytes = 0;
}

/**
 * The files' contents known to this process, by path: a cache, every use checks the file first. Held
 * while a handle has the file (KeysFile: from its construction to its close()); an idle entry keeps its
 * columns (so that the next session of a resident worker re-reads only what was appended since, and a
 * record's bytes only when a key beyond the columns is asked for) but not its descriptor: the next handle opens the path again, checks the descriptor (owner, mode, links) and
 * believes the tables only for the same file (device, inode, birth time, not shorter, the same header
 * and bytes before `indexed`). Idle entries are under the process's budget (process-cache.ts).
 */
const cache = new ProcessCache<string, Shared>('facts-keys', processCaches, (sh) => resetShared(sh));

export interface KeysFileOptions {
  dir: string;
  name: string;
  writable: boolean;
  log?: Logger;
  /** Cap in bytes (default: 256 KB + 1 KB per message, at most 64 MB). */
  maxBytes?: number;
}

export class KeysFile {
  readonly path: string;
  /** What is known of the file, shared by every handle of this process on the same path. */
  private sh: Shared;
  /** Lets go of the cache entry (once, in close()). */
  private readonly release: ReturnType<typeof cache.hold>;
  /** This handle checked the shared descriptor's file (owner, mode, links) itself. */
  private verified = false;
  private pending: { uid: number; rec: Buffer }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private noWrite = false;
  private state: MailboxState | null = null;
  private closed = false;
  private looked = false;
  private full = false;

  constructor(private readonly opts: KeysFileOptions) {
    this.path = `${opts.dir}/${opts.name}`;
    this.release = cache.hold(this.path);
    this.sh = this.attach();
  }

  /** The process's entry for the path (made if there is none). */
  private attach(): Shared {
    let sh = cache.get(this.path);
    if (!sh) cache.set(this.path, (sh = freshShared()), 0);
    return sh;
  }

  private reset(): void {
    resetShared(this.sh);
  }

  /** Is the open file still the one at the path, and has it grown? Take in what is new. */
  private sync(): void {
    if (cache.get(this.path) !== this.sh) this.sh = this.attach(); // dropped meanwhile (cleared)
    if (this.sh.map.broken) { // bytes read again were not the records checked: read anew (not by its columns)
      const ino = this.sh.ino;
      this.reset();
      this.sh.distrust = ino;
    }
    const r = refreshKept(this.path, this.opts.dir, this.sh, this.verified, () => this.reset());
    if (r === 'gone') return;
    this.verified = true;
    if (r === 'untrusted') {
      if (!this.noWrite) this.opts.log?.warn({ path: this.path }, 'facts keys cache not trusted (owner, mode or links): ignored');
      this.noWrite = true;
      return;
    }
    if (this.sh.fd < 0) return;
    const size = fstatSync(this.sh.fd).size;
    if (size > this.sh.indexed) {
      this.takeIn(size);
      cache.set(this.path, this.sh, sharedBytes(this.sh));
    }
  }

  /** Read [from, len) of the open file into `b` (from its start); the bytes got. */
  private readAt(b: Buffer, pos: number): number {
    let got = 0;
    while (got < b.length) {
      const n = readSync(this.sh.fd, b, got, b.length - got, pos + got);
      if (n <= 0) break;
      got += n;
    }
    return got;
  }

  /**
   * Take in the file's bytes from `indexed` to `size`. At its start, the header: a compacted file's
   * columns are taken as the table when their CRC holds and they describe the body (its records are then
   * read only when asked for: SlotTable.bytesOf), else its body is scanned, its records believed by the
   * body's CRC when that holds, each by its own otherwise; a first-format file is scanned record by
   * record. A header that is neither (or whose own CRC fails) makes the file not believed at all.
   */
  private takeIn(size: number): void {
    const sh = this.sh;
    if (sh.indexed > 0) { this.scan(sh.indexed, size, 0, 0, 0); return; }
    const head = Buffer.alloc(HEAD_LEN);
    const got = this.readAt(head.subarray(0, Math.min(HEAD_LEN, size)), 0);
    sh.uidValidity = 0;
    if (got >= HEAD1_LEN && head.subarray(0, 8).equals(HEAD1)) {
      sh.uidValidity = head.readUInt32LE(8);
      sh.version = 1;
      sh.bodyFrom = HEAD1_LEN;
      if (sh.uidValidity) this.scan(HEAD1_LEN, size, 0, 0, 0);
      return;
    }
    if (got < HEAD_LEN || !head.subarray(0, 8).equals(HEAD) || crc32(head.subarray(0, 44)) !== head.readUInt32LE(44)) return;
    const uidValidity = head.readUInt32LE(8);
    const n = head.readUInt32LE(12);
    const colEnd = HEAD_LEN + head.readUInt32LE(16);
    const thrLen = head.readUInt32LE(24);
    const bodyFrom = colEnd + thrLen;
    const bodyEnd = bodyFrom + head.readUInt32LE(32);
    const bodyCrc = head.readUInt32LE(36);
    if (!uidValidity) return;
    sh.uidValidity = uidValidity;
    sh.version = 2;
    sh.bodyFrom = bodyFrom;
    if (bodyEnd > size) { // not the file its header describes: each record by its own CRC
      sh.bodyFrom = HEAD_LEN;
      this.scan(HEAD_LEN, size, 0, 0, 0);
      return;
    }
    if (n > 0 && sh.ino !== sh.distrust) {
      const block = Buffer.allocUnsafeSlow(colEnd - HEAD_LEN); // its own memory, at an 8-byte boundary: the columns are views of it
      if (this.readAt(block, HEAD_LEN) === block.length && crc32(block) === head.readUInt32LE(20) &&
          sh.map.loadColumns(block, n, bodyFrom, bodyEnd, bodyCrc, { from: colEnd, len: thrLen, crc: head.readUInt32LE(28) })) {
        sh.indexed = bodyEnd;
        sh.bodyLen = bodyEnd - bodyFrom;
        if (size > bodyEnd) this.scan(bodyEnd, size, 0, 0, 0);
        return;
      }
    }
    this.scan(bodyFrom, size, bodyFrom, bodyEnd, bodyCrc);
  }

  /** Read [from, size) in one piece and index its whole records: each believed by its CRC, or, inside
   *  [bodyFrom, bodyEnd) when those bytes have CRC `bodyCrc`, by that. */
  private scan(from: number, size: number, bodyFrom: number, bodyEnd: number, bodyCrc: number): void {
    const buf = Buffer.allocUnsafe(size - from);
    const got = this.readAt(buf, from);
    this.sh.map.addSegment(from, buf);
    let checkedFrom = 0;
    let checkedEnd = 0; // records inside [checkedFrom, checkedEnd) of buf need no CRC of their own
    if (bodyEnd > bodyFrom && bodyFrom >= from && bodyEnd <= from + got && crc32(buf.subarray(bodyFrom - from, bodyEnd - from)) === bodyCrc) {
      checkedFrom = bodyFrom - from;
      checkedEnd = bodyEnd - from;
      this.sh.bodyLen = bodyEnd - bodyFrom;
    }
    let p = 0;
    let stop = got; // where the bytes not yet understood start
    const map = this.sh.map;
    while (p + 12 <= got) {
      if (buf.readUInt32LE(p) !== MAGIC) {
        const next = buf.indexOf(MAGIC_BYTES, p + 1);
        if (next < 0) { stop = Math.max(p, got - 3); p = got; break; }
        p = next;
        continue;
      }
      const len = buf.readUInt32LE(p + 4);
      if (len > MAX_KEYS_RECORD || len < 8) { p++; continue; }
      const end = p + 12 + len;
      if (end > got) { stop = p; p = got; break; } // an append in progress, or torn
      if ((p < checkedFrom || end > checkedEnd) && crc32(buf.subarray(p + 12, end)) !== buf.readUInt32LE(p + 8)) { p++; continue; }
      const uid = buf.readUInt32LE(p + 12);
      const idLen = buf.readUInt32LE(p + 16);
      const idAt = p + 20;
      const keys = idAt + idLen;
      // A record is indexed only when well formed, so that its lazy decoding cannot fail later.
      if (idLen <= len - 8 && wellFormed(buf, keys, end)) map.set(uid, from, buf, p, keys, end, idAt);
      p = end;
    }
    this.sh.indexed = from + Math.min(p, stop);
  }

  /** The keys cached for `uid` if they are for these bytes (identity) under this UIDVALIDITY. */
  lookup(uid: number, identity: string, uidValidity: number, resync: boolean): LazyKeys | undefined {
    const t = this.table(uidValidity, resync);
    const r = t ? t.row(uid) : -1;
    return r >= 0 && t!.isIdentity(r, identity) ? this.decoded(t!, r) : undefined;
  }

  /** lookup() for an identity of two numbers, `${a}.${b}` (as pairOf() reads it): compared as numbers. */
  lookupPair(uid: number, a: number, b: number, uidValidity: number, resync: boolean): LazyKeys | undefined {
    const t = this.table(uidValidity, resync);
    const r = t ? t.row(uid) : -1;
    return r >= 0 && t!.isPair(r, a, b) ? this.decoded(t!, r) : undefined;
  }

  /**
   * The records as they are now (resync: the file looked at again first) under this UIDVALIDITY, as
   * columns; null when there are none to believe. The table stays valid (its rows and ID numbers keep
   * their meaning) for as long as the caller runs synchronously; a later call may hand out another
   * table (the file was replaced).
   */
  table(uidValidity: number, resync: boolean): SlotTable | null {
    if (this.closed) return null;
    if (resync || !this.looked) {
      this.looked = true;
      try { this.sync(); } catch { this.reset(); }
    }
    if (this.sh.fd < 0 || this.sh.uidValidity !== uidValidity) return null;
    return this.sh.map;
  }

  /** Threading numbers were worked out: the entry's figure for the budget follows. */
  charge(): void {
    if (cache.get(this.path) === this.sh) cache.set(this.path, this.sh, sharedBytes(this.sh));
  }

  private decoded(t: SlotTable, r: number): LazyKeys | undefined {
    let k = t.decoded(r);
    if (!k) {
      k = t.lazy(r) ?? undefined; // none: the file is not what the table describes (read anew at the next sync)
      if (k && t === this.sh.map) this.sh.decodedBytes += 300 + 3 * k.payloadBytes;
    }
    return k;
  }

  /** The UIDs with a whole record in the file as it is now, for this UIDVALIDITY (checks, tests). */
  known(uidValidity: number): number[] {
    try { this.sync(); } catch { this.reset(); }
    return this.sh.fd >= 0 && this.sh.uidValidity === uidValidity ? this.sh.map.keys().sort((a, b) => a - b) : [];
  }

  /** Queue a record (written soon, in a batch). */
  add(uid: number, identity: string, sk: SortKeys, th: ThreadingKeys, state: MailboxState): void {
    if (!this.opts.writable || this.noWrite || this.closed || this.full) return;
    if (this.state && this.state.uidValidity !== state.uidValidity) this.pending = [];
    this.state = state;
    const payload = encodeKeys(uid, identity, sk, th);
    if (!payload || payload.length > MAX_KEYS_RECORD) return;
    const rec = Buffer.allocUnsafe(12 + payload.length);
    rec.writeUInt32LE(MAGIC, 0);
    rec.writeUInt32LE(payload.length, 4);
    rec.writeUInt32LE(crc32(payload), 8);
    payload.copy(rec, 12);
    this.pending.push({ uid, rec });
    if (this.pending.length >= FLUSH_RECORDS) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => { this.timer = null; this.flush(); }, FLUSH_DELAY_MS);
      this.timer.unref();
    }
  }

  private cap(messages: number): number {
    return this.opts.maxBytes ?? Math.min(64 * 1024 * 1024, 256 * 1024 + 1024 * messages);
  }

  private liveSet: { state: MailboxState; uids: Set<number> } | null = null;

  private isLive(state: MailboxState | null, uid: number): boolean {
    if (!state || uid >= state.uidNext) return true;
    if (this.liveSet?.state !== state) this.liveSet = { state, uids: new Set(state.messages.map((m) => m.uid)) };
    return this.liveSet.uids.has(uid);
  }

  /** Write what is queued: appended, or as a compacted file by atomic replace. Failure costs speed only. */
  flush(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    const batch = this.pending;
    const state = this.state;
    this.pending = [];
    if (!batch.length || !state || this.noWrite) return;
    try {
      this.sync();
      if (this.noWrite) return;
      const size = this.sh.fd >= 0 ? fstatSync(this.sh.fd).size : 0;
      const batchBytes = batch.reduce((n, r) => n + r.rec.length, 0);
      const fresh = new Set(batch.map((r) => r.uid));
      let live = batchBytes + batch.length * COL_ROW + HEAD_LEN;
      const t = this.sh.map;
      for (let r = 0; r < t.rows; r++) if (!fresh.has(t.uidAt(r)) && this.isLive(state, t.uidAt(r))) live += t.size(r) + COL_ROW;
      const cap = this.cap(state.messages.length);
      if (this.sh.fd < 0 || this.sh.uidValidity !== state.uidValidity || (size > 64 * 1024 && live * 2 < size) || size + batchBytes > cap) {
        this.compact(state, batch, cap);
      } else {
        this.append(batch);
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'UNSAFE_PATH' || code === 'EACCES' || code === 'EPERM' || code === 'EROFS') this.noWrite = true;
      this.opts.log?.debug({ err: String(e), path: this.path }, 'facts keys cache not written');
    }
  }

  private append(batch: readonly { uid: number; rec: Buffer }[]): void {
    const fd = openSync(this.path, O_WRONLY | O_APPEND | O_NOFOLLOW);
    try {
      const f = fstatSync(fd);
      // The file we read and checked (a compaction elsewhere may have replaced it: the next flush sees it).
      if (f.ino !== this.sh.ino || !trustedCacheFd(fd, this.opts.dir)) return;
      const data = Buffer.concat(batch.map((r) => r.rec));
      if (process.env.DMAIL_STORE_KILLPOINT?.includes('facts-keys-append-torn')) {
        writeSync(fd, data, 0, (data.length >> 1) + 1);
        killPoint('facts-keys-append-torn');
      }
      let done = 0;
      while (done < data.length) done += writeSync(fd, data, done, data.length - done);
      killPoint('facts-keys-appended');
    } finally {
      closeSync(fd);
    }
  }

  /** Whether the file is worth compacting though nothing is queued: a first-format file, or one whose
   *  records outside its checked body (appended since it was compacted) are many. */
  private loose(): boolean {
    const sh = this.sh;
    if (sh.fd < 0 || !sh.uidValidity || sh.map.broken) return false;
    if (sh.version === 1) return true;
    const out = sh.indexed - sh.bodyFrom - sh.bodyLen;
    return out > LOOSE_MIN && out * 8 > sh.bodyLen;
  }

  /** Compact a file the last sync found loose (`loose`), at the end of a session: so that the next
   *  reader reads columns and one checked body. Failure costs speed only. */
  private tidy(): void {
    if (!this.opts.writable || this.noWrite || !this.looked || !this.loose()) return;
    try {
      this.sync();
      if (this.noWrite || !this.loose()) return;
      const state = this.state?.uidValidity === this.sh.uidValidity ? this.state : null;
      this.compact(state, [], this.cap(state?.messages.length ?? this.sh.map.rows));
    } catch (e) {
      this.opts.log?.debug({ err: String(e), path: this.path }, 'facts keys cache not compacted');
    }
  }

  /** Write the file anew by atomic replace: the live records it holds (`state` null: all), then those
   *  of `batch`, within `cap`, as a compacted file (see the top of this file). */
  private compact(state: MailboxState | null, batch: readonly { uid: number; rec: Buffer }[], cap: number): void {
    const uidValidity = state ? state.uidValidity >>> 0 : this.sh.uidValidity;
    const recs: Buffer[] = [];
    let total = HEAD_LEN + 4;
    // What a record costs the file beyond its bytes: its columns row, its identity's place and at most
    // its identity again (when some identity is not two numbers).
    const cost = (rec: Buffer): number => rec.length + COL_ROW + 4 + rec.readUInt32LE(16);
    const fresh = new Map(batch.map((r) => [r.uid, r.rec]));
    if (this.sh.fd >= 0 && this.sh.uidValidity === uidValidity) {
      const t = this.sh.map;
      t.wantAll();
      for (let r = 0; r < t.rows; r++) {
        const uid = t.uidAt(r);
        if (fresh.has(uid) || !this.isLive(state, uid)) continue;
        const rec = t.bytesOf(r);
        if (!rec) continue; // not the record checked before: left out (its message is parsed again)
        if (total + cost(rec) > cap) { this.full = true; break; }
        recs.push(rec);
        total += cost(rec);
      }
    }
    for (const rec of fresh.values()) {
      if (total + cost(rec) > cap) { this.full = true; break; }
      recs.push(rec);
      total += cost(rec);
    }
    killPoint('facts-keys-compact-before');
    replaceFileSync(this.opts.dir, basename(this.path), compactedFile(uidValidity, recs, cap), { sync: false });
    killPoint('facts-keys-compacted');
    this.reset();
  }

  /** Write what is queued and let go of the entry (exactly once, also when writing failed). */
  close(): void {
    if (this.closed) return;
    try {
      this.flush();
      this.tidy();
    } finally {
      this.closed = true;
      const sh = this.sh;
      // The last handle: the entry shrinks to what an idle one keeps before the budget looks at it.
      this.release((v) => {
        if (v !== sh) return undefined;
        if (!goIdle(sh)) resetShared(sh);
        else { sh.map.idle(); sh.decodedBytes = 0; } // the columns only: records are read again when asked
        return sh.ino < 0 ? null : sharedBytes(sh); // null: nothing worth keeping
      });
      if (cache.held(this.path) && cache.get(this.path) === sh) cache.set(this.path, sh, sharedBytes(sh));
    }
  }
}
