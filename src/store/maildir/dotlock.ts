// Dot-locks compatible with Dovecot's file_dotlock (dotlock_use_excl = yes, its default): the lock is
// `<file>.lock`, created with O_EXCL, holding "<pid>:<host>". A lock whose owner is a dead process on
// this host, or that has not been touched for `staleSeconds` (Dovecot: 120 s for dovecot-uidlist), is
// broken. Content updates are written into the lock file itself and renamed over the target, which
// replaces the file and releases the lock in one atomic step (Dovecot's file_dotlock_replace).

import { promises as fsp, constants } from 'node:fs';
import { hostname } from 'node:os';
import { StoreError } from '../types.js';

export interface DotlockOptions {
  /** Seconds to wait for the lock before failing with UNAVAILABLE. */
  timeoutSeconds: number;
  /** Seconds of inactivity after which someone else's lock is considered stale. */
  staleSeconds: number;
}

export const DOVECOT_UIDLIST_STALE = 120;

export class Dotlock {
  private released = false;
  private constructor(readonly target: string, readonly lockPath: string, private fh: fsp.FileHandle) {}

  static async acquire(target: string, opts: DotlockOptions): Promise<Dotlock> {
    const lockPath = `${target}.lock`;
    const deadline = Date.now() + opts.timeoutSeconds * 1000;
    let delay = 2;
    for (;;) {
      try {
        const fh = await fsp.open(lockPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
        try {
          await fh.write(`${process.pid}:${hostname()}`);
        } catch (e) {
          await fh.close().catch(() => undefined);
          await fsp.unlink(lockPath).catch(() => undefined);
          throw e;
        }
        return new Dotlock(target, lockPath, fh);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code !== 'EEXIST') throw e;
      }
      if (await isStale(lockPath, opts.staleSeconds)) {
        await breakLock(lockPath, opts.staleSeconds);
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

  /** Replace the target with `content` atomically and release the lock. */
  async replaceWith(content: string | Buffer): Promise<void> {
    if (this.released) throw new Error('dotlock already released');
    try {
      await this.fh.truncate(0);
      const buf = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
      await this.fh.write(buf, 0, buf.length, 0);
      await this.fh.datasync();
      await this.fh.close();
      this.released = true;
      await fsp.rename(this.lockPath, this.target);
    } catch (e) {
      await this.release();
      throw e;
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.fh.close().catch(() => undefined);
    await fsp.unlink(this.lockPath).catch(() => undefined);
  }
}

async function isStale(lockPath: string, staleSeconds: number): Promise<boolean> {
  let text: string;
  let mtimeMs: number;
  try {
    const st = await fsp.stat(lockPath);
    mtimeMs = st.mtimeMs;
    text = await fsp.readFile(lockPath, 'latin1');
  } catch {
    return false; // vanished: simply retry
  }
  const m = /^(\d+):(.*)$/.exec(text.trim());
  if (m && m[2] === hostname()) {
    const pid = Number(m[1]);
    if (pid !== process.pid && !processAlive(pid)) return true;
  }
  return Date.now() - mtimeMs > staleSeconds * 1000;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function breakLock(lockPath: string, staleSeconds: number): Promise<void> {
  // Re-check just before unlinking to narrow the window in which a fresh lock could be removed.
  if (await isStale(lockPath, staleSeconds)) await fsp.unlink(lockPath).catch(() => undefined);
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
