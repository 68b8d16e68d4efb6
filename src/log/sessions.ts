// Live-session records for `dmailctl sessions` (issue 13, hole 4). Layout:
//
//   <work_path>/sessions/            root's, 0755 (an older 1777 directory is taken back to 0755)
//   <work_path>/sessions/<uid>/      one per uid a session runs as, owned by that uid, 0755
//   <work_path>/sessions/<uid>/<pid>.json
//
// The login pipeline prepares `<uid>/` while it is still root (`prepareSessionDir`), switches to the user,
// and only then writes the record (`writeSessionRecord`, through store/safe-file: random temporary name,
// O_EXCL|O_NOFOLLOW, directory checked by its descriptor), so the process that wrote a record can remove
// it at exit after dropping root. Nobody but root can add a directory, and a user can only write records
// into their own: `dmailctl sessions` shows a record only when its pid is alive, runs as the directory's
// uid and was started when the record says (no pid reuse); records of dead or reused pids are removed.
// A process killed with -9 leaves its record behind until the next listing.

import {
  closeSync, constants, fchmodSync, fchownSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync,
  readFileSync, unlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { effectiveUid, pathInDir, replaceFileSync } from '../store/safe-file.js';

export interface SessionInfo {
  pid: number;
  program: string;
  user: string;
  remoteAddress: string;
  /** ISO time of login. */
  since: string;
  /** The mailbox the session works on (IMAP: the selected one; POP3: INBOX); absent when none. */
  mailbox?: string;
  /** ISO time of the client's last command, to within ACTIVITY_GRAIN_MS (absent: none since login). */
  active?: string;
}

/** A session's record as its writer holds it: update what it does, remove it at the end. */
export interface SessionRecord {
  /** The client sent a command; `mailbox` is what the session works on now (null: none). The file is
   *  rewritten only when the mailbox changed or the last write is ACTIVITY_GRAIN_MS old, so a busy
   *  session costs a write a minute at most. */
  activity(mailbox: string | null): void;
  remove(): void;
}

/** How stale the `active` time of a record may be (dmailctl who shows idle times in minutes). */
export const ACTIVITY_GRAIN_MS = 30_000;

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = constants;
const dirOf = (workPath: string) => join(workPath, 'sessions');

/** The kernel's start time of a process (clock ticks since boot), or undefined when it is gone. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The effective uid of a live process, from /proc. */
function processUid(pid: number): number | undefined {
  try {
    const m = /^Uid:\s+(\d+)\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[2]) : undefined;
  } catch {
    return undefined;
  }
}

