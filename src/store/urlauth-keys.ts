// URLAUTH (RFC 4467) mailbox access keys, shared by both stores: one secret of 32 random bytes per
// mailbox, in `<indexDir>/urlauth/<sha256 of the name>.key` (hex), mode 0600, owned by the user.
//
// Safety, as for every file of the index directory (trust.ts, safe-file.ts): the directory is opened
// without following a symlink and must be owned by this process's uid (root: its owner) and writable by
// nobody else; the key file is opened through that directory descriptor with O_NOFOLLOW and used only
// when it is a regular file of the same owner that neither group nor others can read (a key others
// could read would let them forge URLs): otherwise the store refuses with NOPERM and says why.
// A key is created lock-free and crash-safe: written to a random O_EXCL temporary name, fsynced, then
// link()ed to its final name, which fails if another session made one first (that one is then used).
// RESETKEY replaces a key by rename (atomic); resetting every key removes them (new ones come on use).

import { closeSync, constants, fstatSync, fsyncSync, linkSync, openSync, readSync, readdirSync, unlinkSync, writeSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { existsSync, mkdirSync } from 'node:fs';
import { effectiveUid, openTrustedDir, pathInDir, replaceFileSync, tempName, UnsafePathError } from './safe-file.js';
import { StoreError } from './types.js';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = constants;
export const URLAUTH_DIR = 'urlauth';
const KEY_BYTES = 32;

function fileOf(name: string): string {
  return createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 40) + '.key';
}

function keyDir(indexDir: string): string {
  const dir = join(indexDir, URLAUTH_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

function nopermOf(e: unknown): never {
  if (e instanceof UnsafePathError) throw new StoreError('NOPERM', `URLAUTH keys: ${e.message}`);
  throw e;
}

/** Read a key through the trusted directory; null when there is none. */
function readKey(dfd: number, dir: string, file: string): Buffer | null {
  let fd: number;
  try {
    fd = openSync(pathInDir(dfd, dir, file), O_RDONLY | O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') throw new UnsafePathError(`${file} is a symlink: not trusted`);
    throw e;
  }
  try {
    const st = fstatSync(fd);
    const uid = effectiveUid();
    if (!st.isFile()) throw new UnsafePathError(`${file} is not a regular file`);
    if (uid !== 0 && st.uid !== uid) throw new UnsafePathError(`${file} is owned by uid ${st.uid}, not ${uid}: not trusted`);
    if (st.mode & 0o077) throw new UnsafePathError(`${file} may be read by others (mode ${(st.mode & 0o777).toString(8)}): not trusted`);
    const buf = Buffer.alloc(KEY_BYTES * 2 + 1);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const hex = buf.subarray(0, n).toString('latin1').trim();
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new StoreError('SERVERBUG', `URLAUTH key ${file} is damaged`);
    return Buffer.from(hex, 'hex');
  } finally {
    closeSync(fd);
  }
}

/** The access key of mailbox `name`; created when missing and `create` is set, else null. */
export function urlauthKey(indexDir: string, name: string, create: boolean): Buffer | null {
  try {
    const dir = create ? keyDir(indexDir) : join(indexDir, URLAUTH_DIR);
    let dfd: number;
    try {
      dfd = openTrustedDir(dir);
    } catch (e) {
      if (!create && (e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    try {
      const file = fileOf(name);
      const have = readKey(dfd, dir, file);
      if (have || !create) return have;
      const key = randomBytes(KEY_BYTES);
      const tmp = pathInDir(dfd, dir, tempName(file));
      const fd = openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      try {
        try {
          const data = Buffer.from(key.toString('hex') + '\n');
          writeSync(fd, data, 0, data.length);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        try {
          linkSync(tmp, pathInDir(dfd, dir, file));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          // Another session made it first: theirs is the key.
          const theirs = readKey(dfd, dir, file);
          if (!theirs) throw e;
          return theirs;
        }
        try { fsyncSync(dfd); } catch { /* some file systems refuse fsync on a directory */ }
        return key;
      } finally {
        try { unlinkSync(tmp); } catch { /* gone */ }
      }
    } finally {
      closeSync(dfd);
    }
  } catch (e) {
    return nopermOf(e);
  }
}

/** RESETKEY: a new key for `name`, or none left for any mailbox when `name` is undefined. */
export function resetUrlauthKeys(indexDir: string, name?: string): void {
  try {
    const dir = keyDir(indexDir);
    if (name !== undefined) {
      const data = randomBytes(KEY_BYTES).toString('hex') + '\n';
      replaceFileSync(dir, fileOf(name), data, { mode: 0o600 });
      return;
    }
    const dfd = openTrustedDir(dir);
    try {
      for (const f of readdirSync(existsSync('/proc/self/fd') ? `/proc/self/fd/${dfd}` : dir)) {
        if (!f.endsWith('.key') && !f.endsWith('.tmp')) continue;
        try { unlinkSync(pathInDir(dfd, dir, f)); } catch { /* already gone */ }
      }
      try { fsyncSync(dfd); } catch { /* as above */ }
    } finally {
      closeSync(dfd);
    }
  } catch (e) {
    nopermOf(e);
  }
}
