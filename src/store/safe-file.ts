// Files written where someone else might be waiting with a symlink (issue 13): every temporary file of
// the server goes through here. A temporary file gets a random name and is created with
// O_CREAT|O_EXCL|O_NOFOLLOW inside a directory that was opened once (O_DIRECTORY|O_NOFOLLOW) and
// checked through that descriptor (fstat: a directory, owned by whom it should be, not writable by group
// or others); the file is then created and renamed *through the same descriptor*
// (`/proc/self/fd/<fd>/<name>`: the kernel resolves the name in the directory we checked, as openat()
// would — Node has no openat). No path is looked up twice, so a directory swapped for a symlink between
// the check and the write changes nothing.
//
// What this does not do: decide that the path *to* the directory is trustworthy. For a process running
// as the user that question does not arise (it can only reach the user's own files); a session that runs
// as root checks its whole paths first (`store/trust.ts`, `stablePath`).

import {
  closeSync, constants, existsSync, fchownSync, fstatSync, fsyncSync, futimesSync, mkdirSync, openSync,
  promises as fsp, renameSync, unlinkSync, writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';

/** A directory (or file) that is not what it must be to be trusted: owner, mode, type or symlink. */
export class UnsafePathError extends Error {
  readonly code = 'UNSAFE_PATH';
  constructor(message: string) { super(message); this.name = 'UnsafePathError'; }
}

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY } = constants;

/** This process's effective uid (the one the kernel checks permissions with). */
export function effectiveUid(): number {
  return process.geteuid?.() ?? process.getuid?.() ?? 0;
}

/** Linux: a descriptor's directory by name, without a second path lookup. Elsewhere the path itself. */
const PROC_FD = existsSync('/proc/self/fd');

export interface DirTrust {
  /** uids allowed to own the directory. Default: this process's effective uid; for root, whoever owns
   *  it (root working on a user's files, e.g. `dmailctl convert`: every write goes through the directory
   *  descriptor with O_EXCL|O_NOFOLLOW and cannot leave that directory, so its owner cannot redirect it).
   *  Callers that know whose directory it must be (root's own records) say so. */
  owners?: readonly number[];
}

function defaultOwners(): readonly number[] | undefined {
  const uid = effectiveUid();
  return uid === 0 ? undefined : [uid];
}

function describeMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/** Check an open directory: a directory, owned by one of `owners`, not writable by group or others. */
export function checkDirFd(fd: number, what: string, owners: readonly number[] | undefined = defaultOwners()): void {
  const st = fstatSync(fd);
  if (!st.isDirectory()) throw new UnsafePathError(`${what} is not a directory`);
  if (owners && !owners.includes(st.uid)) {
    throw new UnsafePathError(`${what} is owned by uid ${st.uid}, not by uid ${owners.join(' or ')}: not trusted`);
  }
  if (st.mode & 0o022) {
    throw new UnsafePathError(`${what} is writable by group or others (mode ${describeMode(st.mode)}): not trusted`);
  }
}

/** Open `dir` (never through a symlink as its last component) and check it as `checkDirFd` does. */
export function openTrustedDir(dir: string, trust: DirTrust = {}): number {
  let fd: number;
  try {
    fd = openSync(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR') throw new UnsafePathError(`${dir} is a symlink or not a directory: not trusted`);
    throw e;
  }
  try {
    checkDirFd(fd, dir, trust.owners);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return fd;
}

/** The path of `name` inside the directory open as `dirFd` (resolved by the kernel through the fd). */
export function pathInDir(dirFd: number, dir: string, name: string): string {
  if (!name || name.includes('/') || name.includes('\0') || name === '.' || name === '..') {
    throw new UnsafePathError(`bad file name ${JSON.stringify(name)}`);
  }
  return PROC_FD ? `/proc/self/fd/${dirFd}/${name}` : `${dir}/${name}`;
}

/** A fresh temporary name for `name`: hidden, random, never reused. */
export function tempName(name: string, make?: (random: string) => string): string {
  const rand = randomBytes(8).toString('hex');
  return make ? make(rand) : `.${name.replace(/^\.+/, '').slice(0, 80)}.${rand}.tmp`;
}

export interface ReplaceOptions extends DirTrust {
  /** Permission bits of the new file (before umask); default 0600. */
  mode?: number;
  /** fsync the file and the directory (default true). */
  sync?: boolean;
  /** fsync the directory after the rename (default: as `sync`). */
  syncDir?: boolean;
  /** Set the file's atime/mtime (e.g. the time a record stands for). */
  mtime?: Date;
  /** Give the file to this owner (only meaningful when running as root). */
  chown?: { uid: number; gid: number };
  /** Create the directory (recursive mkdir with this mode) when it does not exist yet. */
  mkdirMode?: number;
  /** Temporary name from 16 random hex digits (for formats whose clean-up knows a pattern);
   *  default `.<name>.<random>.tmp`. */
  tempName?: (random: string) => string;
}

/** The written file's identity, taken from its descriptor before the rename. */
export interface Written { ino: bigint; size: bigint; mtimeNs: bigint }

function writeAll(fd: number, data: Buffer): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done);
}

