// Dot-locks that exclude Dovecot's own (file_dotlock on `<file>.lock`): the lock file always holds
// "<pid>:<host>" from the instant it exists, because it is written under a temporary name first and
// then hard-linked into place (link() fails if the lock exists, also over NFS). Where hard links are
// not supported we fall back to O_EXCL + write, as Dovecot's dotlock_use_excl does.
// A lock whose owner is a dead process on this host is broken at once; any other lock after
// `staleSeconds` without change (Dovecot: 120 s for dovecot-uidlist), or after a few seconds when it
// is empty or unreadable (a holder killed between create and write in the fallback path).
// New content is written to a temporary file and renamed over the target while the lock is held, so a
// kill at any instant leaves either the old or the new file, and a lock that names a dead process.

import { promises as fsp, constants } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname } from 'node:path';
import { StoreError } from '../types.js';
import { replaceFile } from '../safe-file.js';

export interface DotlockOptions {
  /** Seconds to wait for the lock before failing with UNAVAILABLE. */
  timeoutSeconds: number;
  /** Seconds of inactivity after which someone else's lock is considered stale. */
  staleSeconds: number;
}

export const DOVECOT_UIDLIST_STALE = 120;
/** An empty lock older than this is a holder that died before writing its pid. */
const EMPTY_LOCK_STALE_MS = 5000;

let seq = 0;
const tempName = (path: string, what: string) => `${path}.${what}.${hostname()}.${process.pid}.${++seq}`;

async function createLock(lockPath: string): Promise<fsp.FileHandle | 'exists'> {
  const content = `${process.pid}:${hostname()}`;
  const tmp = tempName(lockPath, 'tmp');
  let linked = false;
  try {
    await fsp.writeFile(tmp, content, { mode: 0o600, flag: 'wx' });
    await fsp.link(tmp, lockPath);
    linked = true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return 'exists';
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV' && code !== 'EMLINK') throw e;
  } finally {
    await fsp.unlink(tmp).catch(() => undefined);
  }
  if (linked) return fsp.open(lockPath, 'r+');
  // No hard links on this file system: O_EXCL, then the pid.
  try {
    const fh = await fsp.open(lockPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    await fh.write(content);
    return fh;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return 'exists';
    throw e;
  }
}

export class Dotlock {
  private released = false;
  private constructor(readonly target: string, readonly lockPath: string, private readonly fh: fsp.FileHandle) {}

  static async acquire(target: string, opts: DotlockOptions): Promise<Dotlock> {
    const lockPath = `${target}.lock`;
    const deadline = Date.now() + opts.timeoutSeconds * 1000;
    let delay = 2;
    for (;;) {
      const got = await createLock(lockPath);
      if (got !== 'exists') return new Dotlock(target, lockPath, got);
      const staleIno = await isStale(lockPath, opts.staleSeconds);
      if (staleIno !== undefined) {
        await breakLock(lockPath, staleIno);
        continue;
      }
      if (Date.now() >= deadline) {
        throw new StoreError('UNAVAILABLE', `Timeout while waiting for lock ${lockPath}`);
      }
      // Jittered short sleeps: lock holders keep it for milliseconds, so long back-offs only add latency.
      await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())));
      delay = Math.min(delay * 2, 50);
    }
  }

  /** Replace the target with `content` atomically (temp file + rename), then release the lock.
   *  Returns the new file's identity ("ino:size:mtimeNs"), taken while the lock was still held. */
  async replaceWith(content: string | Buffer): Promise<string> {
    if (this.released) throw new Error('dotlock already released');
    try {
      // store/safe-file: random name (in the `<target>.new.` shape the clean-up knows), O_EXCL|O_NOFOLLOW,
      // created and renamed through the checked directory's descriptor.
      const base = basename(this.target);
      const st = await replaceFile(dirname(this.target), base, content, {
        syncDir: false, tempName: (r) => `${base}.new.${hostname()}.${process.pid}.${r}`,
      });
      return `${st.ino}:${st.size}:${st.mtimeNs}`;
    } finally {
      await this.release();
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.fh.close().catch(() => undefined);
    await fsp.unlink(this.lockPath).catch(() => undefined);
  }
}

/** The inode of the lock when it is stale, else undefined. */
async function isStale(lockPath: string, staleSeconds: number): Promise<bigint | undefined> {
  let text: string;
  let st;
  try {
    st = await fsp.stat(lockPath, { bigint: true });
    text = await fsp.readFile(lockPath, 'latin1');
  } catch {
    return undefined; // vanished: simply retry
  }
  const age = Date.now() - Number(st.mtimeMs);
  const m = /^(\d+):(.*)$/.exec(text.trim());
  if (!m) return age > EMPTY_LOCK_STALE_MS ? st.ino : undefined;
  if (m[2] === hostname()) {
    const pid = Number(m[1]);
    if (pid !== process.pid && !processAlive(pid)) return st.ino;
  }
  return age > staleSeconds * 1000 ? st.ino : undefined;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Remove a stale lock. Two waiters may judge the same lock stale; the second must not remove the
 *  fresh lock the first one took meanwhile, so the lock is renamed away and checked by inode first. */
async function breakLock(lockPath: string, staleIno: bigint): Promise<void> {
  const aside = tempName(lockPath, 'stale');
  try {
    await fsp.rename(lockPath, aside);
  } catch {
    return; // already gone
  }
  const st = await fsp.stat(aside, { bigint: true }).catch(() => undefined);
  if (st && st.ino !== staleIno) {
    // We took someone's fresh lock: put it back (fails only if yet another process locked since).
    await fsp.link(aside, lockPath).catch(() => undefined);
  }
  await fsp.unlink(aside).catch(() => undefined);
}

/** Run `fn` holding the lock; `fn` may call lock.replaceWith(); otherwise the lock is just released. */
export async function withDotlock<T>(target: string, opts: DotlockOptions, fn: (lock: Dotlock) => Promise<T>): Promise<T> {
  const lock = await Dotlock.acquire(target, opts);
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}
