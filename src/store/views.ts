// Live handles on a mailbox (issue 11, backend-neutral), for deferred removal: an expunged message's
// bytes may leave the storage only when no open handle can still reference it, i.e. when every live
// handle has acknowledged a mod-sequence at or above the expunge's.
//
// Each open handle owns one slot file `<hostname>.<pid>.<16 hex>` in the mailbox's views directory,
// holding its acknowledged mod-sequence (decimal, fixed width) under a whole-file fcntl write lock kept
// for the handle's lifetime. Liveness is decided by that lock alone, never by memory, pids or inotify:
// the kernel (or the NFS lock manager) drops it when the owner dies, so a slot whose lock can be taken
// belongs to a dead handle and is removed.
//
// fcntl locks belong to the process, and closing ANY descriptor of a file drops all of this process's
// locks on it. So slots of this process are never opened by the scan: they are looked up in an
// in-process table. A slot is made under a dot-name (`.<name>.new`), locked and written, then renamed
// into place, so a scan never mistakes a slot being born for a dead one (dot-names are only cleaned up
// when their lock can be taken; the owner then finds its file gone at the rename and starts again).

import { openSync, closeSync, writeSync, readSync, readdirSync, renameSync, unlinkSync, mkdirSync, constants } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from '../log/types.js';
import { loadFsExt, type FsExt } from './lock.js';

export interface ViewSlot {
  /** Path of the slot file. */
  readonly path: string;
  /** The mod-sequence this handle has acknowledged (its client was told everything up to it). */
  readonly acknowledged: number;
  /** Raise the acknowledged mod-sequence (a lower value is ignored). pwrite in place, no fsync: a crash
   *  drops the lock, and a dead slot counts for nothing anyway. */
  advance(modseq: number): void;
  /** Remove the slot (unlinked while still locked, then the descriptor is closed). Idempotent. */
  close(): void;
}

const WIDTH = 20;

class Slot implements ViewSlot {
  private closed = false;
  constructor(readonly path: string, readonly dir: string, readonly name: string, private fd: number, public acknowledged: number) {}

  advance(modseq: number): void {
    if (this.closed || !(modseq > this.acknowledged)) return;
    this.acknowledged = modseq;
    if (this.fd < 0) return;
    try { writeSync(this.fd, encode(modseq), 0, WIDTH + 1, 0); } catch { /* the value in memory is what this process uses */ }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const mine = table.get(this.dir);
    mine?.delete(this.name);
    if (mine && mine.size === 0) table.delete(this.dir);
    if (this.fd < 0) return;
    try { unlinkSync(this.path); } catch { /* removed by a mailbox delete */ }
    try { closeSync(this.fd); } catch { /* already closed */ }
    this.fd = -1;
  }
}

/** This process's open slots, by views directory and slot name. */
const table = new Map<string, Map<string, Slot>>();
/** Paths of slot files this process is making right now (a scan must not lock-test them either). */
const making = new Set<string>();

function encode(modseq: number): Buffer {
  return Buffer.from(String(Math.max(0, Math.floor(modseq))).padStart(WIDTH, '0') + '\n', 'latin1');
}

function decode(b: Buffer): number {
  const s = b.toString('latin1').trim();
  return /^\d{1,20}$/.test(s) ? Number(s) : 0;
}

/** Non-blocking whole-file write lock: true when taken, false when someone else holds one. */
function tryLock(ext: FsExt, fd: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    ext.fcntl(fd, 'setlk', ext.constants.F_WRLCK!, (err) => {
      if (!err) resolve(true);
      else if (err.code === 'EAGAIN' || err.code === 'EACCES') resolve(false);
      else reject(err);
    });
  });
}

/** Without fcntl (fs-ext missing) the only hint left: a slot of this host whose process is gone. */
function deadByPid(name: string): boolean {
  const parts = name.split('.');
  const pid = Number(parts[parts.length - 2]);
  const host = parts.slice(0, -2).join('.');
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return false;
  try { process.kill(pid, 0); return false; } catch (e) { return (e as NodeJS.ErrnoException).code === 'ESRCH'; }
}

/**
 * Open a slot for a new handle in `dir` (created 0700 when missing), acknowledging `modseq`. Call it
 * under the mailbox lock that gives the handle its first state, so no purge can pass in between.
 */
