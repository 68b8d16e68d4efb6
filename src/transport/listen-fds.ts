// systemd socket activation without inetd style (sd_listen_fds(3)): LISTEN_PID is us, LISTEN_FDS >= 1, and
// fd 3 is either a listening socket (Accept=no: the resident mode, src/resident/, serves every connection)
// or, with Accept=yes, the connection itself.

import { fstatSync, readFileSync } from 'node:fs';

export const SD_LISTEN_FDS_START = 3;

/** Number of sockets systemd passed to this process (0 when not socket-activated). */
export function systemdListenFds(env: NodeJS.ProcessEnv = process.env): number {
  if (!env.LISTEN_FDS || !env.LISTEN_PID) return 0;
  if (Number(env.LISTEN_PID) !== process.pid) return 0;
  const n = Number(env.LISTEN_FDS);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/**
 * True when fd is a listening socket. systemd names an Accept=yes fd "connection" in LISTEN_FDNAMES;
 * launchers that do not name fds are checked against the kernel's socket tables.
 */
export function isListeningSocket(fd: number, env: NodeJS.ProcessEnv = process.env): boolean {
  const names = env.LISTEN_FDNAMES?.split(':');
  const name = names?.[fd - SD_LISTEN_FDS_START];
  if (name === 'connection') return false;
  let ino: number;
  try {
    const st = fstatSync(fd);
    if (!st.isSocket()) return false;
    ino = st.ino;
  } catch {
    return false;
  }
  // /proc/net/{tcp,tcp6,unix}: state 0A is TCP_LISTEN for tcp; for unix sockets flag 00010000 is __SO_ACCEPTCON.
  for (const table of ['tcp', 'tcp6']) {
    const rows = readTable(`/proc/self/net/${table}`);
    for (const r of rows) {
      const f = r.trim().split(/\s+/);
      if (f[9] === String(ino)) return f[3] === '0A';
    }
  }
  for (const r of readTable('/proc/self/net/unix')) {
    const f = r.trim().split(/\s+/);
    if (f[6] === String(ino)) return f[3] === '00010000';
  }
  return false;
}

function readTable(path: string): string[] {
  try {
    return readFileSync(path, 'latin1').split('\n').slice(1);
  } catch {
    return [];
  }
}

/**
 * Accept=no: every listening socket systemd passed (fd 3 on), for the resident mode. A socket whose
 * FileDescriptorName= is imaps, pop3s or tls speaks implicit TLS.
 */
export function listeningFds(env: NodeJS.ProcessEnv = process.env): { fd: number; tls: boolean; name: string }[] {
  const names = env.LISTEN_FDNAMES?.split(':') ?? [];
  const out: { fd: number; tls: boolean; name: string }[] = [];
  for (let i = 0; i < systemdListenFds(env); i++) {
    const fd = SD_LISTEN_FDS_START + i;
    if (!isListeningSocket(fd, env)) continue;
    const name = names[i] ?? `fd${fd}`;
    out.push({ fd, tls: /^(imaps|pop3s|tls)$/i.test(name), name });
  }
  return out;
}
