// A cache file whose decoded tables a process keeps between handles (the facts file and its keys file:
// facts-file.ts, facts-keys.ts). The one place for the rules such a kept file follows:
// - while a handle holds it, the entry has an open descriptor that each handle checked itself
//   (`trustedCacheFd`: a plain file of ours, or for root of the directory's owner, one link, not writable by
//   group or others);
// - when no handle holds it, the descriptor is closed and a fingerprint is kept (`goIdle`), so a large
//   cache budget keeps tables, not open files;
// - the next handle opens the path again and believes the tables only for the same file: trusted, same
//   device, inode and birth time, not shorter, the same first bytes and bytes before `indexed`
//   (`reopenKept`); otherwise the caller resets its tables. No path is trusted twice: every check is on
//   the descriptor that is then used.
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { effectiveUid } from './safe-file.js';

const { O_RDONLY, O_NOFOLLOW } = constants;
const HEAD = 64;
const TAIL = 256;

/** What a kept entry knows of its file. */
export interface KeptFile {
  /** Open descriptor while a handle holds the entry; -1 when idle or unknown. */
  fd: number;
  ino: number;
  dev: number;
  birth: number;
  /** Bytes of the file the tables cover. */
  indexed: number;
  /** The file's first bytes and those just before `indexed` (`fingerprint`), kept while the fd is closed. */
  tail: Buffer | null;
}

/** The first bytes (the header: UIDVALIDITY) and the last ones before `indexed` of an open file: what an
 *  idle entry's file must still show when opened again. Null if the file is shorter. */
export function fingerprint(fd: number, indexed: number): Buffer | null {
  const head = Math.min(HEAD, indexed);
  const tail = Math.min(TAIL, indexed);
  const b = Buffer.alloc(head + tail);
  if (readSync(fd, b, 0, head, 0) !== head) return null;
  if (readSync(fd, b, head, tail, indexed - tail) !== tail) return null;
  return b;
}

/** What `fingerprint` reads from a file whose first `indexed` bytes are `b` (a file just written). */
export function fingerprintOf(b: Buffer, indexed = b.length): Buffer {
  const head = Math.min(HEAD, indexed);
  const tail = Math.min(TAIL, indexed);
  return Buffer.concat([b.subarray(0, head), b.subarray(indexed - tail, indexed)]);
}

/** An idle entry's file opened again (`fd`, trusted by the caller): is it the file the tables are of? */
export function sameFile(fd: number, k: KeptFile): boolean {
  const f = fstatSync(fd);
  if (f.ino !== k.ino || f.dev !== k.dev || (f.birthtimeMs || 0) !== k.birth || f.size < k.indexed || !k.tail) return false;
  return fingerprint(fd, k.indexed)?.equals(k.tail) ?? false;
}

/** Whether an open descriptor is a cache file we may believe and write: a plain file of ours (or, for
 *  root, of the directory's owner), one link, not writable by group or others. */
export function trustedCacheFd(fd: number, dir: string): boolean {
  const f = fstatSync(fd);
  const uid = effectiveUid();
  let ownerOk = f.uid === uid;
  if (!ownerOk && uid === 0) {
    try { ownerOk = f.uid === statSync(dir).uid; } catch { ownerOk = false; }
  }
  return f.isFile() && ownerOk && f.nlink === 1 && (f.mode & 0o022) === 0;
}

/** Forget the file: close the descriptor (if open) and clear what is known of it; the caller clears its
 *  own tables. */
export function forgetFile(k: KeptFile): void {
  if (k.fd >= 0) closeSync(k.fd);
  k.fd = -1;
  k.ino = -1;
  k.dev = -1;
  k.birth = 0;
  k.indexed = 0;
  k.tail = null;
}

/** No handle holds the entry any more: close its descriptor, keep a fingerprint. False when the tables
 *  cannot be believed again (no fingerprint): the caller resets them. */
export function goIdle(k: KeptFile): boolean {
  if (k.fd < 0) return true;
  try {
    k.tail = fingerprint(k.fd, k.indexed);
  } catch {
    k.tail = null;
  }
  closeSync(k.fd);
  k.fd = -1;
  return k.tail !== null;
}

/** Tables kept while no handle held them: open the path again and keep the descriptor only if it is
 *  trusted and the same file (plus `also`, the caller's own rule, on that descriptor). False: the caller
 *  resets its tables. */
export function reopenKept(path: string, dir: string, k: KeptFile, also?: (fd: number) => boolean): boolean {
  let fd: number;
  try {
    fd = openSync(path, O_RDONLY | O_NOFOLLOW);
  } catch {
    return false;
  }
  let ok = false;
  try {
    ok = trustedCacheFd(fd, dir) && sameFile(fd, k) && (!also || also(fd));
  } catch { /* not believed */ }
  if (!ok) { closeSync(fd); return false; }
  k.fd = fd;
  k.tail = null;
  return true;
}

/**
 * Bring a kept entry up to date with its path before a handle uses it. `verified`: this handle already
 * checked the shared descriptor itself (each handle checks it once). Tables kept while idle are believed
 * only for the same file (`reopenKept`, plus `unchanged` on the new descriptor); an entry whose file was
 * replaced, shrank, or that `stale` rejects is reset and the path opened anew, the descriptor checked
 * (`trustedCacheFd`). Returns 'gone' when there is no file at the path, 'untrusted' when the file there
 * must not be believed (the caller ignores it and writes nothing), else 'ok' (this handle has now
 * checked the descriptor).
 */
