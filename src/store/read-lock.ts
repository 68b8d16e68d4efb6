// Shared read locks for bursts of reads (FETCH 1:* reads thousands of messages back to back). A reader
// needs no dot-lock: a shared fcntl lock (F_RDLCK) already excludes procmail's and our own writers,
// which all take an fcntl write lock. One lock per spool per process is held for a burst and dropped
// when the event loop goes a turn without a read (the session is waiting for the client or the
// socket), or at the latest READ_HOLD_MS after it was taken, so delivery is never held up for long.
//
// fcntl locks belong to the process, and closing any descriptor of a file drops all of the process's
// locks on it. So there is at most one held read lock per spool here, a writer in this process first
// drops it (beginWrite), and no read lock is taken while this process writes that spool.

import { openSync, closeSync, constants } from 'node:fs';
import { StoreError } from './types.js';
import { loadFsExt, takeKernelLocks, type LockOptions } from './lock.js';

const READ_HOLD_MS = 50;

export interface ReadHold {
  readonly fd: number;
  readonly path: string;
  readonly takenAt: number;
  /** Reads since the last idle check. */
  uses: number;
  released: boolean;
}

const holds = new Map<string, ReadHold>();
const writers = new Map<string, number>();
/** A read lock being taken: a writer of ours waits for it (its F_WRLCK would convert that lock, and
 *  the reader's later close would then drop the writer's lock). */
const pending = new Map<string, Promise<unknown>>();

function drop(h: ReadHold): void {
  if (h.released) return;
  h.released = true;
  if (holds.get(h.path) === h) holds.delete(h.path);
  try { closeSync(h.fd); } catch { /* already closed */ }
}

function watch(h: ReadHold): void {
  setImmediate(() => {
    if (h.released) return;
    if (h.uses === 0 || Date.now() - h.takenAt >= READ_HOLD_MS) { drop(h); return; }
    h.uses = 0;
    watch(h);
  });
}

/** A writer in this process is about to lock `path`: drop our read lock first (see top). Returns the
 *  function that ends the write. */
export async function beginWrite(path: string): Promise<() => void> {
  writers.set(path, (writers.get(path) ?? 0) + 1);
  while (pending.has(path)) await pending.get(path)!.catch(() => undefined);
  const h = holds.get(path);
  if (h) drop(h);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const n = (writers.get(path) ?? 1) - 1;
    if (n > 0) writers.set(path, n); else writers.delete(path);
  };
}

/**
 * A shared read lock on `path`, reused within a burst. Null when a read lock cannot serve (the file is
 * missing, fcntl is unavailable, or this process is writing it): the caller takes the full lock.
 * The caller must check `released` after any await and use `fd` only synchronously.
 */
export async function readHold(path: string, opts: LockOptions): Promise<ReadHold | null> {
  for (;;) {
    const cur = holds.get(path);
    if (cur && !cur.released) {
      if (Date.now() - cur.takenAt < READ_HOLD_MS) { cur.uses++; return cur; }
      drop(cur);
    }
    if (writers.get(path)) return null;
    const busy = pending.get(path);
    if (busy) { await busy.catch(() => undefined); continue; }
    const p = takeReadLock(path, opts);
    pending.set(path, p);
    try {
      const h = await p;
      if (!h) return null;
      return h;
    } finally {
      if (pending.get(path) === p) pending.delete(path);
    }
  }
}

async function takeReadLock(path: string, opts: LockOptions): Promise<ReadHold | null> {
  {
    const ext = await loadFsExt(opts.log);
    if (!ext) return null;
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return null;
    }
    const deadline = Date.now() + opts.timeoutSec * 1000;
    try {
      await takeKernelLocks(ext, fd, 'read', opts.flock === true, deadline, 100);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    // A writer of ours that started meanwhile waits for us (pending) before its fcntl lock: give way.
    if (writers.get(path)) { closeSync(fd); return null; }
    const h: ReadHold = { fd, path, takenAt: Date.now(), uses: 1, released: false };
    holds.set(path, h);
    watch(h);
    return h;
  }
}

/** Drop our read lock on `path` now (a mailbox is closed; the next read takes a new one). */
export function releaseReads(path: string): void {
  const h = holds.get(path);
  if (h) drop(h);
}
