// The sort/thread family of the facts cache (issue 14, speed): beside the text facts file
// (facts-file.ts, `<name>`) a small binary file `<name>.sk` holds only what SORT, THREAD and SEARCH
// SENT* need per message — SortKeys and ThreadingKeys — so that a SORT or THREAD over 100k messages
// reads a few MB in one read instead of every record's ENVELOPE, BODYSTRUCTURE and header fields, and
// decodes no JSON.
//
//   header   `DMFKEYS1` u32 UIDVALIDITY u32 0                               (16 bytes, little endian)
//   record   u32 MAGIC, u32 payload length, u32 crc32(payload), payload
//   payload  u32 uid, str identity, f64 sentDate, f64 sentDay (NaN: null), nstr dateHeader, nstr subject,
//            addr from, addr to, addr cc, nstr messageId, list inReplyTo, list references
//            str = u32 byte length + UTF-8; nstr = str, or u32 0xffffffff for null;
//            addr = u8 0 (null) | u8 1 nstr name, nstr mailbox, nstr domain; list = u32 n, n × str
//
// Append-only like the text file: a later record of a UID replaces an earlier one, and a record is
// believed only when its CRC holds, the file's UIDVALIDITY is the mailbox's and its identity is the
// message's now. Every record starts with MAGIC, so a record torn by kill -9 (or any garbage) is skipped
// by looking for the next MAGIC whose record's CRC holds: an appender never has to repair the file. The
// header is only ever written by an atomic replace (new file, other UIDVALIDITY, compaction).
//
// Same trust rules as the text file (opened with O_NOFOLLOW, used and appended to only when it is a
// plain file of ours with one link that no one else may write; created by replaceFileSync in a trusted
// directory), same cap and compaction rules, not fsynced (a cache). The whole file is read at the first
// lookup (one read; the records are checked then and decoded only when asked for), and kept per process
// in a `ProcessCache` entry (`cache` below) for the next handle, within the process's budget.
import { closeSync, constants, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Logger } from '../log/types.js';
import { forgetFile, goIdle, refreshKept, trustedCacheFd } from './kept-file.js';
import { ProcessCache, processCaches } from './process-cache.js';
import { killPoint } from './killpoint.js';
import { replaceFileSync } from './safe-file.js';
import type { MailboxState, MessageFacts, SortAddress, SortKeys, ThreadingKeys } from './types.js';

const HEAD = Buffer.from('DMFKEYS1', 'latin1');
const HEAD_LEN = 16;
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
  const u32 = (): number => { if (p + 4 > end) throw new Error('short'); const v = b.readUInt32LE(p); p += 4; return v; };
  const skip = (k: number): void => { if (p + k > end) throw new Error('short'); p += k; };
  const nstr = (): void => { const len = u32(); if (len !== NULL) skip(len); };
  const addr = (): void => { skip(1); if (b[p - 1] !== 0) { nstr(); nstr(); nstr(); } };
  const list = (): void => { const n = u32(); if (n > (end - p) / 4) throw new Error('bad list'); for (let i = 0; i < n; i++) skip(u32()); };
  try {
    skip(16);
    nstr(); nstr();
    addr(); addr(); addr();
    nstr();
    list(); list();
    return p === end;
  } catch {
    return false;
  }
}

/**
 * A record's keys, decoded as they are asked for: the two dates (SORT DATE, SEARCH SENT*) straight
 * from their fixed place, every string only when something reads one (then the whole record, once).
 * SORT (DATE) or a SENT* search over 100k messages thus makes no string at all. One object per record
 * and process (kept in its Slot): callers may key their own derived values on it (sort-keys.ts). It is
 * a whole MessageFacts answer too ({ uid, exists, sortKeys, threading }), so that factsAll() answers
 * 100k messages without making an object per message.
 */
export class LazyKeys implements KeysRecord, SortKeys, ThreadingKeys, MessageFacts {
  private all?: KeysRecord;
  readonly exists = true;
  readonly sentDate: number | null;
  readonly sentDay: number | null;
  constructor(readonly uid: number, private readonly b: Buffer, private readonly p: number, private readonly end: number) {
    const d = b.readDoubleLE(p);
    const day = b.readDoubleLE(p + 8);
    this.sentDate = Number.isNaN(d) ? null : d;
    this.sentDay = Number.isNaN(day) ? null : day;
  }
  private get full(): KeysRecord { return (this.all ??= decodeKeys(this.b, this.p, this.end)); }
  get sortKeys(): SortKeys { return this; }
  get threading(): ThreadingKeys { return this; }
  get dateHeader(): string | null { return this.full.sortKeys.dateHeader; }
  get subject(): string | null { return this.full.sortKeys.subject; }
  get from(): SortAddress | null { return this.full.sortKeys.from; }
  get to(): SortAddress | null { return this.full.sortKeys.to; }
  get cc(): SortAddress | null { return this.full.sortKeys.cc; }
  get messageId(): string | null { return this.full.threading.messageId; }
  get inReplyTo(): readonly string[] { return this.full.threading.inReplyTo; }
  get references(): readonly string[] { return this.full.threading.references; }
}

