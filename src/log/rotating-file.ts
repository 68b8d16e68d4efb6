// A synchronous append-only log destination shared by many short-lived processes (one per connection).
// Synchronous because a per-connection process may exit at any moment and must not lose lines, and a
// worker-thread transport would cost start-up time. Rotation at max_log_size renames <file> to <file>.1
// (older ones shift up to rotated_logs) under a proper-lockfile lock so two processes never rotate at
// once; every process notices a rotation by the changed inode and reopens.

import { closeSync, existsSync, fstatSync, openSync, renameSync, statSync, unlinkSync, writeSync, constants } from 'node:fs';
import type * as ProperLockfile from 'proper-lockfile';

let lockfileModule: typeof ProperLockfile | undefined;
/**
 * proper-lockfile, loaded at the first rotation only: it brings graceful-fs, which patches node:fs as it
 * loads, work every per-connection process would pay at start-up for a rotation it almost never does.
 * A plain require() (rotation is synchronous): esbuild bundles the module and runs it only here.
 */
function lockfile(): typeof ProperLockfile {
  lockfileModule ??= require('proper-lockfile') as typeof ProperLockfile;
  return lockfileModule;
}

export interface RotationPolicy {
  maxSize: number;
  keep: number;
}

/** How often (ms) to look whether another process rotated the file under us. */
const INODE_CHECK_MS = 1000;

export class RotatingFile {
  private fd: number;
  private ino: number;
  private lastInodeCheck = Date.now();

  /** Throws if the file cannot be opened (the caller reports it once and logs nowhere). */
  constructor(readonly path: string, private readonly policy: RotationPolicy) {
    this.fd = RotatingFile.open(path);
    this.ino = fstatSync(this.fd).ino;
  }

  private static open(path: string): number {
    return openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o640);
  }

  write(line: string): void {
    try {
      const now = Date.now();
      if (now - this.lastInodeCheck >= INODE_CHECK_MS) {
        this.lastInodeCheck = now;
        this.reopenIfMoved();
      }
      writeSync(this.fd, line);
      if (this.policy.maxSize > 0 && fstatSync(this.fd).size >= this.policy.maxSize) this.rotate();
    } catch {
      // A full disk or a vanished directory must not take the session down with it.
    }
  }

  close(): void {
    try { closeSync(this.fd); } catch { /* already closed */ }
  }

  private reopenIfMoved(): void {
    let current: number;
    try {
      current = statSync(this.path).ino;
    } catch {
      current = -1;
    }
    if (current !== this.ino) this.reopen();
  }

  private reopen(): void {
    try {
      const fd = RotatingFile.open(this.path);
      closeSync(this.fd);
      this.fd = fd;
      this.ino = fstatSync(fd).ino;
    } catch {
      // After dropping privileges we may not reopen a root-owned log: keep the old descriptor.
    }
  }

  private rotate(): void {
    let release: (() => void) | undefined;
    try {
      release = lockfile().lockSync(this.path, { realpath: false, stale: 10_000 });
    } catch {
      // Another process is rotating right now. If it already has, follow it to the new file.
      this.reopenIfMoved();
      return;
    }
    try {
      let st;
      try { st = statSync(this.path); } catch { st = undefined; }
      // Rotate only if the file under the name is still ours and still too big: another process may
      // have rotated between our size check and the lock.
      if (st && st.ino === this.ino && st.size >= this.policy.maxSize) {
        const keep = Math.max(0, this.policy.keep);
        if (keep === 0) {
          unlinkSync(this.path);
        } else {
          // Shift only the files that exist (.1 .. .top-1); the lock is held meanwhile, keep it short.
          let top = 1;
          while (top < keep && existsSync(`${this.path}.${top}`)) top++;
          for (let i = top - 1; i >= 1; i--) renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
          renameSync(this.path, `${this.path}.1`);
        }
      }
      this.reopen();
    } catch {
      // Not allowed to rename (e.g. after setuid): keep writing where we are.
    } finally {
      try { release(); } catch { /* lock already gone (stale) */ }
    }
  }
}
