// Live-session records for `dmailctl sessions`: one small JSON file per logged-in process under
// <work_path>/sessions/<pid>.json, written atomically and removed when the process exits. A process killed
// with -9 leaves its file behind; readers skip (and clean up) records whose pid is gone.

import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SessionInfo {
  pid: number;
  program: string;
  user: string;
  remoteAddress: string;
  /** ISO time of login. */
  since: string;
}

const dirOf = (workPath: string) => join(workPath, 'sessions');

/** Record this process's session; returns a function that removes the record (also run at exit). */
export function recordSession(workPath: string, info: SessionInfo): () => void {
  const dir = dirOf(workPath);
  const file = join(dir, `${info.pid}.json`);
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    process.removeListener('exit', remove);
    try { unlinkSync(file); } catch { /* already gone */ }
  };
  try {
    mkdirSync(dir, { recursive: true, mode: 0o1777 });
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, JSON.stringify(info) + '\n', { mode: 0o644 });
    renameSync(tmp, file);
    process.on('exit', remove);
  } catch {
    removed = true; // nothing written: nothing to remove; sessions are informational only
  }
  return remove;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Live sessions, oldest first. Records of dead processes are skipped and, where allowed, deleted. */
export function listSessions(workPath: string): SessionInfo[] {
  const dir = dirOf(workPath);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: SessionInfo[] = [];
  for (const name of names) {
    const m = /^(\d+)\.json$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    const file = join(dir, name);
    if (!alive(pid)) {
      try { unlinkSync(file); } catch { /* not ours to remove */ }
      continue;
    }
    try {
      const info = JSON.parse(readFileSync(file, 'utf8')) as SessionInfo;
      if (info && typeof info === 'object') out.push({ ...info, pid });
    } catch {
      // being rewritten or damaged: skip
    }
  }
  return out.sort((a, b) => String(a.since).localeCompare(String(b.since)));
}
