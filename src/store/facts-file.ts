// The per-mailbox facts cache (mbox: `<index dir>/<key>.facts`; maildir: `dmail-facts` in the folder):
// what store/facts.ts parsed out of each message, so that later FETCH ENVELOPE / BODYSTRUCTURE /
// HEADER.FIELDS, header SEARCH keys, SORT and THREAD read a few hundred bytes instead of the message.
//
// Binary (version 3), append-only, little endian:
//   header   `DMFACTS3` u32 UIDVALIDITY u32 0                                       (16 bytes)
//   record   u32 MAGIC, u32 length L of the rest after these 12 bytes, u32 crc32 of that rest, then
//            head     u32 uid, u32 n, n bytes identity (UTF-8), COLUMNS × u32 length of the columns
//            columns  envelope, body, bodystructure (wire strings, one byte a char), sort keys and
//                     threading (JSON), covered header names (list), header fields (u32 count, count ×
//                     (str name, str line (one byte a char), u32 valueAt)), search strings (u32 count of
//                     names, then per name u32 0xffffffff (none kept) or a list); list = u32 count,
//                     count × str; str = u32 byte length + UTF-8
// A command decodes only what it needs of a record: the identity and the columns it asks for, found by
// their lengths (each record's CRC is checked once per process, in one native call, when the file is
// indexed); FETCH ENVELOPE makes one latin1 string per message, a header SEARCH the strings of the field
// asked for: no JSON, and the header fields (the bulk of a record) are never decoded. Version 2 files (text, one JSON record a
// line) and version 1 have another header: they are not believed, and rewritten at the next write.
// A later record for a UID replaces an earlier one. A record is believed only when its CRCs hold, the
// file's UIDVALIDITY is the mailbox's and its identity is the message's as the backend knows it now
// (mbox: RFC822.SIZE + recognition hash; maildir: base name + size): a message rewritten under the same
// UID is parsed afresh. Anything else (a record torn by kill -9, flipped bits, garbage, a file of
// another version) is skipped, found by looking for the next MAGIC whose head holds: it costs a parse,
// never a wrong answer. A torn record at the end of the file is never appended after: the next writer
// compacts instead (so a torn length never swallows good records behind it).
//
// Written only by a handle that may write (never EXAMINE), only into a trusted directory (safe-file.ts)
// and only to a file owned by this uid: the file is created by an atomic replace (header alone, or the
// compacted records), appended to with O_APPEND|O_NOFOLLOW after checking the descriptor (a plain file,
// ours, one link, no group/other write). Read only under the same checks, so facts planted by anyone
// else are never served. Not fsynced: it is a cache.
//
// Bounded: a record above MAX_RECORD is not kept; the file is compacted (live records of current UIDs
// only: expunged messages and replaced records go) by an atomic replace when it is more than a third dead,
// and no more is appended once even the compacted file would pass its cap (1 MB + 8 KB per message, at
// most 256 MB). Cheap to open: nothing happens at SELECT; the first facts() call indexes the file (a
// sequential read through a window that jumps from record to record by their lengths, no string made)
// and keeps only uid → position in memory; records are read through a read-ahead window.
//
// One copy per process (`Shared`): the index, each record's checked identity and the hot decoded
// columns (ENVELOPE, BODY, BODYSTRUCTURE, names, search strings) are shared by the handles on one path
// and kept after the last closes (a `ProcessCache` entry: held by each open handle, idle ones within
// the process's byte budget `resident_cache_size`, without their descriptor), so a resident worker's
// next session reads nothing again. Checked on every use against the file (inode, size, mtime) and by
// each handle's own trust check; decoded columns bounded by MEMO_BUDGET chars in all.
import { closeSync, constants, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Logger } from '../log/types.js';
import { killPoint } from './killpoint.js';
import { replaceFileSync } from './safe-file.js';
import { KeysFile } from './facts-keys.js';
import { digitsAt } from './identity-pair.js';
import { forgetFile, goIdle, refreshKept } from './kept-file.js';
import { ProcessCache, processCaches } from './process-cache.js';
import type { MailboxState, SortKeys, ThreadingKeys } from './types.js';

/** The cacheable part of a message's facts: everything but header fields comes from one parse. */
export interface ParsedFacts {
  envelope: string;
  body: string;
  bodyStructure: string;
  sortKeys: SortKeys;
  threading: ThreadingKeys;
}

/** One top-level header field, kept whole (for HEADER.FIELDS) with where its value starts. */
export interface RawField {
  /** Lower-cased name. */
  name: string;
  /** The field's bytes as a wire string (latin1), folded lines and final line end included. */
  line: string;
  /** Offset of the first byte after the colon in `line`. */
  valueAt: number;
}

const HEAD = Buffer.from('DMFACTS3', 'latin1');
const HEAD_LEN = 16;
const MAGIC = 0x3346444d; // "MDF3" little endian
const MAGIC_BYTES = Buffer.alloc(4);
MAGIC_BYTES.writeUInt32LE(MAGIC, 0);
/** Columns of a record after its head, in this order. */
const COLUMNS = 8;
const C_ENVELOPE = 0;
const C_BODY = 1;
const C_BODYSTRUCTURE = 2;
const C_SORT = 3;
const C_THREAD = 4;
const C_NAMES = 5;
const C_FIELDS = 6;
const C_SEARCH = 7;
/** The smallest record after MAGIC, length and CRC: uid, identity length, the column table. */
const MIN_REST = 8 + 4 * COLUMNS;
/** A search-strings entry for a name whose strings are made when asked. */
const NONE_KEPT = 0xffffffff;

