// Spool locking that excludes the MDAs (Decision 5): a dot-lock `<file>.lock` created exclusively (or by
// link() from `<file>.<host>.<pid>.<lock_id>` when lock_id is set, the NFS-safe way), broken when older
// than lock_stale, then an fcntl lock on the file itself — the order procmail uses, so neither side can
// deadlock the other. Waits are bounded by lock_timeout and end in StoreError('UNAVAILABLE').
//
// Several sessions of one process (resident mode) must also exclude each other, and fcntl cannot do it:
// its locks belong to the process (a second F_SETLK of the same process succeeds at once, and closing
// either descriptor drops both). So a lock is first taken in-process (one holder per spool path at a
// time, FIFO), then dot-lock + fcntl on the process's behalf; the descriptor carrying the fcntl lock is
// closed by its holder only, before the next in-process holder gets its turn. The table is per process
// on purpose: it stands for the kernel's per-process lock state, whatever host or session asks.

import { openSync, closeSync, writeSync, unlinkSync, linkSync, statSync, lstatSync, readFileSync, constants } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { StoreError } from './types.js';
import { killPoint } from './killpoint.js';
import type { Logger } from '../log/types.js';

export interface LockOptions {
  timeoutSec: number;
  staleSec: number;
  lockId?: string;
  /** use_flock: also take flock() (for MDAs built to use it, e.g. some Exim/Courier setups). */
  flock?: boolean;
  log?: Logger;
}

export interface FsExt {
  // Only the callback form passes a struct flock for F_SETLK; fcntlSync would hand the kernel an int.
  fcntl(fd: number, cmd: string | number, arg: number, cb: (err: NodeJS.ErrnoException | null) => void): void;
  flock(fd: number, flags: string, cb: (err: NodeJS.ErrnoException | null) => void): void;
  constants: Record<string, number>;
}

let fsExt: FsExt | null | undefined;
export async function loadFsExt(log?: Logger): Promise<FsExt | null> {
  if (fsExt !== undefined) return fsExt;
  try {
    const mod = (await import('fs-ext')) as unknown as Partial<FsExt> & { default?: FsExt };
    fsExt = typeof mod.fcntl === 'function' ? (mod as FsExt) : (mod.default ?? null);
  } catch (e) {
    log?.error({ err: String(e) }, 'fs-ext not available: no fcntl locks on spools');
    fsExt = null;
  }
  return fsExt;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Take the fcntl record lock (and flock, when configured) on an open spool descriptor without blocking
 *  the event loop: non-blocking attempts with backoff until `deadline`, then UNAVAILABLE. */
export async function takeKernelLocks(
  ext: FsExt, fd: number, mode: 'read' | 'write', flock: boolean, deadline: number, maxDelayMs: number,
): Promise<void> {
  const type = mode === 'write' ? ext.constants.F_WRLCK! : ext.constants.F_RDLCK!;
  await retryBusy(() => new Promise<void>((res, rej) => ext.fcntl(fd, 'setlk', type, (err) => (err ? rej(err) : res()))),
    ['EAGAIN', 'EACCES'], deadline, maxDelayMs, 'fcntl');
  if (flock) {
    await retryBusy(() => new Promise<void>((res, rej) => ext.flock(fd, mode === 'write' ? 'exnb' : 'shnb', (err) => (err ? rej(err) : res()))),
      ['EAGAIN', 'EWOULDBLOCK'], deadline, maxDelayMs, 'flock');
  }
}

async function retryBusy(attempt: () => Promise<void>, busy: readonly string[], deadline: number, maxDelayMs: number, what: string): Promise<void> {
  for (let delay = 2; ; delay = Math.min(delay * 2, maxDelayMs)) {
    try {
      return await attempt();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === undefined || !busy.includes(code)) throw e;
      if (Date.now() > deadline) throw new StoreError('UNAVAILABLE', `mailbox is locked by another process (${what})`);
      await sleep(delay);
    }
  }
}
const warnedDirs = new Set<string>();

/** Per spool path: the end of the queue of in-process holders (see top). */
const inProcess = new Map<string, Promise<void>>();