/**
 * Atomically replace `dir/name` with `data`: random temporary name created O_CREAT|O_EXCL|O_NOFOLLOW in
 * the checked directory, written, fsynced, renamed over `name` — all through one directory descriptor.
 * Throws UnsafePathError when the directory is not trusted; any other error leaves the old file.
 */
export function replaceFileSync(dir: string, name: string, data: Buffer | string, opts: ReplaceOptions = {}): Written {
  if (opts.mkdirMode !== undefined) mkdirSync(dir, { recursive: true, mode: opts.mkdirMode });
  const dfd = openTrustedDir(dir, opts);
  try {
    const tmp = pathInDir(dfd, dir, tempName(name, opts.tempName));
    let written: Written;
    const fd = openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, opts.mode ?? 0o600);
    try {
      try {
        writeAll(fd, typeof data === 'string' ? Buffer.from(data) : data);
        if (opts.chown) fchownSync(fd, opts.chown.uid, opts.chown.gid);
        if (opts.mtime) futimesSync(fd, opts.mtime, opts.mtime);
        if (opts.sync !== false) fsyncSync(fd);
        const st = fstatSync(fd, { bigint: true });
        written = { ino: st.ino, size: st.size, mtimeNs: st.mtimeNs };
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, pathInDir(dfd, dir, name));
    } catch (e) {
      try { unlinkSync(tmp); } catch { /* renamed or never there */ }
      throw e;
    }
    if (opts.syncDir ?? opts.sync !== false) {
      try { fsyncSync(dfd); } catch { /* some file systems refuse fsync on a directory */ }
    }
    return written;
  } finally {
    closeSync(dfd);
  }
}

/** `replaceFileSync` for async callers (same checks; the I/O runs on the thread pool). */
export async function replaceFile(dir: string, name: string, data: Buffer | string, opts: ReplaceOptions = {}): Promise<Written> {
  if (opts.mkdirMode !== undefined) await fsp.mkdir(dir, { recursive: true, mode: opts.mkdirMode });
  let dh: fsp.FileHandle;
  try {
    dh = await fsp.open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR') throw new UnsafePathError(`${dir} is a symlink or not a directory: not trusted`);
    throw e;
  }
  try {
    checkDirFd(dh.fd, dir, opts.owners);
    const tmp = pathInDir(dh.fd, dir, tempName(name, opts.tempName));
    const fh = await fsp.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, opts.mode ?? 0o600);
    let written: Written;
    try {
      try {
        await fh.writeFile(data);
        if (opts.chown) await fh.chown(opts.chown.uid, opts.chown.gid);
        if (opts.mtime) await fh.utimes(opts.mtime, opts.mtime);
        if (opts.sync !== false) await fh.sync();
        const st = await fh.stat({ bigint: true });
        written = { ino: st.ino, size: st.size, mtimeNs: st.mtimeNs };
      } finally {
        await fh.close();
      }
      await fsp.rename(tmp, pathInDir(dh.fd, dir, name));
    } catch (e) {
      await fsp.unlink(tmp).catch(() => undefined);
      throw e;
    }
    if (opts.syncDir ?? opts.sync !== false) await dh.sync().catch(() => undefined);
    return written;
  } finally {
    await dh.close();
  }
}