/** A little-endian u32 at `p` (the caller checked the bounds): plain element loads, fast in code that
 *  has not been optimised yet (a per-connection process), unlike Buffer.readUInt32LE. */
function u32(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)) + b[p + 3]! * 0x1000000;
}
/** Records larger than this (a giant MIME tree) are not cached. */
export const MAX_RECORD = 64 * 1024;
/** Header names one record keeps fields for. */
export const MAX_NAMES = 48;
/** Bytes read at a time (indexing, and the window records are read through): big enough that reads
 *  are few, small enough that its fresh pages (a page fault each, the first time) cost little. */
const WINDOW = 256 * 1024;
const FLUSH_RECORDS = 256;
const FLUSH_BYTES = 512 * 1024;
const FLUSH_DELAY_MS = 100;
const { O_WRONLY, O_APPEND, O_NOFOLLOW } = constants;

/** A cached record as found: what it holds, parsed only on demand. */
export interface CachedFacts {
  parsed(): ParsedFacts;
  /** The SEARCH strings of one field (`make` computes them from the record's fields), kept with the
   *  record in this process while the budget allows. */
  searchValues(name: string, make: () => readonly string[]): readonly string[];
  /** searchValues of several fields as one map; `key` names the list (the same key, the same map). */
  searchMap(key: string, names: readonly string[], make: (name: string) => readonly string[]): ReadonlyMap<string, readonly string[]>;
  envelope(): string;
  body(): string;
  bodyStructure(): string;
  sortKeys(): SortKeys;
  threading(): ThreadingKeys;
  /** Lower-cased names whose fields the record holds (all of them, in header order). */
  names(): string[];
  /** Whether the record holds the fields of all these (lower-cased) names. */
  covers(names: readonly string[]): boolean;
  fields(): RawField[];
}

interface Pos {
  off: number;
  /** Bytes of the whole record (MAGIC to its last column). */
  len: number;
  /** The identity the record is for, once the record was looked at. */
  ident?: string;
  /** That identity as two numbers when it is written `${a}.${b}` (mbox: size and hash), else NaN. */
  pa: number;
  pb: number;
  /** Bit per hot column (SEEN): decoded once already in this process (see `second`). */
  seen: number;
  /** Its identity was read (its head's CRC held when the file was indexed: the bytes at an offset of
   *  the same file do not change). */
  checked: boolean;
  /** Columns decoded before, kept while the process-wide budget allows (`memo`). */
  envelope?: string;
  body?: string;
  bodyStructure?: string;
  search?: Map<string, readonly string[]>;
  names?: string[];
  /** The searchValues map of the last request (its names joined by newlines), answered again as is. */
  searchMap?: { key: string; map: ReadonlyMap<string, readonly string[]> };
}

/**
 * What this process knows of one facts file, shared by every handle on the same path and kept after
 * the last one closes (a resident worker serves the next session of the user without reading the file
 * again). A cache of the file, never a source: every use first checks the file (path → same inode, same
 * or larger size, and an unchanged mtime unless it grew), and each handle checks the descriptor's
 * trust itself once; a file replaced by a compaction anywhere, shrunk or rewritten in place is read
 * afresh.
 */
interface Shared {
  readonly path: string;
  /** Open while a handle holds the entry; -1 while idle (the tables stay: see `cache`). */
  fd: number;
  ino: number;
  dev: number;
  /** Birth time of the file (0 where the file system has none): a recycled inode number has another. */
  birth: number;
  /** Bytes of the file indexed so far (always at a line start). */
  indexed: number;
  /** mtime when `indexed` was reached: an unchanged size with another mtime is an in-place rewrite. */
  mtimeMs: number;
  /** The file's UIDVALIDITY; 0 when it has no valid header (yet). */
  uidValidity: number;
  map: Map<number, Pos>;
  /** The file's bytes [off, off + buf.length) last read, in `room`. */
  window: { off: number; buf: Buffer } | null;
  /** The buffer the window is read into, reused for every read (fresh memory costs a page fault per
   *  4 KB the first time it is touched: a FETCH 1:* of 10k messages read its 17 MB through new 1 MB
   *  buffers at ~2.7 ms each); null while idle. */
  room: Buffer | null;
  /** Changes whenever `room` is read into again: a Record holding the window's buffer re-reads its
   *  record when this is no longer the number it was made under. */
  windowGen: number;
  /** Chars of decoded columns kept in its Pos entries (counted in `memoChars`). */
  chars: number;
  /** Bytes of the Pos entries and their identity strings (estimated). */
  posBytes: number;
  /** The file's first bytes and those just before `indexed` (`fingerprint`), kept when the fd was
   *  closed: compared when it is opened again. */
  tail: Buffer | null;
}

/** Per record: its Pos object and its slot in the map. */
const POS_BYTES = 150;

/** What an entry keeps alive, estimated (the budget's figure): records, decoded strings (2 B a char),
 *  the read-ahead window's buffer. */
function sharedBytes(sh: Shared): number {
  return 512 + sh.posBytes + 2 * sh.chars + (sh.room ? sh.room.buffer.byteLength : 0) + (sh.tail?.length ?? 0);
}

/**
 * Facts files known to this process, by path. Held while a handle has the file (FactsFile: from its
 * construction to its close()). An idle entry keeps its tables (the index, CRC verdicts, decoded columns:
 * a resident worker's next session reads nothing again) but neither its descriptor nor its read-ahead
 * window; the next handle opens the path again, checks the descriptor (owner, mode, links) and believes
 * the tables only for the same file (device, inode, birth time, not shorter, an unchanged mtime unless
 * it grew, the same header and bytes before `indexed`). Idle entries are under the process's budget (process-cache.ts).
 */
