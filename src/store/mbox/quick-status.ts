// STATUS without the spool lock (issue 14): answered from the index's summary when the index is valid
// for the spool as it is (the same stamp as every other reader checks: size, inode, mtime, tail hash),
// no rewrite is in flight (no journal) and the change log says nothing the index does not know. Else
// null, and the caller takes the locked path (which brings the index up to date).
//
// Why this is never a wrong answer: every writer changes the spool (new stamp) or the change log
// before it saves the index, and saves the index (atomic rename) before it unlocks. The reads below
// happen within the call; if they all agree, no change was half done between them, so the answer is
// the mailbox as it was at some instant during the call. A delivery by an MDA (procmail) changes the
// size (and the tail): the stamp no longer matches and the locked path parses it.
//
// A process that answers STATUS again and again (a resident worker: LIST-STATUS over 200 folders at
// every poll of every session of its user) keeps what it read last, per index file: the summary, the
// log's HIGHESTMODSEQ and the spool stamp whose tail it checked, each under the identity of the file it
// came from (inode, size, mtime, ctime). A repeat then costs four metadata calls and no read: stat of
// the index, the log and the spool, and the journal's absence — two in a batch (LIST-STATUS), which
// stats the index directory once: while it keeps the identity it had when an index was last found
// unchanged with no journal beside it, nothing in it was created, removed or renamed, and an index is
// only ever replaced by a rename (never written in place), so neither needs a look. A file whose
// identity is unchanged has
// unchanged bytes, with one exception every stat cache has ("racily clean", as git calls it): a change
// within the same clock tick as the previous one, keeping the size. So an identity is only remembered
// when the file was last changed well before it was read (RACY_MS): any later change then gets a later
// ctime (which no program can set back) and is seen. Content read after its stat is at least as new
// as the stat, so a remembered answer is never older than the identity it is filed under.

import { existsSync, fstatSync, ftruncateSync, lstatSync, openSync, closeSync, readSync, statSync, writeSync, constants, type Stats } from 'node:fs';
import * as zlib from 'node:zlib';
import { endianness } from 'node:os';
import type { MailboxStatus } from '../types.js';
import { openChangeLog } from '../changelog.js';
import { readIndexSummary, stampTail, type IndexSummary } from './index-file.js';
import type { MboxFile } from './file.js';
import { trustedCacheFd } from '../kept-file.js';

/** A change this long before a read cannot share its clock tick with a later change, on any file
 *  system whose timestamps are at least as fine as 2 s (FAT's), nor across a small clock difference of
 *  hosts sharing the storage. The maildir backend's stamp uses the same 2 s (as Dovecot does). */
const RACY_MS = 2000;
/** Test hook (DMAIL_STORE_RACY_MS, only ever lower): remember files sooner after a change, so a test
 *  sees the remembered answers without waiting. */
const racyMs = (): number => {
  const e = process.env.DMAIL_STORE_RACY_MS;
  const v = e ? Number(e) : NaN;
  return Number.isFinite(v) && v >= 0 && v < RACY_MS ? v : RACY_MS;
};
/** Folders remembered per process (a user with more folders costs reads beyond this, never memory). */
const MAX_ENTRIES = 5000;

/** A file's identity as a stat gives it. */
interface Ident { ino: number; size: number; mtime: number; ctime: number }

interface Remembered {
  /** The index file the summary was read from (null: not to be trusted, see RACY_MS). */
  idx: Ident | null;
  q: IndexSummary;
  /** The change log the highest mod-sequence was read from (null: not to be trusted, or no log). */
  log: Ident | null;
  high: number;
  /** The spool whose stamp and tail hash were found to be `q`'s (null: none to be trusted). */
  spool: Ident | null;
  /** The index directory as it was before the index above was last found to be `idx` and the journal
   *  absent (null: not to be trusted). While the directory keeps this identity no entry of it was
   *  created, removed or renamed: the index is still that file (indexes are only ever replaced by a
   *  rename, never written in place) and there is still no journal. */
  dir: Ident | null;
}

