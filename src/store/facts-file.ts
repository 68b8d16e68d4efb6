// The per-mailbox facts cache (mbox: `<index dir>/<key>.facts`; maildir: `dmail-facts` in the folder):
// what store/facts.ts parsed out of each message, so that later FETCH ENVELOPE / BODYSTRUCTURE /
// HEADER.FIELDS, header SEARCH keys, SORT and THREAD read a few hundred bytes instead of the message.
//
// Text, append-only, one record per line:
//   header   `DMFACTS2 V<uidvalidity>\n`
//   record   `<crc32 of the rest, 8 hex> <uid>\t<identity>\t<envelope>\t<body>\t<bodystructure>\t<sort keys>
//             \t<threading>\t<covered header names>\t<header fields>\t<search strings>\n`
// (search strings: MessageFacts.searchValues of each covered name, in the order of the names). Version 1
// files (no search strings) have another header: they are not believed, and rewritten at the next write.
// Every column after the uid is JSON (a string, object or array), so neither a TAB nor a line break occurs
// inside one. A later record for a UID replaces an earlier one. A record is believed only when its CRC
// holds, the file's UIDVALIDITY is the mailbox's and its identity is the message's as the backend knows
// it now (mbox: RFC822.SIZE + recognition hash; maildir: base name + size): a message rewritten under the
// same UID is parsed afresh. Anything else (a line torn by kill -9, two appends mixed, flipped bits, a
// file of another version) is skipped: it costs a parse, never a wrong answer.
//
// Written only by a handle that may write (never EXAMINE), only into a trusted directory (safe-file.ts)
// and only to a file owned by this uid: the file is created by an atomic replace (header alone, or the
// compacted records), appended to with O_APPEND|O_NOFOLLOW after checking the descriptor (a plain file,
// ours, one link, no group/other write). Read only under the same checks, so facts planted by anyone
// else are never served. Not fsynced: it is a cache.
//
// Bounded: a record above MAX_RECORD is not kept; the file is compacted (live records of current UIDs
// only: expunged messages and replaced records go) by an atomic replace when it is more than half dead,
// and no more is appended once even the compacted file would pass its cap (1 MB + 8 KB per message, at
// most 256 MB). Cheap to open: nothing happens at SELECT; the first facts() call indexes the file (one
// sequential read, no JSON parsed) and keeps only uid → position in memory; records are read through
// a read-ahead window and only the columns asked for are parsed.
//
// One copy per process (`Shared`): the index, each record's CRC verdict and the hot decoded columns
// (ENVELOPE, BODY, BODYSTRUCTURE, names, search strings) are shared by the handles on one path and kept
// after the last closes (a `ProcessCache` entry: held by each open handle, idle ones within the process's
// byte budget `resident_cache_size`, without their descriptor), so a resident worker's next session reads
// nothing again. Checked on every use against the file (inode, size, mtime) and by each handle's own
// trust check; decoded columns bounded by MEMO_BUDGET chars in all.
import { closeSync, constants, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Logger } from '../log/types.js';
import { killPoint } from './killpoint.js';
import { replaceFileSync } from './safe-file.js';
import { KeysFile } from './facts-keys.js';
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

const MAGIC = 'DMFACTS2';
/** Columns of a record (uid and identity included). */
const COLUMNS = 10;
/** Records larger than this (a giant MIME tree) are not cached. */
export const MAX_RECORD = 64 * 1024;
/** Header names one record keeps fields for. */
export const MAX_NAMES = 48;
const WINDOW = 1024 * 1024;
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
  fields(): RawField[];
}