const cache = new ProcessCache<string, Shared>('facts-file', processCaches, (sh) => resetShared(sh));

/** Decoded columns kept, all files together (chars; one-byte strings mostly): a bound on what held
 *  entries decode (idle ones are under the budget). */
let memoChars = 0;
const MEMO_BUDGET = 24 * 1024 * 1024;

function freshShared(path: string): Shared {
  return { path, fd: -1, ino: -1, dev: -1, birth: 0, indexed: 0, mtimeMs: 0, uidValidity: 0, map: new Map(), window: null, room: null, windowGen: 0, chars: 0, posBytes: 0, tail: null };
}

function resetShared(sh: Shared): void {
  forgetFile(sh);
  sh.mtimeMs = 0;
  sh.uidValidity = 0;
  sh.map = new Map();
  dropWindow(sh);
  memoChars -= sh.chars;
  sh.chars = 0;
  sh.posBytes = 0;
}

const SEEN = { envelope: 1, body: 2, bodyStructure: 4, names: 8, search: 16 } as const;

/**
 * Whether a column decoded now is worth keeping: only when it was decoded once before in this process.
 * A session that looks at each record once (a per-connection FETCH 1:* or SEARCH) keeps nothing, so its
 * strings die young instead of being copied by every scavenge into the old generation; a resident
 * worker's next session, or a repeat in the same one, keeps it (decoding a column is one copy of bytes).
 */
function second(p: Pos, bit: number): boolean {
  if (p.seen & bit) return true;
  p.seen |= bit;
  return false;
}

/** Keep a decoded column if it was decoded before and the budget allows; returns it. */
function memo<K extends 'envelope' | 'body' | 'bodyStructure'>(sh: Shared, p: Pos, k: K, v: string): string {
  if (second(p, SEEN[k]) && memoChars + v.length <= MEMO_BUDGET) {
    p[k] = v;
    sh.chars += v.length;
    memoChars += v.length;
  }
  return v;
}

/** What this process keeps of facts files (tests of the bounds): entries (held ones among them), their
 *  estimated bytes, and decoded chars. */
export function factsMemoryUse(): { files: number; held: number; bytes: number; chars: number } {
  const s = cache.stats();
  return { files: s.entries, held: s.held, bytes: s.bytes, chars: memoChars };
}

/** A lone surrogate does not survive UTF-8: a record with one is not cached (it is parsed each time). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** A wire string (one char a byte) with a char above 0xff cannot be stored as one byte a char. */
const NOT_BYTES = /[^\x00-\xff]/;

/** Reads a column's lists and strings, bounds-checked against the column's end. */
class Reader {
  constructor(private readonly b: Buffer, public p: number, private readonly end: number) {}
  u32(): number {
    if (this.p + 4 > this.end) throw new Error('short column');
    const v = u32(this.b, this.p);
    this.p += 4;
    return v;
  }
  private span(): number {
    const len = this.u32();
    if (len > this.end - this.p) throw new Error('short column');
    return len;
  }
  str(): string {
    const len = this.span();
    const v = this.b.toString('utf8', this.p, this.p + len);
    this.p += len;
    return v;
  }
  latin1(): string {
    const len = this.span();
    const v = this.b.toString('latin1', this.p, this.p + len);
    this.p += len;
    return v;
  }
  skip(): void {
    const len = this.span(); // read before `p` is (`p += span()` would add to the old `p`)
    this.p += len;
  }
  count(): number {
    const n = this.u32();
    if (n > (this.end - this.p) / 4) throw new Error('bad count');
    return n;
  }
  list(): string[] {
    const n = this.count();
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.str());
    return out;
  }
  skipList(): void {
    const n = this.count();
    for (let i = 0; i < n; i++) this.skip();
  }
  done(): void { if (this.p !== this.end) throw new Error('column has trailing bytes'); }
}

/** Encodes a record (one scratch buffer per process, grown to the largest record). */
let scratch = Buffer.allocUnsafe(16 * 1024);

class Writer {
  buf = scratch;
  n = 0;
  ok = true;
  room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const b = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.n + k));
    this.buf.copy(b, 0, 0, this.n);
    this.buf = b;
    if (b.length <= 2 * MAX_RECORD) scratch = b;
  }
  u32(v: number): void { this.room(4); this.buf.writeUInt32LE(v >>> 0, this.n); this.n += 4; }
  /** A string's bytes, without a length (a column that is one string). */
  raw(s: string, enc: 'latin1' | 'utf8'): void {
    if (enc === 'latin1' ? NOT_BYTES.test(s) : LONE_SURROGATE.test(s)) this.ok = false;
    const len = Buffer.byteLength(s, enc);
    this.room(len);
    this.buf.write(s, this.n, len, enc);
    this.n += len;
  }
  str(s: string, enc: 'latin1' | 'utf8' = 'utf8'): void {
    const at = this.n;
    this.u32(0);
    this.raw(s, enc);
    this.buf.writeUInt32LE(this.n - at - 4, at);
  }
  list(l: readonly string[]): void { this.u32(l.length); for (const x of l) this.str(x); }
}

/** Where column k of the record at `r` in `b` (`len` bytes) starts; its end is `start + colLen(b, r, k)`. */
function columnStart(b: Buffer, r: number, len: number, k: number): number {
  const table = r + 20 + u32(b, r + 16);
  let start = table + 4 * COLUMNS;
  for (let i = 0; i < k; i++) start += u32(b, table + 4 * i);
  if (start + u32(b, table + 4 * k) > r + len) throw new Error('bad record');
  return start;
}

function colLen(b: Buffer, r: number, k: number): number {
  return u32(b, r + 20 + u32(b, r + 16) + 4 * k);
}

