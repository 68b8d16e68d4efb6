// "A folder that is selected in another session cannot be deleted" (DMail). An open mailbox holds a
// shared flock on `<index dir>/<key>.inuse`; DELETE and RENAME need it exclusively, without waiting.
// flock (not fcntl) because its locks belong to the open file, so two sessions in one process still
// see each other, and the kernel drops them when a session's process dies.

import { openSync, closeSync, mkdirSync, unlinkSync, constants } from 'node:fs';
import { loadFsExt, sleep } from './lock.js';
import type { Logger } from '../log/types.js';

export interface InUseLock {
  release(): void;
}

function openLockFile(path: string, dir: string): number {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return openSync(path, constants.O_RDONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
}

function flock(ext: NonNullable<Awaited<ReturnType<typeof loadFsExt>>>, fd: number, how: 'shnb' | 'exnb'): Promise<boolean> {
  return new Promise((resolve, reject) => ext.flock(fd, how, (err) => {
    if (!err) resolve(true);
    else if (err.code === 'EAGAIN' || err.code === 'EWOULDBLOCK') resolve(false);
    else reject(err);
  }));
}

const none: InUseLock = { release() {} };

/** Mark a folder open. Never fails the open: without a lock file (no fs-ext, unwritable index dir) the
 *  folder is simply not protected. A DELETE holding the exclusive lock is waited for briefly. */
export async function markInUse(path: string, dir: string, log: Logger): Promise<InUseLock> {
  const ext = await loadFsExt(log);
  if (!ext) return none;
  let fd: number;
  try { fd = openLockFile(path, dir); } catch (e) {
    log.warn({ path, err: String(e) }, 'cannot create the folder in-use lock file');
    return none;
  }
  try {
    for (let i = 0; i < 40; i++) {
      if (await flock(ext, fd, 'shnb')) {
        let done = false;
        return { release() { if (!done) { done = true; try { closeSync(fd); } catch { /* closed */ } } } };
      }
      await sleep(25);
    }
  } catch (e) {
    log.warn({ path, err: String(e) }, 'cannot lock the folder in-use file');
  }
  closeSync(fd);
  return none;
}

/**
 * Claim a folder for DELETE/RENAME: null when another session has it open. The caller removes the
 * file (`done(true)`) when the folder is gone, else just releases it.
 */
export async function claimUnused(path: string, dir: string, log: Logger): Promise<{ done(remove: boolean): void } | null> {
  const ext = await loadFsExt(log);
  let fd = -1;
  try { if (ext) fd = openLockFile(path, dir); } catch { fd = -1; }
  const done = (remove: boolean) => {
    if (remove) { try { unlinkSync(path); } catch { /* none */ } }
    if (fd >= 0) { try { closeSync(fd); } catch { /* closed */ } fd = -1; }
  };
  if (!ext || fd < 0) return { done };
  if (await flock(ext, fd, 'exnb')) return { done };
  done(false);
  return null;
}