interface Pos {
  off: number;
  len: number;
  /** The identity the record is for, once the record was checked (null: not a string). */
  ident?: string | null;
  /** Its CRC was found to hold (checked once: the bytes at an offset of the same file do not change). */
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
  window: { off: number; buf: Buffer } | null;
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
 *  the read-ahead window. */
function sharedBytes(sh: Shared): number {
  return 512 + sh.posBytes + 2 * sh.chars + (sh.window ? sh.window.buf.buffer.byteLength : 0) + (sh.tail?.length ?? 0);
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
  return { path, fd: -1, ino: -1, dev: -1, birth: 0, indexed: 0, mtimeMs: 0, uidValidity: 0, map: new Map(), window: null, chars: 0, posBytes: 0, tail: null };
}

function resetShared(sh: Shared): void {
  forgetFile(sh);
  sh.mtimeMs = 0;
  sh.uidValidity = 0;
  sh.map = new Map();
  sh.window = null;
  memoChars -= sh.chars;
  sh.chars = 0;
  sh.posBytes = 0;
}

/** Keep a decoded column if the budget allows; returns it. */
function memo<K extends 'envelope' | 'body' | 'bodyStructure'>(sh: Shared, p: Pos, k: K, v: string): string {
  if (memoChars + v.length <= MEMO_BUDGET) {
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

/** A cached record as found: its columns decoded on demand (and the hot ones kept, see `memo`). */
class Record implements CachedFacts {
  private line: Buffer | null = null;
  private cols: number[] | null = null;
  constructor(private readonly sh: Shared, private readonly p: Pos, line: Buffer | null) {
    if (line) { this.line = line; this.cols = columns(line); }
  }

  private col(k: number): unknown {
    if (!this.line) {
      const line = this.sh.fd >= 0 ? readAt(this.sh, this.p.off, this.p.len) : undefined;
      if (!line) throw new Error('record gone');
      const cols = columns(line);
      if (cols.length !== COLUMNS) throw new Error('bad record');
      this.line = line;
      this.cols = cols;
    }
    const cols = this.cols!;
    return JSON.parse(this.line.toString('utf8', cols[k]!, k + 1 < cols.length ? cols[k + 1]! - 1 : this.line.length));
  }

  envelope(): string { return this.p.envelope ?? memo(this.sh, this.p, 'envelope', asString(this.col(2))); }
  body(): string { return this.p.body ?? memo(this.sh, this.p, 'body', asString(this.col(3))); }
  bodyStructure(): string { return this.p.bodyStructure ?? memo(this.sh, this.p, 'bodyStructure', asString(this.col(4))); }
  sortKeys(): SortKeys { return this.col(5) as SortKeys; }
  threading(): ThreadingKeys { return this.col(6) as ThreadingKeys; }
  names(): string[] {
    if (this.p.names) return this.p.names;
    const v = this.col(7);
    if (!Array.isArray(v) || !v.every((n) => typeof n === 'string')) throw new Error('bad column');
    const n = (v as string[]).reduce((t, x) => t + x.length + 1, 0);
    if (memoChars + n <= MEMO_BUDGET) {
      this.p.names = v as string[];
      this.sh.chars += n;
      memoChars += n;
    }
    return v as string[];
  }
  fields(): RawField[] { return (this.col(8) as [string, string, number][]).map(([name, line, valueAt]) => ({ name, line, valueAt })); }
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
    const k = this.names().indexOf(name);
    const stored = k >= 0 ? (this.col(9) as unknown[])[k] : undefined;
    const v = Array.isArray(stored) && stored.every((x) => typeof x === 'string') ? (stored as string[]) : make();
    let n = name.length;
    for (const s of v) n += s.length;
    if (memoChars + n <= MEMO_BUDGET) {
      (this.p.search ??= new Map()).set(name, v);
      this.sh.chars += n;
      memoChars += n;
    }
    return v;
  }
}

function readAt(sh: Shared, off: number, len: number): Buffer | undefined {
  const w = sh.window;
  if (w && off >= w.off && off + len <= w.off + w.buf.length) return w.buf.subarray(off - w.off, off - w.off + len);
  const buf = Buffer.allocUnsafe(Math.max(len, WINDOW));
  const n = readSync(sh.fd, buf, 0, buf.length, off);
  if (n < len) return undefined;
  sh.window = { off, buf: buf.subarray(0, n) };
  return buf.subarray(0, len);
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

function columns(line: Buffer): number[] {
  // Start offsets of each column after "crc ": uid, identity, envelope, body, bs, sort, thread, names,
  // fields, search strings.
  const starts = [9];
  for (let i = line.indexOf(0x09, 9); i >= 0 && starts.length < COLUMNS; i = line.indexOf(0x09, i + 1)) starts.push(i + 1);
  return starts;
}

function asString(v: unknown): string {
  if (typeof v !== 'string') throw new Error('bad column');
  return v;
}

export class FactsFile {
  readonly path: string;
  /** What this process knows of the file (shared with its other handles on the path). */
  private sh: Shared;
  /** Lets go of the cache entry (once, in close()). */
  private readonly release: () => void;
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

  /** Index complete lines from `indexed` up to `size`. A partial line at the end of a chunk is moved to
   *  the front of the buffer and the next read goes after it (no copy of whole chunks). */
  private indexFrom(size: number): void {
    const sh = this.sh;
    let buf = Buffer.allocUnsafe(Math.min(WINDOW, Math.max(size - sh.indexed, 1)));
    let pos = sh.indexed;
    let have = 0; // bytes of a partial line at the front of buf
    let haveAt = pos; // its file offset
    while (pos < size) {
      if (have === buf.length) {
        if (have > MAX_RECORD * 2) {
          // A line this long is garbage: skip it up to its end.
          haveAt += have;
          have = 0;
        } else {
          const bigger = Buffer.allocUnsafe(buf.length * 2);
          buf.copy(bigger, 0, 0, have);
          buf = bigger;
        }
      }
      const n = readSync(sh.fd, buf, have, Math.min(buf.length - have, size - pos), pos);
      if (n <= 0) break;
      pos += n;
      const end = have + n;
      const data = buf.subarray(0, end);
      let start = 0;
      for (let nl = data.indexOf(0x0a, have); nl >= 0; nl = data.indexOf(0x0a, nl + 1)) {
        this.indexLine(data, start, nl, haveAt + start);
        start = nl + 1;
      }
      haveAt += start;
      have = end - start;
      if (start > 0 && have > 0) buf.copy(buf, 0, start, end);
    }
    sh.indexed = haveAt;
  }

  private indexLine(data: Buffer, s: number, e: number, fileOff: number): void {
    const sh = this.sh;
    if (fileOff === 0) {
      const m = /^DMFACTS2 V(\d+)$/.exec(data.toString('latin1', s, Math.min(e, s + 40)));
      sh.uidValidity = m ? Number(m[1]) : 0;
      return;
    }
    if (!sh.uidValidity || e - s < 12 || data[s + 8] !== 0x20) return;
    const t1 = data.indexOf(0x09, s + 9);
    if (t1 < 0 || t1 > e) return;
    let uid = 0;
    for (let i = s + 9; i < t1; i++) {
      const c = data[i]! - 0x30;
      if (c < 0 || c > 9) return;
      uid = uid * 10 + c;
    }
    if (uid < 1 || uid > 0xffffffff) return;
    const old = sh.map.get(uid);
    if (old) this.forget(old);
    else sh.posBytes += POS_BYTES;
    sh.map.set(uid, { off: fileOff, len: e - s, checked: false });
  }

  /** A record replaced by a later one: its decoded columns no longer count. */
  private forget(p: Pos): void {
    let n = (p.envelope?.length ?? 0) + (p.body?.length ?? 0) + (p.bodyStructure?.length ?? 0);
    for (const x of p.names ?? []) n += x.length + 1;
    for (const [k, v] of p.search ?? []) { n += k.length; for (const s of v) n += s.length; }
    if (typeof p.ident === 'string') this.sh.posBytes -= 2 * p.ident.length;
    this.sh.chars -= n;
    memoChars -= n;
  }

  /** The cached record of `uid` if it is one for these bytes (identity) under this UIDVALIDITY. */
  lookup(uid: number, identity: string, uidValidity: number, resync: boolean): CachedFacts | undefined {
    if (this.closed) return undefined;
    const sh = this.sh;
    if (resync || !this.looked) {
      this.looked = true;
      try { this.sync(); } catch { resetShared(sh); }
    }
    if (sh.fd < 0 || sh.uidValidity !== uidValidity) return undefined;
    const p = sh.map.get(uid);
    if (!p) return undefined;
    if (p.checked) return p.ident === identity ? new Record(sh, p, null) : undefined;
    // First use in this process: the whole record checked once (the identity read only now, so that
    // indexing the file makes no string per record).
    const line = readAt(sh, p.off, p.len);
    if (!line) return undefined;
    const crc = parseInt(line.toString('latin1', 0, 8), 16);
    if (crc32(line.subarray(9)) !== crc) return undefined;
    const cols = columns(line);
    if (cols.length !== COLUMNS) return undefined;
    let ident: unknown = null;
    try { ident = JSON.parse(line.toString('utf8', cols[1]!, cols[2]! - 1)); } catch { /* not JSON: matches nothing */ }
    p.ident = typeof ident === 'string' ? ident : null;
    p.checked = true;
    if (p.ident) sh.posBytes += 2 * p.ident.length;
    return p.ident === identity ? new Record(sh, p, line) : undefined;
  }

  // ---- writing ----

  /** Queue a record for `uid` (written soon, in a batch). `state` is the handle's current state (which
   *  UIDs are live, for compaction; UIDVALIDITY of the record). */
  add(uid: number, identity: string, parsed: ParsedFacts, names: readonly string[], fields: readonly RawField[], search: readonly (readonly string[] | null)[], state: MailboxState): void {
    this.keys.add(uid, identity, parsed.sortKeys, parsed.threading, state);
    if (!this.opts.writable || this.noWrite || this.closed || this.full) return;
    if (this.state && this.state.uidValidity !== state.uidValidity) this.pending = [];
    this.state = state;
    const body = [
      String(uid),
      JSON.stringify(identity),
      JSON.stringify(parsed.envelope),
      JSON.stringify(parsed.body),
      JSON.stringify(parsed.bodyStructure),
      JSON.stringify(parsed.sortKeys),
      JSON.stringify(parsed.threading),
      JSON.stringify(names),
      JSON.stringify(fields.map((f) => [f.name, f.line, f.valueAt])),
      JSON.stringify(search),
    ].join('\t');
    const b = Buffer.from(body, 'utf8');
    if (b.length + 10 > MAX_RECORD) return;
    const line = Buffer.allocUnsafe(b.length + 10);
    line.write(crc32(b).toString(16).padStart(8, '0'), 0, 'latin1');
    line[8] = 0x20;
    b.copy(line, 9);
    line[line.length - 1] = 0x0a;
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
      if (this.sh.fd < 0 || this.sh.uidValidity !== state.uidValidity || (size > 64 * 1024 && live * 2 < size) || size + batchBytes > cap) {
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
    for (const [uid, p] of this.sh.map) if (!fresh.has(uid) && this.isLive(state, uid)) n += p.len + 1;
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
      // A line torn by a kill ends the file: start on a line of our own (the torn one stays skipped).
      const torn = f.size > this.sh.indexed;
      const data = Buffer.concat([...(torn ? [Buffer.from('\n')] : []), ...batch.map((r) => r.line)]);
      if (process.env.DMAIL_STORE_KILLPOINT?.includes('facts-append-torn')) {
        let half = data.length >> 1;
        if (data[half - 1] === 0x0a) half--;
        writeSync(fd, data, 0, half);
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
    const parts: Buffer[] = [Buffer.from(`${MAGIC} V${state.uidValidity}\n`, 'latin1')];
    let total = parts[0]!.length;
    const fresh = new Map(batch.map((r) => [r.uid, r.line]));
    if (this.sh.fd >= 0 && this.sh.uidValidity === state.uidValidity) {
      const keep = [...this.sh.map].filter(([uid]) => !fresh.has(uid) && this.isLive(state, uid)).sort((a, b) => a[1].off - b[1].off);
      for (const [, p] of keep) {
        const line = readAt(this.sh, p.off, p.len);
        if (!line) continue;
        if (total + p.len + 1 > cap) { this.full = true; break; }
        const crc = parseInt(line.toString('latin1', 0, 8), 16);
        if (crc32(line.subarray(9)) !== crc) continue;
        parts.push(Buffer.from(line), Buffer.from('\n'));
        total += p.len + 1;
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
        this.release();
        const sh = this.sh;
        if (cache.get(this.path) === sh) {
          const idle = !cache.held(this.path);
          if (idle) { sh.window = null; if (!goIdle(sh)) resetShared(sh); }
          if (idle && sh.ino < 0) cache.delete(this.path); // nothing worth keeping
          else cache.set(this.path, sh, sharedBytes(sh));
        }
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