/** A cached record as found: its columns decoded on demand (and the hot ones kept, see `memo`). */
class Record implements CachedFacts {
  /** `buf` holds the record at `at` (read now), or null (read when a column is asked for). */
  private gen: number;
  constructor(private readonly sh: Shared, private readonly p: Pos, private buf: Buffer | null, private at: number) {
    this.gen = sh.windowGen;
  }

  /** Column k of the record as [buffer, start, end] (the record's CRC held when the file was indexed). */
  private col(k: number): [Buffer, number, number] {
    let b = this.buf;
    if (!b || this.gen !== this.sh.windowGen) {
      // Not read yet, or the window's buffer was read into again since (it holds other bytes now).
      const at = this.sh.fd >= 0 ? readAt(this.sh, this.p.off, this.p.len) : -1;
      if (at < 0) throw new Error('record gone');
      b = this.buf = this.sh.window!.buf;
      this.at = at;
      this.gen = this.sh.windowGen;
    }
    const r = this.at;
    const s = columnStart(b, r, this.p.len, k);
    return [b, s, s + colLen(b, r, k)];
  }

  private latin1(k: number): string {
    const [b, s, e] = this.col(k);
    return b.toString('latin1', s, e);
  }

  private json(k: number): unknown {
    const [b, s, e] = this.col(k);
    return JSON.parse(b.toString('utf8', s, e));
  }

  envelope(): string { return this.p.envelope ?? memo(this.sh, this.p, 'envelope', this.latin1(C_ENVELOPE)); }
  body(): string { return this.p.body ?? memo(this.sh, this.p, 'body', this.latin1(C_BODY)); }
  bodyStructure(): string { return this.p.bodyStructure ?? memo(this.sh, this.p, 'bodyStructure', this.latin1(C_BODYSTRUCTURE)); }
  sortKeys(): SortKeys { return this.json(C_SORT) as SortKeys; }
  threading(): ThreadingKeys { return this.json(C_THREAD) as ThreadingKeys; }
  /** names() decoded for this answer when they were not kept (covers() and searchValues() both ask). */
  private decodedNames: string[] | null = null;

  names(): string[] {
    if (this.p.names) return this.p.names;
    if (this.decodedNames) return this.decodedNames;
    const [b, s, e] = this.col(C_NAMES);
    const r = new Reader(b, s, e);
    const v = r.list();
    r.done();
    const n = v.reduce((t, x) => t + x.length + 1, 0);
    if (second(this.p, SEEN.names) && memoChars + n <= MEMO_BUDGET) {
      this.p.names = v;
      this.sh.chars += n;
      memoChars += n;
    } else {
      this.decodedNames = v;
    }
    return v;
  }
  /** Where `name` is among names() (-1: not there). Unless the names are decoded already, found by
   *  comparing the column's bytes (a header SEARCH asks this of every record: no string is made). */
  private nameAt(name: string): number {
    const kept = this.p.names ?? this.decodedNames;
    if (kept) return kept.indexOf(name);
    if (name === this.lastName) return this.lastAt; // covers() then searchValues() ask the same
    const len = name.length;
    for (let i = 0; i < len; i++) if (name.charCodeAt(i) > 0x7f) return this.names().indexOf(name); // not one byte a char in UTF-8
    const [b, s, e] = this.col(C_NAMES);
    const r = new Reader(b, s, e);
    const n = r.count();
    let found = -1;
    for (let k = 0; k < n; k++) {
      const at = r.p + 4;
      r.skip(); // bounds-checked
      if (found < 0 && r.p - at === len && sameAscii(b, at, name)) found = k;
    }
    r.done();
    this.lastName = name;
    this.lastAt = found;
    return found;
  }
  private lastName: string | null = null;
  private lastAt = -1;

  covers(names: readonly string[]): boolean {
    for (const n of names) if (this.nameAt(n) < 0) return false;
    return true;
  }

  fields(): RawField[] {
    const [b, s, e] = this.col(C_FIELDS);
    const r = new Reader(b, s, e);
    const out: RawField[] = [];
    for (let i = r.count(); i > 0; i--) {
      const name = r.str();
      const line = r.latin1();
      out.push({ name, line, valueAt: r.u32() });
    }
    r.done();
    return out;
  }
  parsed(): ParsedFacts {
    return { envelope: this.envelope(), body: this.body(), bodyStructure: this.bodyStructure(), sortKeys: this.sortKeys(), threading: this.threading() };
  }

  searchMap(key: string, names: readonly string[], make: (name: string) => readonly string[]): ReadonlyMap<string, readonly string[]> {
    const last = this.p.searchMap;
    if (last && last.key === key) return last.map;
    const map = new Map<string, readonly string[]>();
    for (const n of names) map.set(n, this.searchValues(n, () => make(n)));
    // Kept only when every value was (within the budget): the map holds no string of its own.
    if (names.every((n) => this.p.search?.has(n))) this.p.searchMap = { key, map };
    return map;
  }

  searchValues(name: string, make: () => readonly string[]): readonly string[] {
    const hit = this.p.search?.get(name);
    if (hit) return hit;
    const k = this.nameAt(name);
    let v: readonly string[] | null = null;
    if (k >= 0) {
      // Only the k-th entry becomes strings; the ones before it are skipped by their lengths.
      const [b, s, e] = this.col(C_SEARCH);
      const r = new Reader(b, s, e);
      if (k >= r.count()) throw new Error('bad column');
      for (let i = 0; i < k; i++) {
        if (u32(b, r.p) === NONE_KEPT) r.u32();
        else r.skipList();
      }
      if (u32(b, r.p) === NONE_KEPT) r.u32();
      else v = r.list();
    }
    v ??= make();
    let n = name.length;
    for (const x of v) n += x.length;
    if (second(this.p, SEEN.search) && memoChars + n <= MEMO_BUDGET) {
      (this.p.search ??= new Map()).set(name, v);
      this.sh.chars += n;
      memoChars += n;
    }
    return v;
  }
}

