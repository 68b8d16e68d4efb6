// Which directories a session may trust (issue 13, holes 2 and 3). The rules, also in src/store/README.md:
//
// - A path is *stable* for a set of trusted uids when nobody outside that set can change what it leads to:
//   every directory on the way from / is owned by a trusted uid and writable by nobody else (a group
//   that is root's or the mail group counts as trusted), except a sticky directory (/tmp, /var/mail 1777)
//   whose entry on the path is itself owned by a trusted uid. A symlink on the way is followed only when it
//   sits in such a directory (so it cannot be swapped) and then its target is checked the same way.
//   Because no one else can change a stable path, checking it once by path is enough: there is no
//   check-then-use window to race (unlike checking a user-writable path, which proves nothing).
// - A session running as root (imapd_become_user false, or allow_root_login) serves a user only when the
//   drop file's directory, the folder directory and the index directory are stable for root alone
//   (`rootSessionProblem`). Anything a user can write to on those paths — `imapd_mailbox_name mail` in
//   the user's home, a folder directory the user pre-created in a 1777 spool — refuses the login with a
//   clear log line. This is the decision for hole 2 (rather than an openat walk in every store call).
// - A shared index_path: when the server runs as root, the hash directories are created (or repaired) by
//   root before the switch, mode 0755, and the user's own index directory is created 0700 and given to
//   the user (`prepareIndexDirAsRoot`); one left there by someone else is moved aside and replaced. After
//   the switch the index directory must be stable for {root, the session's uid} and owned by the session's
//   uid with no group/other write bit (`checkIndexDir`), else the store does not open.

import {
  closeSync, constants, fchmodSync, fchownSync, fstatSync, lstatSync, mkdirSync, openSync, readFileSync,
  readlinkSync, renameSync, type Stats,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { Settings } from '../config/settings.js';
import type { Logger } from '../log/types.js';
import { StoreError, type UserPaths } from './types.js';
import { effectiveUid, pathInDir } from './safe-file.js';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = constants;

let mailGid: number | null | undefined;
/** The gid of group `mail` (Debian's /var/mail is root:mail 2775), or null. */
function mailGroup(): number | null {
  if (mailGid !== undefined) return mailGid;
  mailGid = null;
  try {
    const line = readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.startsWith('mail:'));
    if (line) mailGid = Number(line.split(':')[2]);
  } catch { /* no /etc/group */ }
  return mailGid;
}

const mode8 = (st: Stats) => (st.mode & 0o7777).toString(8).padStart(4, '0');

/** Whether others than `trusted` can add, remove or rename entries of this directory. */
function openToOthers(st: Stats): boolean {
  if (st.mode & 0o002) return true;
  if (st.mode & 0o020) return st.gid !== 0 && st.gid !== mailGroup();
  return false;
}

export interface StableOptions {
  /** uids that may own (and write) the directories on the path. */
  trusted: readonly number[];
  /** Create missing directories with this mode (intermediate ones 0755); else a missing part is only
   *  accepted below a directory nobody else can write. */
  create?: number;
  /** The last directory must not be writable by others at all (not even sticky). Default true. */
  closedEnd?: boolean;
}

/**
 * Why `path` (a directory) is not stable for `opts.trusted`, or undefined when it is.
 * See the top of this file for the rule; all checks are lstat, from / down, following safe symlinks.
 */
export function unstablePathReason(path: string, opts: StableOptions): string | undefined {
  if (!isAbsolute(path)) return `${path} is not an absolute path`;
  const trusted = opts.trusted;
  let queue = path.split('/').filter((c) => c && c !== '.');
  let cur = '/';
  let curSt = lstatSync('/');
  let hops = 0;
  while (queue.length) {
    const comp = queue.shift()!;
    if (comp === '..') {
      cur = dirname(cur);
      curSt = lstatSync(cur);
      continue;
    }
    const next = join(cur, comp);
    const parentOpen = openToOthers(curSt);
    let st: Stats;
    try {
      st = lstatSync(next);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      if (opts.create === undefined) {
        return parentOpen ? `${next} does not exist and ${cur} can be written by others` : undefined;
      }
      try {
        mkdirSync(next, { mode: queue.length ? 0o755 : opts.create });
      } catch (e2) {
        if ((e2 as NodeJS.ErrnoException).code !== 'EEXIST') throw e2;
      }
      st = lstatSync(next);
    }
    if (parentOpen && !trusted.includes(st.uid)) {
      return `${next} belongs to uid ${st.uid}, inside ${cur} that others can write to`;
    }
    if (st.isSymbolicLink()) {
      if (++hops > 40) return `${path}: too many symlinks`;
      const target = readlinkSync(next);
      queue = [...target.split('/').filter((c) => c && c !== '.'), ...queue];
      if (isAbsolute(target)) {
        cur = '/';
        curSt = lstatSync('/');
      }
      continue;
    }
    if (!st.isDirectory()) return `${next} is not a directory`;
    if (!trusted.includes(st.uid)) return `${next} is owned by uid ${st.uid} (trusted: ${trusted.join(', ')})`;
    if (openToOthers(st) && (!(st.mode & 0o1000) || (!queue.length && opts.closedEnd !== false))) {
      return `${next} can be written by others (mode ${mode8(st)})`;
    }
    cur = next;
    curSt = st;
  }
  return undefined;
}

/**
 * A session about to run as root: why its mail paths are not safe for root, or undefined.
 * Creates the folder and index directories (as root) when missing, so nobody can plant them later.
 */