export function refreshKept(
  path: string, dir: string, k: KeptFile, verified: boolean, reset: () => void,
  stale?: (st: { size: number; mtimeMs: number }) => boolean, unchanged?: (fd: number) => boolean,
): 'ok' | 'gone' | 'untrusted' {
  let checked = verified;
  if (k.fd < 0 && k.ino >= 0) {
    if (reopenKept(path, dir, k, unchanged)) checked = true;
    else reset();
  }
  let st: { ino: number; size: number; mtimeMs: number };
  try {
    st = statSync(path);
  } catch {
    reset();
    return 'gone';
  }
  if (!checked && k.fd >= 0 && st.ino === k.ino && !trustedCacheFd(k.fd, dir)) reset();
  if (st.ino === k.ino && st.size >= k.indexed && !stale?.(st)) return 'ok';
  reset();
  let fd: number;
  try {
    fd = openSync(path, O_RDONLY | O_NOFOLLOW);
  } catch {
    return 'ok';
  }
  if (!trustedCacheFd(fd, dir)) {
    closeSync(fd);
    return 'untrusted';
  }
  const f = fstatSync(fd);
  k.fd = fd;
  k.ino = f.ino;
  k.dev = f.dev;
  k.birth = f.birthtimeMs || 0;
  return 'ok';
}

// ---- Files replaced whole (renamed over, never written in place): the mbox index, maildir's dmail-index.
// Their decoded form is kept per path in a ProcessCache and believed only for the same file: opened
// again (O_NOFOLLOW), that descriptor trusted (`trustedCacheFd`), and the same device, inode, birth time,
// size, mtime and ctime (nobody can set ctime back: a rename or any write moves it) and the same first and
// last bytes (`fingerprint`). An untrusted file is still decoded for the caller as before, never kept.

/** A kept decoding of a whole file and the identity of the file it came from. */
export interface KeptWhole<V> {
  value: V;
  dev: number;
  ino: number;
  birth: number;
  size: number;
  mtime: number;
  ctime: number;
  print: Buffer;
}

type StatLike = { dev: number; ino: number; birthtimeMs: number; size: number; mtimeMs: number; ctimeMs: number };

function sameWhole(k: KeptWhole<unknown>, f: StatLike): boolean {
  return f.dev === k.dev && f.ino === k.ino && (f.birthtimeMs || 0) === k.birth && f.size === k.size &&
    f.mtimeMs === k.mtime && f.ctimeMs === k.ctime;
}

function wholeOf<V>(value: V, f: StatLike, print: Buffer): KeptWhole<V> {
  return { value, dev: f.dev, ino: f.ino, birth: f.birthtimeMs || 0, size: f.size, mtime: f.mtimeMs, ctime: f.ctimeMs, print };
}

function readAllAt(fd: number, size: number): Buffer | null {
  const b = Buffer.allocUnsafe(size);
  let got = 0;
  while (got < size) {
    const r = readSync(fd, b, got, size - got, got);
    if (r <= 0) break;
    got += r;
  }
  return got === size ? b : null;
}

/** The cache operations readWholeKept/keepWholeWritten use (a ProcessCache<string, KeptWhole<V>>). */
export interface WholeCache<V> {
  get(key: string): KeptWhole<V> | undefined;
  set(key: string, value: KeptWhole<V>, bytes: number): void;
  delete(key: string): void;
}

/**
 * The file at `path` decoded (`decode`: null when it does not parse; `prev` is the kept value of an
 * earlier version of the file, if any, whose unchanged parts it may share): the kept value when the file
 * is the one it was decoded from, else read from the opened descriptor and decoded (and kept, when the
 * file is trusted and did not change while read). Undefined when there is no file; null when it does
 * not parse. `size(v)`: bytes the value keeps alive, estimated.
 */
export function readWholeKept<V>(
  path: string, dir: string, cache: WholeCache<V>, decode: (b: Buffer, prev: V | undefined) => V | null, size: (v: V) => number,
): V | null | undefined {
  let fd: number;
  try {
    fd = openSync(path, O_RDONLY | O_NOFOLLOW);
  } catch (e) {
    cache.delete(path);
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : null;
  }
  try {
    const f = fstatSync(fd);
    if (!f.isFile()) return null;
    const trusted = trustedCacheFd(fd, dir);
    const k = cache.get(path);
    if (trusted && k && sameWhole(k, f) && fingerprint(fd, f.size)?.equals(k.print)) return k.value;
    const buf = readAllAt(fd, f.size);
    const value = buf ? decode(buf, k?.value) : null;
    // Kept only for bytes that did not change while read (the same size and times after as before).
    const print = value !== null && trusted && sameWhole(wholeOf(null, f, Buffer.alloc(0)), fstatSync(fd)) ? fingerprint(fd, f.size) : null;
    if (value === null || !print) cache.delete(path);
    else cache.set(path, wholeOf(value, f, print), size(value));
    return value;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/**
 * `value` was just written to `path` as `bytes` (renamed into place): keep it for the file now there if
 * that file is trusted and shows exactly those bytes' size and first and last bytes (and, when known,
 * the inode written); otherwise forget what was kept.
 */
export function keepWholeWritten<V>(path: string, dir: string, cache: WholeCache<V>, value: V, bytes: Buffer, size: number, ino?: number): void {
  let fd = -1;
  try {
    fd = openSync(path, O_RDONLY | O_NOFOLLOW);
    const f = fstatSync(fd);
    const print = f.isFile() && f.size === bytes.length && (ino === undefined || f.ino === ino) ? fingerprint(fd, f.size) : null;
    if (print && print.equals(fingerprintOf(bytes)) && trustedCacheFd(fd, dir)) cache.set(path, wholeOf(value, f, print), size);
    else cache.delete(path);
  } catch {
    cache.delete(path);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