/** Whether b[at, at + name.length) is `name` (chars below 0x80: one byte each in UTF-8). */
function sameAscii(b: Uint8Array, at: number, name: string): boolean {
  for (let i = 0; i < name.length; i++) if (b[at + i] !== name.charCodeAt(i)) return false;
  return true;
}

/** Make `sh.window` hold the file's bytes [off, off + len) (read ahead: a window of WINDOW bytes);
 *  returns where they start in `sh.window.buf`, -1 when the file is shorter. */
function readAt(sh: Shared, off: number, len: number): number {
  const w = sh.window;
  if (w && off >= w.off && off + len <= w.off + w.buf.length) return off - w.off;
  const buf = windowRoom(sh, Math.max(len, WINDOW));
  const n = readSync(sh.fd, buf, 0, buf.length, off);
  if (n < len) return -1;
  sh.window = { off, buf: buf.subarray(0, n) };
  return 0;
}

/** The buffer to read the window into (at least `want` bytes), about to be overwritten: the window
 *  it held is gone and `windowGen` moves on. */
function windowRoom(sh: Shared, want: number): Buffer {
  sh.window = null;
  sh.windowGen++;
  if (sh.room && sh.room.length >= want) return sh.room;
  return (sh.room = Buffer.allocUnsafe(want));
}

/** Let go of the window and its buffer (an idle or reset entry keeps neither). */
function dropWindow(sh: Shared): void {
  sh.window = null;
  sh.room = null;
  sh.windowGen++;
}

/** An identity (its UTF-8 bytes b[s..e)) written `${a}.${b}` of two numbers, into p.pa, p.pb (NaN for
 *  any other form): what lookupPair() compares, without a string. */
function setPair(p: Pos, b: Uint8Array, s: number, e: number): void {
  let dot = -1;
  for (let i = s; i < e; i++) if (b[i] === 0x2e) { dot = i; break; }
  const a = dot > 0 ? digitsAt(b, s, dot) : NaN;
  const c = dot > 0 ? digitsAt(b, dot + 1, e) : NaN;
  p.pa = Number.isNaN(c) ? NaN : a;
  p.pb = Number.isNaN(a) ? NaN : c;
}

/** The whole record (framing included) for these facts; null when it cannot be stored faithfully or is
 *  larger than MAX_RECORD. */
export function encodeRecord(uid: number, identity: string, parsed: ParsedFacts, names: readonly string[], fields: readonly RawField[], search: readonly (readonly string[] | null)[]): Buffer | null {
  const w = new Writer();
  w.u32(MAGIC);
  w.u32(0); // length, below
  w.u32(0); // head CRC, below
  w.u32(uid);
  w.str(identity);
  const table = w.n;
  w.room(4 * COLUMNS);
  w.n += 4 * COLUMNS;
  const starts: number[] = [];
  const col = (k: number, write: () => void) => { starts[k] = w.n; write(); };
  col(C_ENVELOPE, () => w.raw(parsed.envelope, 'latin1'));
  col(C_BODY, () => w.raw(parsed.body, 'latin1'));
  col(C_BODYSTRUCTURE, () => w.raw(parsed.bodyStructure, 'latin1'));
  col(C_SORT, () => w.raw(JSON.stringify(parsed.sortKeys), 'utf8'));
  col(C_THREAD, () => w.raw(JSON.stringify(parsed.threading), 'utf8'));
  col(C_NAMES, () => w.list(names));
  col(C_FIELDS, () => {
    w.u32(fields.length);
    for (const f of fields) { w.str(f.name); w.str(f.line, 'latin1'); w.u32(f.valueAt); }
  });
  col(C_SEARCH, () => {
    w.u32(search.length);
    for (const l of search) { if (l) w.list(l); else w.u32(NONE_KEPT); }
  });
  if (!w.ok || w.n > MAX_RECORD) return null;
  const b = w.buf;
  for (let k = 0; k < COLUMNS; k++) {
    const s = starts[k]!;
    const e = k + 1 < COLUMNS ? starts[k + 1]! : w.n;
    b.writeUInt32LE(e - s, table + 4 * k);
  }
  b.writeUInt32LE(w.n - 12, 4);
  b.writeUInt32LE(crc32(b.subarray(12, w.n)), 8);
  return Buffer.from(b.subarray(0, w.n));
}

/** Whether the record at `r` in `b` (`len` bytes, framing included) holds its CRC. */
function recordHolds(b: Buffer, r: number, len: number): boolean {
  // A plain Uint8Array view: Buffer's subarray() is JavaScript that a per-connection process runs
  // interpreted, once per record (measured: ~6 ms less for the 10k records of a 17 MB file).
  return crc32(new Uint8Array(b.buffer, b.byteOffset + r + 12, len - 12)) === u32(b, r + 8);
}

export interface FactsFileOptions {
  /** Directory the file lives in (checked as safe-file.ts does before any write). */
  dir: string;
  /** File name in it. */
  name: string;
  /** False for a read-only handle: the cache is read, never written. */
  writable: boolean;
  log?: Logger;
  /** Test hook: cap of the file in bytes (default: 1 MB + 8 KB per message, at most 256 MB). */
  maxBytes?: number;
}