interface Slot {
  buf: Buffer;
  /** Where the keys start (after uid and identity) and the payload ends. */
  keys: number;
  end: number;
  /** Record length in the file (framing included), for compaction and dead-space accounting. */
  size: number;
  /** Where the whole record (framing included) lies in `buf`. */
  at: number;
  identity: string;
  /** The identity as two numbers when it is written `${a}.${b}` (mbox: size and hash), else NaN: lets
   *  lookupPair() compare numbers instead of building the string per message. */
  pa: number;
  pb: number;
  decoded?: LazyKeys;
}

/** An identity `${a}.${b}` of two numbers, as [a, b]; [NaN, NaN] for any other form. */
function pairOf(identity: string): [number, number] {
  const dot = identity.indexOf('.');
  if (dot > 0) {
    const a = Number(identity.slice(0, dot));
    const b = Number(identity.slice(dot + 1));
    if (`${a}.${b}` === identity) return [a, b];
  }
  return [NaN, NaN];
}

/** The records by UID: an array indexed by UID (SORT over 100k messages looks each up: no hashing, and
 *  neighbours in memory), with the UIDs in first-insertion order for walking it (it may be sparse). */
class SlotTable {
  private readonly byUid: (Slot | undefined)[] = [];
  private readonly uids: number[] = [];
  get(uid: number): Slot | undefined { return this.byUid[uid]; }
  set(uid: number, s: Slot): void {
    if (this.byUid[uid] === undefined) this.uids.push(uid);
    this.byUid[uid] = s;
  }
  keys(): number[] { return [...this.uids]; }
  *[Symbol.iterator](): IterableIterator<[number, Slot]> {
    for (const uid of this.uids) yield [uid, this.byUid[uid]!];
  }
}

interface Shared {
  /** Open while a handle holds the entry; -1 while idle (the tables stay: `idleCheck`). */
  fd: number;
  ino: number;
  dev: number;
  /** Birth time of the file (0 where the file system has none): a recycled inode number has another. */
  birth: number;
  /** Bytes of the file taken in so far (a record start, or the start of bytes not yet understood). */
  indexed: number;
  uidValidity: number;
  map: SlotTable;
  /** What the entry keeps alive, estimated (read buffers, slots, decoded records): the budget's figure. */
  bytes: number;
  /** The file's first bytes and those just before `indexed` (`fingerprint`), kept when the fd was
   *  closed: compared when it is opened again. */
  tail: Buffer | null;
}

/** Per record: the Slot, its identity string (counted apart) and array room. */
const SLOT_BYTES = 150;

function freshShared(): Shared {
  return { fd: -1, ino: -1, dev: -1, birth: 0, indexed: 0, uidValidity: 0, map: new SlotTable(), bytes: 0, tail: null };
}

function resetShared(sh: Shared): void {
  forgetFile(sh);
  sh.uidValidity = 0;
  sh.map = new SlotTable();
  sh.bytes = 0;
}

