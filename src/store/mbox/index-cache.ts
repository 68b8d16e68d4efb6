// The decoded mbox index (`<key>.idx`, index-file.ts) kept by a process between sessions (issue 14: a
// resident worker's SELECT decoded the whole index again every session, and that decoding and its garbage
// were its largest cost). One ProcessCache entry per index path (store/process-cache.ts: held while a
// session has the mailbox open, idle entries under the process's `resident_cache_size`; 0 keeps nothing).
//
// What an entry is believed for (kept-file.ts rules, applied to a file that is only ever replaced whole,
// never written in place: writeIndex renames a new file over it):
// - the path opened again (O_NOFOLLOW) and that descriptor trusted (`trustedCacheFd`: a plain file of
//   ours, one link, not group/other writable) — an untrusted index is still read as before, never kept;
// - the same file: device, inode, birth time, size, mtime and ctime (ctime cannot be set back by anyone,
//   a rename or any write moves it), and the same first and last bytes (`fingerprint`: the head carries
//   the spool stamp, UIDVALIDITY and STATUS summary, the tail the last records).
// Anything else is read and decoded again; records equal to a kept one (same UID and every field) are
// shared with it instead of made anew, so a file another process replaced after one flag change or one
// delivery costs a read and a comparison, not a message object per record.
//
// Kept tables are shared by every session of the process and are immutable: IndexData and its
// IndexedMessage records are never changed after they are made (file.ts and mailbox.ts make new objects
// for every change, copy on write), so a session's snapshot is never changed under it.
//
// What the spool is, is still decided as before (file.ts compares the index's spool stamp with the spool
// under the lock): this module only saves decoding a file whose bytes are the same.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { ProcessCache } from '../process-cache.js';
import { fingerprint, fingerprintOf, trustedCacheFd } from '../kept-file.js';
import { decodeIndex, type IndexData } from './index-file.js';

const { O_RDONLY, O_NOFOLLOW } = constants;

interface KeptIndex {
  data: IndexData;
  dev: number;
  ino: number;
  birth: number;
  size: number;
  mtime: number;
  ctime: number;
  /** First and last bytes of the file (kept-file.ts `fingerprint`). */
  print: Buffer;
}

/** Estimated bytes an entry keeps alive: a record object with its numbers, plus keyword/UIDL strings. */
function bytesOf(d: IndexData): number {
  let extra = 0;
  for (const m of d.messages) {
    if (m.keywords.length) extra += 32 + m.keywords.length * 40;
    if (m.uidl) extra += 40 + m.uidl.length;
  }
  return 512 + d.messages.length * 160 + extra;
}

const cache = new ProcessCache<string, KeptIndex>('mbox-index');

function sameIdentity(k: KeptIndex, f: Stats): boolean {
  return f.dev === k.dev && f.ino === k.ino && (f.birthtimeMs || 0) === k.birth && f.size === k.size &&
    f.mtimeMs === k.mtime && f.ctimeMs === k.ctime;
}

function identity(data: IndexData, f: Stats, print: Buffer): KeptIndex {
  return { data, dev: f.dev, ino: f.ino, birth: f.birthtimeMs || 0, size: f.size, mtime: f.mtimeMs, ctime: f.ctimeMs, print };
}

function readAll(fd: number, size: number): Buffer | null {
  const b = Buffer.allocUnsafe(size);
  let got = 0;
  while (got < size) {
    const r = readSync(fd, b, got, size - got, got);
    if (r <= 0) break;
    got += r;
  }
  return got === size ? b : null;
}

/**
 * The index at `path`, decoded (null: missing, damaged or of another version), from the process's kept
 * copy when the file is the one it was decoded from. The result is shared: never change it.
 */
export function readIndexKept(path: string): IndexData | null {
  let fd: number;
  try {
    fd = openSync(path, O_RDONLY | O_NOFOLLOW);
  } catch {
    cache.delete(path);
    return null;
  }
  try {
    const f = fstatSync(fd);
    if (!f.isFile()) return null;
    const trusted = trustedCacheFd(fd, dirname(path));
    const k = cache.get(path);
    if (trusted && k && sameIdentity(k, f) && fingerprint(fd, f.size)?.equals(k.print)) return k.data;
    const buf = readAll(fd, f.size);
    const data = buf ? decodeIndex(buf, k?.data.messages) : null;
    // The file changed while read (size or times moved): decoded, but not kept for these bytes.
    if (!data || !trusted || !sameIdentity(identity(data, f, Buffer.alloc(0)), fstatSync(fd))) {
      cache.delete(path);
      return data;
    }
    cache.set(path, identity(data, f, fingerprint(fd, f.size) ?? Buffer.alloc(0)), bytesOf(data));
    return data;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/**
 * `data` was just written to `path` as `bytes` (writeIndex; the caller holds the spool's write lock, the
 * only lock under which an index is replaced): keep it for the file now there, if that file is trusted
 * and shows exactly those bytes' size and first and last bytes. Otherwise forget what was kept.
 */
export function keepWritten(path: string, data: IndexData, bytes: Buffer): void {
  let fd = -1;
  try {
    fd = openSync(path, O_RDONLY | O_NOFOLLOW);
    const f = fstatSync(fd);
    const print = fingerprint(fd, f.size);
    const want = fingerprintOf(bytes);
    if (f.isFile() && f.size === bytes.length && print && print.equals(want) && trustedCacheFd(fd, dirname(path))) {
      cache.set(path, identity(data, f, print), bytesOf(data));
      return;
    }
    cache.delete(path);
  } catch {
    cache.delete(path);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** The index at `path` is gone or no longer believed (removed, renamed away). */
export function forgetIndex(path: string): void {
  cache.delete(path);
}

/** A session has the mailbox open: its kept index stays (not counted as idle) until the returned
 *  function runs. */
export function holdIndex(path: string): () => void {
  return cache.hold(path);
}
