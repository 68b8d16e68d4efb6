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
// the index, the log and the spool, and the journal's absence. A file whose identity is unchanged has
// unchanged bytes, with one exception every stat cache has ("racily clean", as git calls it): a change
// within the same clock tick as the previous one, keeping the size. So an identity is only remembered
// when the file was last changed well before it was read (RACY_MS): any later change then gets a later
// ctime (which no program can set back) and is seen. Content read after its stat is at least as new
// as the stat, so a remembered answer is never older than the identity it is filed under.

import { existsSync, fstatSync, lstatSync, openSync, closeSync, statSync, constants, type Stats } from 'node:fs';
import type { MailboxStatus } from '../types.js';
import { openChangeLog } from '../changelog.js';
import { readIndexSummary, stampTail, type IndexSummary } from './index-file.js';
import type { MboxFile } from './file.js';

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

/** One mailbox of a batch: its file names and, when the caller has it, the spool's lstat (MboxStore did
 *  it to find the mailbox; it must then be a regular file). */
export interface QuickItem { f: MboxFile; spool?: Stats | undefined }

/**
 * `spool`: the spool's lstat when the caller has it (MboxStore did it to find the mailbox); it must be a
 * regular file. Without it the spool is looked at here.
 */
export function quickStatus(f: MboxFile, spool?: Stats): MailboxStatus | null {
  return quickStatusMany(f.indexPath.slice(0, f.indexPath.lastIndexOf('/')), [{ f, spool }])[0]!;
}

/**
 * STATUS of several mailboxes whose index files are all in `indexDir` (LIST-STATUS): the directory is
 * looked at once for the batch, and a mailbox whose index and absent journal were last seen under this
 * very directory identity needs neither looked at again. Null for a mailbox the locked path must answer.
 */
export function quickStatusMany(indexDir: string, items: readonly QuickItem[]): (MailboxStatus | null)[] {
  const now = Date.now();
  const racy = racyMs();
  // Before anything of the batch is read: a later change of the directory gets a later identity.
  const dirSt = statOf(indexDir);
  const dirId = dirSt ? ident(dirSt, now, racy) : null;
  const out: (MailboxStatus | null)[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) out[i] = one(items[i]!, dirSt, dirId, now, racy);
  return out;
}

function one(it: QuickItem, dirSt: Stats | undefined, dirId: Ident | null, now: number, racy: number): MailboxStatus | null {
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
    if (idxSt) seen!.dir = dirId;
  } else {
    remember(f.indexPath, {
      idx: idxSt ? ident(idxSt, now, racy) : seen!.idx, q, log: logSt ? ident(logSt, now, racy) : null, high, spool: ident(st, now, racy),
      dir: dirId,
    });
  }
  return {
    messages: q.messages, recent: q.recent, unseen: q.unseen, deleted: q.deleted, uidNext: q.uidNext, uidValidity: q.uidValidity,
    size: q.size, highestModseq: high,
  };
}

function remember(key: string, r: Remembered): void {
  remembered.delete(key);
  if (!r.idx && !r.log && !r.spool) return;
  remembered.set(key, r);
  // Oldest first out (Map order is insertion order).
  while (remembered.size > MAX_ENTRIES) remembered.delete(remembered.keys().next().value!);
}