export class FactsFile {
  readonly path: string;
  /** What this process knows of the file (shared with its other handles on the path). */
  private sh: Shared;
  /** Lets go of the cache entry (once, in close()). */
  private readonly release: ReturnType<typeof cache.hold>;
  /** This handle checked the shared descriptor's file (owner, mode, links) itself. */
  private verified = false;
  private pending: { uid: number; line: Buffer }[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Set once writing failed for a reason that will not go away (untrusted directory or file). */
  private noWrite = false;
  private state: MailboxState | null = null;
  private closed = false;
  /** The file was looked at by this handle at least once (afterwards only on a miss). */
  private looked = false;
  /** A compaction had to leave records out (the cap): this handle adds no more. */
  private full = false;

  /** The sort/thread family (facts-keys.ts), `<name>.sk` beside this file: what SORT, THREAD and
   *  SENT* read without touching the larger records here. */
  readonly keys: KeysFile;

  constructor(private readonly opts: FactsFileOptions) {
    this.path = `${opts.dir}/${opts.name}`;
    this.release = cache.hold(this.path);
    this.sh = this.attach();
    this.keys = new KeysFile({ dir: opts.dir, name: keysFileName(opts.name), writable: opts.writable, log: opts.log });
  }

  /** The process's entry for the path (made if there is none). */
  private attach(): Shared {
    let sh = cache.get(this.path);
    if (!sh) cache.set(this.path, (sh = freshShared(this.path)), 0);
    return sh;
  }

  // ---- reading ----

  /** Is the open file still the one at the path, unchanged but for appends? Index what is new. */
  private sync(): void {
    if (cache.get(this.path) !== this.sh) this.sh = this.attach(); // dropped meanwhile (cleared)
    const sh = this.sh;
    // An unchanged size comes with an unchanged mtime (else: rewritten in place), also for kept tables.
    const stale = (st: { size: number; mtimeMs: number }) => st.size === sh.indexed && st.mtimeMs !== sh.mtimeMs;
    const unchanged = (fd: number) => !stale(fstatSync(fd));
    const r = refreshKept(this.path, this.opts.dir, sh, this.verified, () => resetShared(sh), stale, unchanged);
    if (r === 'gone') return;
    this.verified = true;
    if (r === 'untrusted') {
      // Only a plain file of ours (or, for root, of the directory's owner) that nobody else may write.
      if (!this.noWrite) this.opts.log?.warn({ path: this.path }, 'facts cache not trusted (owner, mode or links): ignored');
      this.noWrite = true;
      return;
    }
    if (sh.fd < 0) return;
    const f = fstatSync(sh.fd);
    if (f.size > sh.indexed) {
      this.indexFrom(f.size);
      cache.set(this.path, sh, sharedBytes(sh));
    }
    sh.mtimeMs = f.mtimeMs;
  }

  /** Index the records from `indexed` up to `size`: read through a window, jumping from record to
   *  record by their lengths; each head's CRC is checked, no string is made. A record cut by the end
   *  of the file (an append in progress, or torn by a kill) stops the index before it. */
  private indexFrom(size: number): void {
    const sh = this.sh;
    const fd = sh.fd;
    let at = sh.indexed; // file offset of buf[0]
    if (at === 0) {
      const h = Buffer.alloc(HEAD_LEN);
      if (size < HEAD_LEN || readSync(fd, h, 0, HEAD_LEN, 0) !== HEAD_LEN || !h.subarray(0, 8).equals(HEAD) || !h.readUInt32LE(8)) {
        // Another version, or not ours: nothing believed (the next write replaces it).
        sh.uidValidity = 0;
        sh.indexed = size;
        return;
      }
      sh.uidValidity = h.readUInt32LE(8);
      at = HEAD_LEN;
    }
    if (!sh.uidValidity) { sh.indexed = size; return; }
    let buf = windowRoom(sh, Math.max(Math.min(WINDOW, size - at), 1));
    let got = 0; // bytes of buf holding file data
    let p = 0; // the next record's place in buf
    const more = (): boolean => {
      // Keep [p, got), read what follows it.
      if (p > 0) { buf.copy(buf, 0, p, got); got -= p; at += p; p = 0; }
      const want = Math.min(buf.length - got, size - (at + got));
      if (want <= 0) return false;
      const n = readSync(fd, buf, got, want, at + got);
      if (n <= 0) return false;
      got += n;
      return true;
    };
    more();
    for (;;) {
      if (got - p < 12) { if (!more()) break; continue; }
      if (u32(buf, p) !== MAGIC) {
        // Garbage (a torn record's rest): on to the next MAGIC.
        const next = buf.subarray(0, got).indexOf(MAGIC_BYTES, p + 1);
        if (next >= 0) { p = next; continue; }
        p = Math.max(p + 1, got - 3);
        if (!more()) break;
        continue;
      }
      const len = u32(buf, p + 4);
      if (len < MIN_REST || len + 12 > MAX_RECORD) { p++; continue; }
      if (got - p < 12 + len) {
        if (at + p + 12 + len > size) break; // cut by the end of the file
        if (12 + len > buf.length) {
          const bigger = Buffer.allocUnsafe(12 + len);
          buf.copy(bigger, 0, p, got);
          got -= p; at += p; p = 0;
          buf = bigger;
        }
        if (!more()) break;
        continue;
      }
      const n = u32(buf, p + 16);
      const head = 8 + n + 4 * COLUMNS;
      // The CRC holds only for what a writer wrote whole (its column lengths add up: encodeRecord); a
      // column is still bounds-checked when it is read (columnStart).
      if (head > len || !recordHolds(buf, p, 12 + len)) { p++; continue; }
      const uid = u32(buf, p + 12);
      if (uid >= 1) {
        const old = sh.map.get(uid);
        if (old) this.forget(old);
        else sh.posBytes += POS_BYTES;
        sh.map.set(uid, { off: at + p, len: 12 + len, checked: false, pa: NaN, pb: NaN, seen: 0 });
      }
      p += 12 + len;
    }
    sh.indexed = at + p;
    // The last bytes read serve the first lookups (a small file is then read once).
    sh.room = buf; // (a record bigger than the first buffer may have needed a bigger one)
    if (got > 0) sh.window = { off: at, buf: buf.subarray(0, got) };
  }

  /** A record replaced by a later one: its decoded columns no longer count. */
  private forget(p: Pos): void {
    let n = (p.envelope?.length ?? 0) + (p.body?.length ?? 0) + (p.bodyStructure?.length ?? 0);
    for (const x of p.names ?? []) n += x.length + 1;
    for (const [k, v] of p.search ?? []) { n += k.length; for (const s of v) n += s.length; }
    if (p.ident !== undefined) this.sh.posBytes -= 2 * p.ident.length;
    this.sh.chars -= n;
    memoChars -= n;
  }

  /** The record of `uid` under this UIDVALIDITY, its identity looked at (once per process); `this.at`
   *  is where it lies in the window when it was read now (else -1). */
  private find(uid: number, uidValidity: number, resync: boolean): Pos | undefined {
    this.at = -1;
    if (this.closed) return undefined;
    const sh = this.sh;
    if (resync || !this.looked) {
      this.looked = true;
      try { this.sync(); } catch { resetShared(sh); }
    }
    if (sh.fd < 0 || sh.uidValidity !== uidValidity) return undefined;
    const p = sh.map.get(uid);
    if (!p) return undefined;
    if (p.checked) return p;
    // First use in this process: the identity looked at only now, so that indexing the file makes no
    // string per record (its CRC held when it was indexed).
    const at = readAt(sh, p.off, p.len);
    if (at < 0) return undefined;
    const b = sh.window!.buf;
    const n = u32(b, at + 16);
    if (u32(b, at) !== MAGIC || 20 + n > p.len) return undefined;
    setPair(p, b, at + 20, at + 20 + n);
    p.checked = true;
    this.at = at;
    return p;
  }

  /** Where the record find() just read lies in the window (-1: not read now). */
  private at = -1;

  /** The identity of a found record, as a string (made once per process and record). */
  private identOf(p: Pos): string | undefined {
    if (p.ident === undefined) {
      const at = this.at >= 0 ? this.at : readAt(this.sh, p.off, p.len);
      if (at < 0) return undefined;
      this.at = at;
      const b = this.sh.window!.buf;
      p.ident = b.toString('utf8', at + 20, at + 20 + u32(b, at + 16));
      this.sh.posBytes += 2 * p.ident.length;
    }
    return p.ident;
  }

  private record(p: Pos): Record {
    return new Record(this.sh, p, this.at >= 0 ? this.sh.window!.buf : null, this.at);
  }

  /** The cached record of `uid` if it is one for these bytes (identity) under this UIDVALIDITY. */
  lookup(uid: number, identity: string, uidValidity: number, resync: boolean): CachedFacts | undefined {
    const p = this.find(uid, uidValidity, resync);
    return p && this.identOf(p) === identity ? this.record(p) : undefined;
  }

  /** lookup() for an identity of two numbers written `${a}.${b}` (FactsSource.identityPairs): compared
   *  as numbers, no string made per message. */
  lookupPair(uid: number, a: number, b: number, uidValidity: number, resync: boolean): CachedFacts | undefined {
    const p = this.find(uid, uidValidity, resync);
    return p && p.pa === a && p.pb === b ? this.record(p) : undefined;
  }

  // ---- writing ----

  /** Queue a record for `uid` (written soon, in a batch). `state` is the handle's current state (which
   *  UIDs are live, for compaction; UIDVALIDITY of the record). */
  add(uid: number, identity: string, parsed: ParsedFacts, names: readonly string[], fields: readonly RawField[], search: readonly (readonly string[] | null)[], state: MailboxState): void {
    // The keys family only when it lacks this message's keys (a record re-made to hold more header
    // names carries the same keys).
    if (!this.keys.lookup(uid, identity, state.uidValidity, false)) this.keys.add(uid, identity, parsed.sortKeys, parsed.threading, state);
    if (!this.opts.writable || this.noWrite || this.closed || this.full) return;
    if (this.state && this.state.uidValidity !== state.uidValidity) this.pending = [];
    this.state = state;
    const line = encodeRecord(uid, identity, parsed, names, fields, search);
    if (!line) return;
    this.pending.push({ uid, line });
    this.pendingBytes += line.length;
    if (this.pending.length >= FLUSH_RECORDS || this.pendingBytes >= FLUSH_BYTES) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => { this.timer = null; this.flush(); }, FLUSH_DELAY_MS);
      this.timer.unref();
    }
  }

  private cap(state: MailboxState): number {
    return this.opts.maxBytes ?? Math.min(256 * 1024 * 1024, 1024 * 1024 + 8192 * state.messages.length);
  }

  /** Write what is queued: appended, or (new file, other UIDVALIDITY, half dead, over the cap) as a
   *  compacted file by atomic replace. Failure only costs speed. */
  flush(): void {
    this.keys.flush();
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    const batch = this.pending;
    const state = this.state;
    this.pending = [];
    this.pendingBytes = 0;
    if (!batch.length || !state || this.noWrite) return;
    try {
      this.sync();
      if (this.noWrite) return;
      const size = this.sh.fd >= 0 ? fstatSync(this.sh.fd).size : 0;
      const batchBytes = batch.reduce((n, r) => n + r.line.length, 0);
      const live = this.liveBytes(state, batch);
      const cap = this.cap(state);
      // A record cut by the end of the file (torn by a kill) is never appended after: its length would
      // swallow what follows. Compacting leaves it out.
      const torn = size > this.sh.indexed;
      // More than a third dead (a record re-made for more header names replaces a whole one: a SEARCH
      // after a FETCH would otherwise leave every message's record twice, just under half dead).
      if (this.sh.fd < 0 || this.sh.uidValidity !== state.uidValidity || torn || (size > 64 * 1024 && live * 3 < (size + batchBytes) * 2) || size + batchBytes > cap) {
        this.compact(state, batch, cap);
      } else {
        this.append(batch);
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'UNSAFE_PATH' || code === 'EACCES' || code === 'EPERM' || code === 'EROFS') this.noWrite = true;
      this.opts.log?.debug({ err: String(e), path: this.path }, 'facts cache not written');
    }
  }

  /** Bytes of the records a compaction would keep (current UIDs, latest record each, plus the batch). */
  private liveBytes(state: MailboxState, batch: readonly { uid: number; line: Buffer }[]): number {
    const fresh = new Set(batch.map((r) => r.uid));
    let n = 0;
    for (const [uid, p] of this.sh.map) if (!fresh.has(uid) && this.isLive(state, uid)) n += p.len;
    for (const r of batch) n += r.line.length;
    return n;
  }

  private liveSet: { state: MailboxState; uids: Set<number> } | null = null;

  /** A UID compaction keeps: current in the state, or above what the state knows (someone else's). */
  private isLive(state: MailboxState, uid: number): boolean {
    if (uid >= state.uidNext) return true;
    if (this.liveSet?.state !== state) this.liveSet = { state, uids: new Set(state.messages.map((m) => m.uid)) };
    return this.liveSet.uids.has(uid);
  }

  private append(batch: readonly { uid: number; line: Buffer }[]): void {
    const fd = openSync(this.path, O_WRONLY | O_APPEND | O_NOFOLLOW);
    try {
      const f = fstatSync(fd);
      // The file we indexed and checked (a compaction elsewhere may have replaced it: then the next
      // flush sees the new one).
      if (f.ino !== this.sh.ino || !f.isFile() || f.nlink !== 1 || f.uid !== fstatSync(this.sh.fd).uid) return;
      // Appended to meanwhile by another writer: those records taken in first; one cut by the end of
      // the file (torn) is not appended after (the next flush compacts).
      if (f.size > this.sh.indexed) this.indexFrom(f.size);
      if (f.size !== this.sh.indexed) return;
      const data = Buffer.concat(batch.map((r) => r.line));
      if (process.env.DMAIL_STORE_KILLPOINT?.includes('facts-append-torn')) {
        writeSync(fd, data, 0, (data.length >> 1) + 1);
        killPoint('facts-append-torn');
      }
      let done = 0;
      while (done < data.length) done += writeSync(fd, data, done, data.length - done);
      killPoint('facts-appended');
    } finally {
      closeSync(fd);
    }
  }

  private compact(state: MailboxState, batch: readonly { uid: number; line: Buffer }[], cap: number): void {
    const head = Buffer.alloc(HEAD_LEN);
    HEAD.copy(head, 0);
    head.writeUInt32LE(state.uidValidity >>> 0, 8);
    const parts: Buffer[] = [head];
    let total = HEAD_LEN;
    const fresh = new Map(batch.map((r) => [r.uid, r.line]));
    if (this.sh.fd >= 0 && this.sh.uidValidity === state.uidValidity) {
      const keep = [...this.sh.map].filter(([uid]) => !fresh.has(uid) && this.isLive(state, uid)).sort((a, b) => a[1].off - b[1].off);
      for (const [, p] of keep) {
        const at = readAt(this.sh, p.off, p.len);
        const b = this.sh.window?.buf;
        if (at < 0 || !b || !recordHolds(b, at, p.len)) continue;
        if (total + p.len > cap) { this.full = true; break; }
        parts.push(Buffer.from(b.subarray(at, at + p.len)));
        total += p.len;
      }
    }
    for (const line of fresh.values()) {
      if (total + line.length > cap) { this.full = true; break; }
      parts.push(line);
      total += line.length;
    }
    killPoint('facts-compact-before');
    replaceFileSync(this.opts.dir, basename(this.path), Buffer.concat(parts), { sync: false });
    killPoint('facts-compacted');
    resetShared(this.sh);
  }

  /** Write what is queued and let go of the file. */
  close(): void {
    if (this.closed) return;
    try {
      this.flush();
    } finally {
      this.closed = true;
      try {
        this.keys.close();
      } finally {
        // Let go of the entry exactly once; the last handle closes the descriptor (the tables stay,
        // within the process's budget), and the entry's size is told again (it grew with this session).
        const sh = this.sh;
        this.release((v) => {
          if (v !== sh) return undefined;
          dropWindow(sh);
          if (!goIdle(sh)) resetShared(sh);
          return sh.ino < 0 ? null : sharedBytes(sh); // null: nothing worth keeping
        });
        if (cache.held(this.path) && cache.get(this.path) === sh) cache.set(this.path, sh, sharedBytes(sh));
      }
    }
  }
}

/** The keys file of a facts file (backends move and drop it with the facts file). */
export function keysFileName(factsName: string): string {
  return `${factsName}.sk`;
}

/** Where a mailbox's facts cache lives, for backends: beside its other index files. */
export function factsFileOptions(path: string, writable: boolean, log?: Logger): FactsFileOptions {
  return { dir: dirname(path), name: basename(path), writable, log };
}