/** Per index path. Only facts read from files, each filed under the identity of its file: no session's
 *  state, and nothing a later stat would not confirm or discard. */
const remembered = new Map<string, Remembered>();

/** The identity of a file, or null when it may still change unseen (racily clean: changed too lately). */
function ident(st: Stats, now: number, racy: number): Ident | null {
  if (!(st.ctimeMs < now - racy && st.mtimeMs < now - racy)) return null;
  return { ino: st.ino, size: st.size, mtime: st.mtimeMs, ctime: st.ctimeMs };
}

const same = (a: Ident | null | undefined, st: Stats): boolean =>
  !!a && a.ino === st.ino && a.size === st.size && a.mtime === st.mtimeMs && a.ctime === st.ctimeMs;
const sameIdent = (a: Ident | null, b: Ident | null): boolean =>
  a === b || (!!a && !!b && a.ino === b.ino && a.size === b.size && a.mtime === b.mtime && a.ctime === b.ctime);

/** stat, undefined when there is nothing (or it cannot be looked at). */
function statOf(path: string): Stats | undefined {
  try { return statSync(path, { throwIfNoEntry: false }); } catch { return undefined; }
}

/** A stamp's mtime (nanoseconds, decimal) as the milliseconds a plain stat gives (Node computes them
 *  as seconds * 1e3 + nanoseconds / 1e6 in doubles: the same arithmetic gives the same double). */
function stampMs(ns: string): number {
  try {
    const n = BigInt(ns);
    return Number(n / 1000000000n) * 1e3 + Number(n % 1000000000n) / 1e6;
  } catch { return NaN; }
}

/** A mailbox's file names (an MboxFile has them; a batch needs no more). */
export type QuickFiles = Pick<MboxFile, 'path' | 'indexPath' | 'journalPath' | 'modlogPath'>;

/** One mailbox of a batch: its file names and, when the caller has it, the spool's lstat (MboxStore did
 *  it to find the mailbox; it must then be a regular file). */
export interface QuickItem { f: QuickFiles; spool?: Stats | undefined }

/**
 * `spool`: the spool's lstat when the caller has it (MboxStore did it to find the mailbox); it must be a
 * regular file. Without it the spool is looked at here.
 */
export function quickStatus(f: QuickFiles, spool?: Stats): MailboxStatus | null {
  return quickStatusMany(f.indexPath.slice(0, f.indexPath.lastIndexOf('/')), [{ f, spool }])[0]!;
}

/**
 * STATUS of several mailboxes whose index files are all in `indexDir` (LIST-STATUS): the directory is
 * looked at once for the batch, and a mailbox whose index and absent journal were last seen under this
 * very directory identity needs neither looked at again. Null for a mailbox the locked path must answer.
 */
export function quickStatusMany(indexDir: string, items: readonly QuickItem[], shared = false): (MailboxStatus | null)[] {
  const now = Date.now();
  const racy = racyMs();
  // What other processes remembered (the first batch of this process in this directory).
  if (shared && crc && !loaded.has(indexDir)) load(indexDir);
  // Before anything of the batch is read: a later change of the directory gets a later identity.
  const dirSt = statOf(indexDir);
  const dirId = dirSt ? ident(dirSt, now, racy) : null;
  const out: (MailboxStatus | null)[] = new Array(items.length);
  const news = { n: 0 };
  for (let i = 0; i < items.length; i++) out[i] = one(items[i]!, dirSt, dirId, now, racy, news);
  if (shared && crc && news.n) save(indexDir);
  return out;
}