export function rootSessionProblem(paths: UserPaths): string | undefined {
  const trusted = [0];
  const checks: [string, StableOptions][] = paths.kind === 'maildir'
    ? [[paths.inbox, { trusted, create: 0o700 }]]
    : [
        [dirname(paths.inbox), { trusted, closedEnd: false }],
        [paths.folders, { trusted, create: 0o700 }],
        [paths.indexDir, { trusted, create: 0o700 }],
      ];
  for (const [p, opts] of checks) {
    const why = unstablePathReason(p, opts);
    if (why) return why;
  }
  return undefined;
}

function openDirAt(parentFd: number, parent: string, name: string): number {
  return openSync(pathInDir(parentFd, parent, name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
}

/**
 * Root, before switching to `owner`: make `index_path/<h1>/<h2>/<name>` safe. Hash directories are root's
 * (created 0755, or taken back from a user and made 0755: a user owning one could swap the others'
 * directories in it); the user's directory is created 0700 and given to the user, and one owned by anybody
 * else is moved aside (`<name>.untrusted-<random>`) and replaced. Walks through directory descriptors
 * (O_NOFOLLOW), so nothing found on the way is followed. Returns a problem to log, or undefined.
 */
export function prepareIndexDirAsRoot(indexPath: string, indexDir: string, owner: { uid: number; gid: number }, log?: Logger): string | undefined {
  if (effectiveUid() !== 0) return undefined;
  const base = resolve(indexPath);
  const rel = relative(base, resolve(indexDir));
  const parts = rel.split('/');
  if (!rel || rel.startsWith('..') || parts.some((p) => !p || p === '..')) return `${indexDir} is not under ${indexPath}`;
  try { mkdirSync(base, { recursive: true, mode: 0o755 }); } catch { /* reported below */ }
  const why = unstablePathReason(base, { trusted: [0], closedEnd: false });
  if (why) return `index_path is not safe: ${why}`;
  const fds: number[] = [];
  try {
    let fd = openSync(base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    fds.push(fd);
    let at = base;
    for (let i = 0; i < parts.length; i++) {
      const name = parts[i]!;
      const last = i === parts.length - 1;
      const here = join(at, name);
      let child: number | undefined;
      try { child = openDirAt(fd, at, name); } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ELOOP' || code === 'ENOTDIR') {
          // Not a directory (a planted symlink or file): move it aside.
          const aside = `${name}.untrusted-${randomBytes(4).toString('hex')}`;
          renameSync(pathInDir(fd, at, name), pathInDir(fd, at, aside));
          log?.warn({ path: here, movedTo: join(at, aside) }, 'index directory entry was not a directory: moved aside');
        } else if (code !== 'ENOENT') throw e;
      }
      if (child !== undefined && last) {
        const st = fstatSync(child);
        if (st.uid !== owner.uid && st.uid !== 0) {
          closeSync(child);
          child = undefined;
          const aside = `${name}.untrusted-${randomBytes(4).toString('hex')}`;
          renameSync(pathInDir(fd, at, name), pathInDir(fd, at, aside));
          log?.warn({ path: here, owner: st.uid, movedTo: join(at, aside) }, 'index directory belonged to another user: moved aside, rebuilding');
        }
      }
      if (child === undefined) {
        try { mkdirSync(pathInDir(fd, at, name), { mode: last ? 0o700 : 0o755 }); } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
        child = openDirAt(fd, at, name);
      }
      fds.push(child);
      const st = fstatSync(child);
      if (last) {
        if (st.uid !== owner.uid || st.gid !== owner.gid) fchownSync(child, owner.uid, owner.gid);
        if (st.mode & 0o077) fchmodSync(child, 0o700);
      } else {
        if (st.uid !== 0 || st.gid !== 0) {
          if (st.uid !== 0) log?.warn({ path: here, owner: st.uid }, 'shared index hash directory belonged to a user: taken back by root');
          fchownSync(child, 0, 0);
        }
        if ((st.mode & 0o7777) !== 0o755) fchmodSync(child, 0o755);
      }
      fd = child;
      at = here;
    }
    return undefined;
  } catch (e) {
    return `cannot prepare ${indexDir}: ${(e as Error).message}`;
  } finally {
    for (const f of fds) closeSync(f);
  }
}

/**
 * After the switch: a shared index directory (index_path) is used only when it is stable for root and
 * the session's uid, and owned by the session's uid with no group/other write bit. Creates it when
 * missing (a server that is not root). Throws StoreError('UNAVAILABLE') with the reason otherwise.
 */
export function checkIndexDir(settings: Pick<Settings, 'index_path'>, paths: UserPaths): void {
  if (!settings.index_path || paths.kind !== 'mbox') return;
  const uid = effectiveUid();
  // Root working on a user's mail (`dmailctl quota`; a root *session* was already held to root-owned
  // paths at login) accepts the user's own directory at the end of a root-owned path.
  let owner = uid;
  if (uid === 0) {
    try { owner = lstatSync(paths.indexDir).uid; } catch { /* created below, as root */ }
  }
  const why = unstablePathReason(paths.indexDir, { trusted: owner === 0 ? [0] : [0, owner], create: 0o700 });
  if (why) throw new StoreError('UNAVAILABLE', `index directory not trusted: ${why}`);
  const st = lstatSync(paths.indexDir);
  if (st.uid !== owner) throw new StoreError('UNAVAILABLE', `index directory not trusted: ${paths.indexDir} is owned by uid ${st.uid}, not ${owner}`);
}