/** Wait for this process's earlier holders of `path` (bounded by `deadline`); returns the release. */
async function takeInProcess(path: string, deadline: number): Promise<() => void> {
  const prev = inProcess.get(path);
  let release!: () => void;
  const mine = new Promise<void>((r) => { release = r; });
  const tail = prev ? prev.then(() => mine) : mine;
  inProcess.set(path, tail);
  let done = false;
  const free = () => {
    if (done) return;
    done = true;
    release();
    if (inProcess.get(path) === tail) inProcess.delete(path);
  };
  if (prev) {
    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([
      prev.then(() => true),
      new Promise<boolean>((r) => { timer = setTimeout(() => r(false), Math.max(0, deadline - Date.now())); }),
    ]);
    clearTimeout(timer);
    if (!waited) {
      // Our place in the queue passes straight on to whoever comes after us.
      free();
      throw new StoreError('UNAVAILABLE', 'mailbox is locked by another session');
    }
  }
  return free;
}

/** Sessions of this process holding or waiting for `path` (tests, diagnostics). */
export function inProcessLocked(path: string): boolean {
  return inProcess.has(path);
}

/** A held lock on one mailbox file. `fd` is open on the file (O_NOFOLLOW), or -1 if it does not exist. */
export interface SpoolLock {
  readonly fd: number;
  release(): void;
}

export interface AcquireOptions {
  /** Open the file read-write (needed for a write lock and for rewrites). */
  write: boolean;
  /** Create the file if missing (APPEND, MDA-style). */
  create?: boolean;
}

/** The temp file a dot-lock is link()ed from: beside the lock, hidden (a leading dot) so that a folder
 *  listing racing a lock never shows it as a mailbox; host, pid and lock_id make it ours alone. */
function linkTempName(lockPath: string, host: string, pid: string | number, opts: LockOptions): string {
  return join(dirname(lockPath), `.${basename(lockPath.slice(0, -5))}.${host}.${pid}${opts.lockId ? '.' + opts.lockId : ''}`);
}

function ourLockContent(): string {
  return `${process.pid} ${hostname()}\n`;
}

/** A dot-lock left by a dead process of ours on this host can be broken at once. */
function lockOwnerDead(path: string, opts: LockOptions): boolean {
  try {
    const [pid, host] = readFileSync(path, 'latin1').trim().split(/\s+/);
    if (!pid || host !== hostname() || !/^\d+$/.test(pid)) return false;
    try { process.kill(Number(pid), 0); return false; } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') return false;
    }
    // Its link() temp file may be left too.
    try { unlinkSync(linkTempName(path, host, pid, opts)); } catch { /* none */ }
    // (and one of the visible name an earlier version used)
    try { unlinkSync(`${path.slice(0, -5)}.${host}.${pid}${opts.lockId ? '.' + opts.lockId : ''}`); } catch { /* none */ }
    return true;
  } catch { return false; }
}