/**
 * The files' contents known to this process, by path: a cache, every use checks the file first. Held
 * while a handle has the file (KeysFile: from its construction to its close()); an idle entry keeps its
 * tables (so that the next session of a resident worker re-reads only what was appended since) but not
 * its descriptor: the next handle opens the path again, checks the descriptor (owner, mode, links) and
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
  private readonly release: () => void;
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
      cache.set(this.path, this.sh, this.sh.bytes);
    }
  }

  /** Read [indexed, size) in one piece and index its whole records. */
  private takeIn(size: number): void {
    const from = this.sh.indexed;
    const buf = Buffer.allocUnsafe(size - from);
    this.sh.bytes += buf.length;
    let got = 0;
    while (got < buf.length) {
      const n = readSync(this.sh.fd, buf, got, buf.length - got, from + got);
      if (n <= 0) break;
      got += n;
    }
    let p = 0;
    if (from === 0) {
      if (got < HEAD_LEN || !buf.subarray(0, 8).equals(HEAD)) { this.sh.indexed = 0; this.sh.uidValidity = 0; return; }
      this.sh.uidValidity = buf.readUInt32LE(8);
      p = HEAD_LEN;
    }
    if (!this.sh.uidValidity) return;
    let stop = got; // where the bytes not yet understood start
    while (p + 12 <= got) {
      if (buf.readUInt32LE(p) !== MAGIC) {
        const next = buf.indexOf(MAGIC_BYTES, p + 1);
        if (next < 0) { stop = Math.max(p, got - 3); p = got; break; }
        p = next;
        continue;
      }
      const len = buf.readUInt32LE(p + 4);
      if (len > MAX_KEYS_RECORD || len < 8) { p++; continue; }
      if (p + 12 + len > got) { stop = p; p = got; break; } // an append in progress, or torn
      const payload = buf.subarray(p + 12, p + 12 + len);
      if (crc32(payload) !== buf.readUInt32LE(p + 8)) { p++; continue; }
      try {
        const uid = payload.readUInt32LE(0);
        const r = new Reader(buf, p + 16, p + 12 + len);
        const identity = r.str();
        if (wellFormed(buf, r.p, p + 12 + len)) {
          const [pa, pb] = pairOf(identity);
          this.sh.map.set(uid, { buf, keys: r.p, end: p + 12 + len, size: 12 + len, at: p, identity, pa, pb });
          this.sh.bytes += SLOT_BYTES + 2 * identity.length;
        }
      } catch { /* malformed: skipped */ }
      p += 12 + len;
    }
    this.sh.indexed = from + Math.min(p, stop);
  }

  /** The keys cached for `uid` if they are for these bytes (identity) under this UIDVALIDITY. */
  lookup(uid: number, identity: string, uidValidity: number, resync: boolean): LazyKeys | undefined {
    const s = this.slot(uid, uidValidity, resync);
    return s && s.identity === identity ? this.decoded(uid, s) : undefined;
  }

  /** lookup() for an identity of two numbers, `${a}.${b}` (as pairOf() reads it): compared as numbers. */
  lookupPair(uid: number, a: number, b: number, uidValidity: number, resync: boolean): LazyKeys | undefined {
    const s = this.slot(uid, uidValidity, resync);
    return s && s.pa === a && s.pb === b ? this.decoded(uid, s) : undefined;
  }

  private slot(uid: number, uidValidity: number, resync: boolean): Slot | undefined {
    if (this.closed) return undefined;
    if (resync || !this.looked) {
      this.looked = true;
      try { this.sync(); } catch { this.reset(); }
    }
    if (this.sh.fd < 0 || this.sh.uidValidity !== uidValidity) return undefined;
    return this.sh.map.get(uid);
  }

  private decoded(uid: number, s: Slot): LazyKeys {
    if (!s.decoded) {
      s.decoded = new LazyKeys(uid, s.buf, s.keys, s.end);
      // The object, its strings once decoded (2 B a byte of the record, as an estimate) and what callers
      // derive from it and key on it (sort-keys.ts).
      this.sh.bytes += 300 + 3 * (s.end - s.keys);
    }
    return s.decoded;
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

  private cap(state: MailboxState): number {
    return this.opts.maxBytes ?? Math.min(64 * 1024 * 1024, 256 * 1024 + 1024 * state.messages.length);
  }

  private liveSet: { state: MailboxState; uids: Set<number> } | null = null;

  private isLive(state: MailboxState, uid: number): boolean {
    if (uid >= state.uidNext) return true;
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
      let live = batchBytes + HEAD_LEN;
      for (const [uid, s] of this.sh.map) if (!fresh.has(uid) && this.isLive(state, uid)) live += s.size;
      const cap = this.cap(state);
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

  private compact(state: MailboxState, batch: readonly { uid: number; rec: Buffer }[], cap: number): void {
    const head = Buffer.alloc(HEAD_LEN);
    HEAD.copy(head, 0);
    head.writeUInt32LE(state.uidValidity >>> 0, 8);
    const parts: Buffer[] = [head];
    let total = HEAD_LEN;
    const fresh = new Map(batch.map((r) => [r.uid, r.rec]));
    if (this.sh.fd >= 0 && this.sh.uidValidity === state.uidValidity) {
      for (const [uid, s] of this.sh.map) {
        if (fresh.has(uid) || !this.isLive(state, uid)) continue;
        if (total + s.size > cap) { this.full = true; break; }
        parts.push(s.buf.subarray(s.at, s.at + s.size));
        total += s.size;
      }
    }
    for (const rec of fresh.values()) {
      if (total + rec.length > cap) { this.full = true; break; }
      parts.push(rec);
      total += rec.length;
    }
    killPoint('facts-keys-compact-before');
    replaceFileSync(this.opts.dir, basename(this.path), Buffer.concat(parts), { sync: false });
    killPoint('facts-keys-compacted');
    this.reset();
  }

  /** Write what is queued and let go of the entry (exactly once, also when writing failed). */
  close(): void {
    if (this.closed) return;
    try {
      this.flush();
    } finally {
      this.closed = true;
      this.release();
      const sh = this.sh;
      if (cache.get(this.path) === sh) {
        const idle = !cache.held(this.path);
        if (idle && !goIdle(sh)) resetShared(sh);
        if (idle && sh.ino < 0) cache.delete(this.path); // nothing worth keeping
        else cache.set(this.path, sh, sh.bytes);
      }
    }
  }
}
