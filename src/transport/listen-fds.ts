// systemd socket activation without inetd style (sd_listen_fds(3)): LISTEN_PID is us, LISTEN_FDS >= 1, and
// fd 3 is either a listening socket (Accept=no: we accept and start one child per connection, each exactly
// as inetd would start it, the connection as its fd 0/1) or, with Accept=yes, the connection itself.

import { spawn } from 'node:child_process';
import { fstatSync, readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';

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
 * Accept=no: accept on fd 3 forever and run `argv` (this same program) once per connection with the socket
 * as its stdin/stdout. LISTEN_* are removed from the child's environment so it behaves as under inetd.
 */
export function serveListeningFd(fd: number, argv: string[], onError: (msg: string) => void): Promise<never> {
  const env = { ...process.env };
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
  const server = createServer({ pauseOnConnect: true });
  server.on('connection', (sock: Socket) => {
    try {
      const child = spawn(process.execPath, argv, { stdio: [sock, sock, 'inherit'], env });
      child.on('error', (e) => onError(`cannot start connection process: ${e.message}`));
      child.unref();
    } catch (e) {
      onError(`cannot start connection process: ${(e as Error).message}`);
    } finally {
      sock.destroy(); // the child holds its own descriptor
    }
  });
  server.on('error', (e) => onError(`listening socket: ${e.message}`));
  server.listen({ fd });
  return new Promise<never>(() => {});
}