/** More slot files than this in a directory: the opener sweeps out dead ones (a mailbox that never
 *  sees an expunge never scans its slots otherwise, and crashed sessions leave theirs). */
const SWEEP_ABOVE = 64;

export async function openViewSlot(dir: string, modseq: number, log?: Logger): Promise<ViewSlot> {
  try {
    const slot = await makeSlot(dir, modseq, log);
    try { if (readdirSync(dir).length > SWEEP_ABOVE) await minAcknowledged(dir, log); } catch { /* a hint */ }
    return slot;
  } catch (e) {
    // No room or no permission in the index directory (a full disk must not stop people reading
    // their mail): a slot only this process knows. Other processes may then purge what this handle
    // still lists; its reads of those fail with NONEXISTENT, as before deferred removal.
    log?.warn({ dir, err: String(e) }, 'cannot create a view slot; this session does not hold back removals by other processes');
    const name = `.memory.${randomBytes(8).toString('hex')}`;
    const slot = new Slot(join(dir, name), dir, name, -1, modseq);
    let mine = table.get(dir);
    if (!mine) table.set(dir, (mine = new Map()));
    mine.set(name, slot);
    return slot;
  }
}

async function makeSlot(dir: string, modseq: number, log?: Logger): Promise<ViewSlot> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ext = await loadFsExt(log);
  for (let attempt = 0; ; attempt++) {
    const name = `${hostname()}.${process.pid}.${randomBytes(8).toString('hex')}`;
    const tmp = join(dir, `.${name}.new`);
    const path = join(dir, name);
    making.add(tmp);
    making.add(path);
    let fd = -1;
    let ok = false;
    try {
      fd = openSync(tmp, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      // Taken only by a scan testing our newborn file; it then unlinks it: start again.
      if (ext && !(await tryLock(ext, fd))) {
        if (attempt >= 20) throw new Error(`cannot lock a new view slot in ${dir}`);
        continue;
      }
      writeSync(fd, encode(modseq), 0, WIDTH + 1, 0);
      try { renameSync(tmp, path); } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' && attempt < 20) continue;
        throw e;
      }
      ok = true;
    } finally {
      if (!ok && fd >= 0) {
        try { closeSync(fd); } catch { /* ignore */ }
      }
      if (!ok) { making.delete(tmp); making.delete(path); }
    }
    // Into the table in the same turn as the rename: no scan of ours can see the name without it.
    const slot = new Slot(path, dir, name, fd, modseq);
    let mine = table.get(dir);
    if (!mine) table.set(dir, (mine = new Map()));
    mine.set(name, slot);
    making.delete(tmp);
    making.delete(path);
    return slot;
  }
}

/**
 * The lowest mod-sequence acknowledged by a live handle on the mailbox whose views directory is `dir`,
 * or Infinity when none is live. Slots of dead handles (their fcntl lock can be taken) are removed.
 */
export async function minAcknowledged(dir: string, log?: Logger): Promise<number> {
  let names: string[] = [];
  try { names = readdirSync(dir); } catch { /* no slots on disk */ }
  const ext = names.length ? await loadFsExt(log) : null;
  let min = Infinity;
  for (const n of names) {
    // Looked up afresh for every name: a handle of ours may have been opened while we awaited a lock.
    if (table.get(dir)?.has(n)) continue;
    const newborn = n.startsWith('.');
    if (newborn && !n.endsWith('.new')) continue;
    const p = join(dir, n);
    if (making.has(p)) continue;
    let fd: number;
    try { fd = openSync(p, constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK); } catch { continue; }
    try {
      let dead: boolean;
      if (ext) dead = await tryLock(ext, fd);
      else dead = deadByPid(newborn ? n.slice(1, -4) : n);
      if (dead) {
        try { unlinkSync(p); } catch { /* someone else cleaned it */ }
        continue;
      }
      if (newborn) continue;
      const b = Buffer.alloc(WIDTH + 1);
      const got = readSync(fd, b, 0, b.length, 0);
      min = Math.min(min, decode(b.subarray(0, got)));
    } finally {
      // We hold no lock on a live slot, and the lock we took on a dead one goes with its file.
      closeSync(fd);
    }
  }
  // This process's slots, as they are now (one may have been opened while we awaited a lock).
  const mine = table.get(dir);
  if (mine) for (const s of mine.values()) min = Math.min(min, s.acknowledged);
  return min;
}