function one(it: QuickItem, dirSt: Stats | undefined, dirId: Ident | null, now: number, racy: number, news: { n: number }): MailboxStatus | null {
  const f = it.f;
  const seen = remembered.get(f.indexPath);
  let idxSt: Stats | undefined;
  let idxHit: boolean;
  if (seen && seen.idx && dirSt && same(seen.dir, dirSt)) {
    // Nothing in the index directory was created, removed or renamed since this index was last found
    // to be `seen.idx` with no journal beside it: both still hold.
    idxHit = true;
  } else {
    if (existsSync(f.journalPath)) return null;
    idxSt = statOf(f.indexPath);
    if (!idxSt) return null;
    idxHit = same(seen?.idx, idxSt);
  }
  const q = idxHit ? seen!.q : readIndexSummary(f.indexPath);
  if (!q || !q.uidValidity || !q.stamp.ino) return null;
  let st = it.spool;
  if (!st) {
    try { st = lstatSync(f.path); } catch { return null; }
    if (!st.isFile()) return null;
  }
  if (q.stamp.size !== st.size || q.stamp.ino !== String(st.ino)) return null;
  // The tail hash catches a same-size rewrite within one mtime tick: read again unless this very spool
  // (same identity, changed long enough ago) had it checked against this summary already.
  const spoolHit = idxHit && same(seen!.spool, st);
  if (!spoolHit) {
    if (stampMs(q.stamp.mtime) !== st.mtimeMs) return null;
    let fd = -1;
    try {
      fd = openSync(f.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      // The exact stamp, of the file read (the lstat above may be of one replaced since).
      const exact = fstatSync(fd, { bigint: true });
      if (String(exact.ino) !== q.stamp.ino || Number(exact.size) !== q.stamp.size || String(exact.mtimeNs) !== q.stamp.mtime) return null;
      if (stampTail(fd, q.stamp.size) !== q.stamp.tail) return null;
    } catch {
      return null;
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  }
  // A reader's view of the log (never creates or repairs it); a log of another UIDVALIDITY, or one
  // with records the index has not taken in (a writer died between them), sends us to the locked path.
  // No log at all reads as a fresh one (highest 1), as openChangeLog's reader says of a missing file.
  const logSt = statOf(f.modlogPath);
  const logHit = !logSt || (same(seen?.log, logSt) && seen!.q.uidValidity === q.uidValidity);
  const high = !logSt ? 1 : logHit ? seen!.high : openChangeLog(f.modlogPath, q.uidValidity, undefined, { readOnly: true }).highestModseq();
  if (high !== q.logSeen) return null;
  if (idxHit && spoolHit && logHit) {
    // Only the directory's identity may be news: the index and the journal's absence were looked at
    // after it, so the next batch need not look at them while the directory keeps it.
    if (idxSt && dirId && !sameIdent(seen!.dir, dirId)) {
      seen!.dir = dirId;
      news.n++;
    }
  } else {
    news.n += remember(f.indexPath, {
      idx: idxSt ? ident(idxSt, now, racy) : seen!.idx, q, log: logSt ? ident(logSt, now, racy) : null, high, spool: ident(st, now, racy),
      dir: dirId,
    });
  }
  return {
    messages: q.messages, recent: q.recent, unseen: q.unseen, deleted: q.deleted, uidNext: q.uidNext, uidValidity: q.uidValidity,
    size: q.size, highestModseq: high,
  };
}

/** 1 when something was remembered, else 0. */
function remember(key: string, r: Remembered): number {
  remembered.delete(key);
  if (!r.idx && !r.log && !r.spool) return 0;
  remembered.set(key, r);
  // Oldest first out (Map order is insertion order).
  while (remembered.size > MAX_ENTRIES) remembered.delete(remembered.keys().next().value!);
  return 1;
}

// ---- Shared between processes: what was remembered, in the index directory (issue 14) ----
//
// A process started per connection (inetd) has remembered nothing: every folder of its first LIST-STATUS
// costs the index read, the spool's tail read and the log read. So what `remembered` holds for an index
// directory is also kept in that directory, in FILE: the same facts, each under the identities of the
// files it came from, which every reader compares with its own stats exactly as for its own memory — a
// file changed since has another identity (the RACY_MS rule held when the fact was written down) and is
// read again. So the file can make an answer cheaper, never different: one that is damaged, half
// written, of another version, too big, not a plain file of ours (trustedCacheFd: owner, one link, not
// writable by group or others) or not there is not used. Written in place (no rename: the directory's
// identity, which `dir` above relies on, stays as it is), behind a CRC-32 of its contents, without fsync
// (a cache); a reader that meets a write half done finds the hash wrong and reads the files instead.

/** In the index directory; no mailbox's file is named so (theirs start with INBOX., F. or H.). */
const FILE = 'list-status.cache';
/** Version 1; L or B: the byte order of the numbers (a host of the other order reads nothing). */
const MAGIC = `DMLS1${endianness()[0]}`;
/** "DMLS1L <CRC-32 of the rest, 8 hex digits>\n" (16 bytes), then the count of entries (8 decimal digits
 *  and "\n"), the text part (per entry its index file name, the spool stamp's inode and mtime, each
 *  followed by "\n"; UTF-8), padding to a multiple of 8 bytes, and per entry NUMS float64s: the
 *  identities of index, log, spool and directory (NaN: none) and the summary's numbers. */
const HEAD = MAGIC.length + 10;
const NUMS = 27;
/** Bounds: entries (as `remembered`'s) and bytes of the file read or written. */
const MAX_FILE_BYTES = 4 << 20;

/** Index directories whose file this process has read (or tried to). */
const loaded = new Set<string>();

/** zlib.crc32 (node 20.15 and later; without it nothing is shared). Catches a torn or half-written file,
 *  which is all it is for: whoever can write the file can write the mailbox's own index too. */
const crc = (zlib as { crc32?: (b: Uint8Array) => number }).crc32;
const digest = (b: Uint8Array): string => (crc!(b) >>> 0).toString(16).padStart(8, '0');

const count = (x: number): boolean => Number.isSafeInteger(x) && x >= 0;
const DIGITS = /^\d{1,30}$/;

/** Numbers at `at` as an identity: all four finite, or all four NaN (none); undefined otherwise. */
function identAt(n: Float64Array, at: number): Ident | null | undefined {
  const ino = n[at]!, size = n[at + 1]!, mtime = n[at + 2]!, ctime = n[at + 3]!;
  if (Number.isFinite(ino) && Number.isFinite(size) && Number.isFinite(mtime) && Number.isFinite(ctime)) return { ino, size, mtime, ctime };
  return ino !== ino && size !== size && mtime !== mtime && ctime !== ctime ? null : undefined;
}

function putIdent(n: Float64Array, at: number, i: Ident | null): void {
  n[at] = i ? i.ino : NaN;
  n[at + 1] = i ? i.size : NaN;
  n[at + 2] = i ? i.mtime : NaN;
  n[at + 3] = i ? i.ctime : NaN;
}

/** Take in what FILE holds (entries this process has of its own win: they are at least as new). */
function load(dir: string): void {
  if (loaded.size >= MAX_ENTRIES) loaded.clear();
  loaded.add(dir);
  let fd = -1;
  try {
    fd = openSync(`${dir}/${FILE}`, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    if (!trustedCacheFd(fd, dir)) return;
    const size = fstatSync(fd).size;
    if (size > MAX_FILE_BYTES || size < HEAD + 9) return;
    // Its own memory (offset 0), so the numbers can be viewed in place at an offset divisible by 8.
    const b = Buffer.from(new ArrayBuffer(size));
    let got = 0;
    while (got < size) {
      const r = readSync(fd, b, got, size - got, got);
      if (r <= 0) return;
      got += r;
    }
    const head = b.toString('latin1', 0, HEAD);
    if (!head.startsWith(MAGIC + ' ') || head[HEAD - 1] !== '\n') return;
    if (digest(b.subarray(HEAD)) !== head.slice(MAGIC.length + 1, HEAD - 1)) return;
    const count8 = b.toString('latin1', HEAD, HEAD + 9);
    if (!/^\d{8}\n$/.test(count8)) return;
    const n = Number(count8.slice(0, 8));
    if (n > MAX_ENTRIES) return;
    const numsAt = size - n * NUMS * 8;
    if (numsAt < HEAD + 9 || numsAt % 8 !== 0) return;
    const text = b.toString('utf8', HEAD + 9, numsAt).split('\n');
    if (text.length < 3 * n) return;
    const nums = new Float64Array(b.buffer, numsAt, n * NUMS);
    for (let e = 0; e < n; e++) {
      const name = text[3 * e]!, ino = text[3 * e + 1]!, mtime = text[3 * e + 2]!;
      const key = `${dir}/${name}`;
      if (remembered.has(key) || name.length > 255 || name.includes('/') || !name.endsWith('.idx')) continue;
      if (!DIGITS.test(ino) || !DIGITS.test(mtime)) continue;
      const at = e * NUMS;
      const idx = identAt(nums, at), log = identAt(nums, at + 4), spool = identAt(nums, at + 8), dirId = identAt(nums, at + 12);
      if (idx === undefined || log === undefined || spool === undefined || dirId === undefined || (!idx && !log && !spool)) continue;
      let ok = true;
      for (let k = at + 16; k < at + NUMS; k++) if (!count(nums[k]!)) ok = false;
      if (!ok) continue;
      remembered.set(key, {
        idx, log, spool, dir: dirId, high: nums[at + 26]!,
        q: {
          messages: nums[at + 16]!, unseen: nums[at + 17]!, recent: nums[at + 18]!, size: nums[at + 19]!, uidNext: nums[at + 20]!,
          uidValidity: nums[at + 21]!, logSeen: nums[at + 22]!, deleted: nums[at + 23]!,
          stamp: { size: nums[at + 24]!, ino, mtime, tail: nums[at + 25]! },
        },
      });
    }
    while (remembered.size > MAX_ENTRIES) remembered.delete(remembered.keys().next().value!);
  } catch {
    // Missing, unreadable or damaged: the files themselves answer.
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** Write down what this process remembers of the directory (after a batch that learnt something). */
function save(dir: string): void {
  const prefix = `${dir}/`;
  const keep: [string, Remembered][] = [];
  let text = '';
  for (const [key, r] of remembered) {
    if (!key.startsWith(prefix) || key.indexOf('/', prefix.length) >= 0) continue;
    const name = key.slice(prefix.length);
    keep.push([name, r]);
    text += `${name}\n${r.q.stamp.ino}\n${r.q.stamp.mtime}\n`;
  }
  const start = HEAD + 9;
  const textLen = Buffer.byteLength(text);
  const numsAt = Math.ceil((start + textLen) / 8) * 8;
  const all = Buffer.from(new ArrayBuffer(numsAt + keep.length * NUMS * 8));
  if (all.length > MAX_FILE_BYTES) return;
  all.write(`${String(keep.length).padStart(8, '0')}\n`, HEAD, 'latin1');
  all.write(text, start, 'utf8');
  all.fill(0x0a, start + textLen, numsAt);
  const nums = new Float64Array(all.buffer, numsAt, keep.length * NUMS);
  keep.forEach(([, r], e) => {
    const at = e * NUMS;
    const q = r.q;
    putIdent(nums, at, r.idx);
    putIdent(nums, at + 4, r.log);
    putIdent(nums, at + 8, r.spool);
    putIdent(nums, at + 12, r.dir);
    nums.set([q.messages, q.unseen, q.recent, q.size, q.uidNext, q.uidValidity, q.logSeen, q.deleted, q.stamp.size, q.stamp.tail, r.high], at + 16);
  });
  all.write(`${MAGIC} ${digest(all.subarray(HEAD))}\n`, 0, 'latin1');
  const path = `${dir}/${FILE}`;
  let fd = -1;
  try {
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return;
      fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    }
    // Someone else's file (or a link to one) is left alone, unwritten.
    if (!trustedCacheFd(fd, dir)) return;
    let n = 0;
    while (n < all.length) n += writeSync(fd, all, n, all.length - n, n);
    ftruncateSync(fd, all.length);
  } catch {
    // Not written: a later batch tries again; nothing depends on it.
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