function openDirNoFollow(path: string): number {
  return openSync(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
}

/**
 * Make `<work_path>/sessions/<uid>/` for a session that will run as `owner` and return its path (undefined
 * when that is not possible: sessions are informational, a login never fails for them). Run as root before
 * the switch; a server that is not root can only prepare its own uid's directory in a sessions directory
 * it owns.
 */
export function prepareSessionDir(workPath: string, owner: { uid: number; gid: number }): string | undefined {
  const top = dirOf(workPath);
  const root = effectiveUid() === 0;
  let tfd = -1;
  let sfd = -1;
  try {
    mkdirSync(top, { recursive: true, mode: 0o755 });
    tfd = openDirNoFollow(top);
    const tst = fstatSync(tfd);
    if (tst.uid !== effectiveUid() && tst.uid !== 0) return undefined;
    if (tst.uid === effectiveUid() && (tst.mode & 0o7777) !== 0o755) fchmodSync(tfd, 0o755);
    else if (tst.mode & 0o022) return undefined; // root's, writable by others, and we cannot fix it
    const name = String(owner.uid);
    const entry = pathInDir(tfd, top, name);
    try { mkdirSync(entry, { mode: 0o755 }); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; }
    try {
      sfd = openDirNoFollow(entry);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ELOOP' && code !== 'ENOTDIR') throw e;
      // Something planted while the directory was 1777 (older versions): remove it (unlink never follows).
      unlinkSync(entry);
      mkdirSync(entry, { mode: 0o755 });
      sfd = openDirNoFollow(entry);
    }
    const sst = fstatSync(sfd);
    if (sst.uid !== owner.uid) {
      if (!root || sst.uid !== 0) return undefined;
      fchownSync(sfd, owner.uid, owner.gid);
    }
    if ((sst.mode & 0o7777) !== 0o755) fchmodSync(sfd, 0o755);
    return join(top, name);
  } catch {
    return undefined;
  } finally {
    if (sfd >= 0) closeSync(sfd);
    if (tfd >= 0) closeSync(tfd);
  }
}

/** Records this process must remove when it exits (one 'exit' listener for all of its sessions: a
 *  process serving many sessions must not add a listener per session). Process state by nature. */
const removeAtExit = new Set<() => void>();
function onProcessExit(): void {
  for (const r of [...removeAtExit]) r();
}

/** Write a session's record into `dir` (from prepareSessionDir, as the uid the session runs as); the
 *  returned handle updates it and removes it (also done at exit). `seq` tells apart the sessions of one
 *  process (0, the only one in inetd mode, is named `<pid>.json`; others `<pid>-<seq>.json`). Every write
 *  replaces the file atomically (store/safe-file: random temporary name, O_EXCL|O_NOFOLLOW, rename). */
export function writeSessionRecord(dir: string | undefined, info: SessionInfo, seq = 0): SessionRecord {
  if (!dir) return { activity: () => undefined, remove: () => undefined };
  const name = seq > 0 ? `${info.pid}-${seq}.json` : `${info.pid}.json`;
  const start = info.pid === process.pid ? startTime(process.pid) : undefined;
  let current: SessionInfo = { ...info };
  let removed = false;
  let lastWrite = 0;
  const write = (): boolean => {
    try {
      replaceFileSync(dir, name, JSON.stringify({ ...current, ...(start ? { start } : {}) }) + '\n', { mode: 0o644, sync: false, owners: [effectiveUid()] });
      lastWrite = Date.now();
      return true;
    } catch {
      return false;
    }
  };
  const remove = () => {
    if (removed) return;
    removed = true;
    removeAtExit.delete(remove);
    if (removeAtExit.size === 0) process.removeListener('exit', onProcessExit);
    try { unlinkSync(join(dir, name)); } catch { /* already gone */ }
  };
  if (!write()) return { activity: () => undefined, remove: () => undefined }; // nothing written: nothing to keep
  if (removeAtExit.size === 0) process.on('exit', onProcessExit);
  removeAtExit.add(remove);
  return {
    activity(mailbox) {
      if (removed) return;
      const now = Date.now();
      const moved = (mailbox ?? undefined) !== current.mailbox;
      current = { ...current, active: new Date(now).toISOString() };
      if (mailbox === null) delete current.mailbox;
      else current.mailbox = mailbox;
      if (moved || now - lastWrite >= ACTIVITY_GRAIN_MS) write();
    },
    remove,
  };
}

/** Both steps at once, for a process that does not change its identity. */
export function recordSession(workPath: string, info: SessionInfo): SessionRecord {
  const uid = effectiveUid();
  return writeSessionRecord(prepareSessionDir(workPath, { uid, gid: process.getegid?.() ?? uid }), info);
}

/** Live sessions, oldest first. Records of dead (or reused) pids are skipped and, where allowed, deleted. */
export function listSessions(workPath: string): SessionInfo[] {
  const top = dirOf(workPath);
  let names: string[];
  try {
    names = readdirSync(top);
  } catch {
    return [];
  }
  const out: SessionInfo[] = [];
  for (const sub of names) {
    const path = join(top, sub);
    if (/^\d+\.json$/.test(sub)) {
      // An older version's record (written before the uid switch): drop it once its process is gone.
      if (startTime(Number(sub.slice(0, -5))) === undefined) try { unlinkSync(path); } catch { /* not ours */ }
      continue;
    }
    if (!/^\d+$/.test(sub)) continue;
    const uid = Number(sub);
    let files: string[];
    try {
      const st = lstatSync(path);
      if (!st.isDirectory() || st.uid !== uid) continue; // not made by prepareSessionDir: ignore
      files = readdirSync(path);
    } catch {
      continue;
    }
    for (const f of files) {
      const m = /^(\d+)(?:-\d+)?\.json$/.exec(f);
      if (!m) continue;
      const pid = Number(m[1]);
      const file = join(path, f);
      let info: SessionInfo & { start?: string };
      try {
        const fd = openSync(file, O_RDONLY | O_NOFOLLOW);
        try { info = JSON.parse(readFileSync(fd, 'utf8')) as SessionInfo & { start?: string }; } finally { closeSync(fd); }
        if (!info || typeof info !== 'object') continue;
      } catch {
        continue; // damaged or not a file: skip
      }
      const started = startTime(pid);
      if (started === undefined || (info.start !== undefined && info.start !== started)) {
        try { unlinkSync(file); } catch { /* not ours to remove */ }
        continue;
      }
      if (processUid(pid) !== uid) continue; // a record in uid's directory for a process of someone else
      const { start: _start, ...shown } = info;
      void _start;
      out.push({ ...shown, pid });
    }
  }
  return out.sort((a, b) => String(a.since).localeCompare(String(b.since)));
}