function tryDotLock(lockPath: string, opts: LockOptions): 'ok' | 'busy' | 'nodir' {
  // The lock appears by link() of a temp file that already holds our pid and host: it is never seen
  // empty (so a lock left by a killed process of ours can be recognised and broken at once), and it is
  // the NFS-safe way. lock_id names the temp file so cluster nodes never collide.
  const tmp = linkTempName(lockPath, hostname(), process.pid, opts);
  try {
    // Created exclusively, never opened if already there (the spool directory is often 1777: anybody
    // could have put a file of their own, or a hard link, under this name): a leftover is removed first.
    const excl = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    let fd: number;
    try {
      fd = openSync(tmp, excl, 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      unlinkSync(tmp);
      fd = openSync(tmp, excl, 0o644);
    }
    try { writeSync(fd, ourLockContent()); } finally { closeSync(fd); }
    killPoint('dotlock-temp');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    try { unlinkSync(tmp); } catch { /* not created */ }
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOENT') return 'nodir';
    // A full disk must not stop reading mail: an empty O_EXCL lock file needs no data block.
    if (code === 'ENOSPC' || code === 'EDQUOT') return plainDotLock(lockPath);
    throw e;
  }
  try {
    linkSync(tmp, lockPath);
    return 'ok';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // NFS may report failure after a link that happened: the link count tells the truth.
    try { if (statSync(tmp).nlink === 2) return 'ok'; } catch { /* fall through */ }
    if (code === 'EEXIST') return 'busy';
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') return plainDotLock(lockPath);
    throw e;
  } finally {
    try { unlinkSync(tmp); } catch { /* ignore */ }
  }
}

/** For file systems without hard links: O_EXCL create. */
function plainDotLock(lockPath: string): 'ok' | 'busy' | 'nodir' {
  try {
    const fd = openSync(lockPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    try { writeSync(fd, ourLockContent()); } catch { /* full disk: an empty lock still locks */ } finally { closeSync(fd); }
    return 'ok';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return 'busy';
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return 'nodir';
    throw e;
  }
}

function breakIfStale(lockPath: string, opts: LockOptions): void {
  try {
    const st = lstatSync(lockPath);
    const age = (Date.now() - st.mtimeMs) / 1000;
    if (age > opts.staleSec || lockOwnerDead(lockPath, opts)) {
      // Only remove the lock we judged: a fresh one with another inode is someone else's.
      if (lstatSync(lockPath).ino === st.ino) {
        unlinkSync(lockPath);
        opts.log?.info({ lock: lockPath, age: Math.round(age) }, 'broke stale dot-lock');
      }
    }
  } catch { /* gone already */ }
}

/** Lock `path` and open it. Throws StoreError('UNAVAILABLE') when the wait exceeds timeoutSec. */
export async function lockSpool(path: string, opts: LockOptions, how: AcquireOptions): Promise<SpoolLock> {
  const deadline = Date.now() + opts.timeoutSec * 1000;
  const freeInProcess = await takeInProcess(path, deadline);
  try {
    const held = await lockSpoolNow(path, opts, how, deadline);
    return {
      fd: held.fd,
      release() {
        held.release();
        freeInProcess();
      },
    };
  } catch (e) {
    freeInProcess();
    throw e;
  }
}

async function lockSpoolNow(path: string, opts: LockOptions, how: AcquireOptions, deadline: number): Promise<SpoolLock> {
  const lockPath = `${path}.lock`;
  let dotLocked = false;
  let delay = 5;
  for (;;) {
    const r = tryDotLock(lockPath, opts);
    if (r === 'ok') { dotLocked = true; break; }
    if (r === 'nodir') {
      const dir = dirname(path);
      if (!warnedDirs.has(dir)) {
        warnedDirs.add(dir);
        opts.log?.warn({ dir }, 'cannot create dot-locks here; using fcntl locks only (as an MDA would fail too)');
      }
      break;
    }
    breakIfStale(lockPath, opts);
    if (Date.now() > deadline) throw new StoreError('UNAVAILABLE', 'mailbox is locked by another process');
    await sleep(delay);
    delay = Math.min(delay * 2, 200);
  }
  const releaseDot = () => { if (dotLocked) { try { unlinkSync(lockPath); } catch { /* already gone */ } dotLocked = false; } };
  let fd = -1;
  try {
    const flags = (how.write ? constants.O_RDWR : constants.O_RDONLY) | constants.O_NOFOLLOW | (how.create ? constants.O_CREAT : 0);
    try {
      fd = openSync(path, flags, 0o600);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { fd: -1, release: releaseDot };
      if (code === 'ELOOP') throw new StoreError('NOPERM', 'mailbox is a symbolic link');
      if (code === 'EACCES' || code === 'EPERM') throw new StoreError('NOPERM', 'no permission to open the mailbox');
      throw e;
    }
    const ext = await loadFsExt(opts.log);
    if (ext) {
      await takeKernelLocks(ext, fd, how.write ? 'write' : 'read', opts.flock === true, deadline, 200);
    }
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    releaseDot();
    throw e;
  }
  const heldFd = fd;
  let released = false;
  return {
    fd: heldFd,
    release() {
      if (released) return;
      released = true;
      // Closing the descriptor drops the fcntl lock; the dot-lock goes last, as procmail does it.
      try { closeSync(heldFd); } catch { /* ignore */ }
      releaseDot();
    },
  };
}
