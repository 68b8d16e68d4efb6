// Builds the Connection for a process started per connection: inetd, xinetd and systemd Accept=yes hand
// us the connected socket as fd 0 and fd 1; run by hand in a terminal, fd 0/1 are a tty or pipes.
//
// Addresses: from the socket when fd 0 is a TCP socket. For pipes, a tty or a Unix socket there is no
// peer address; then TCPREMOTEIP / TCPLOCALIP (set by ucspi-tcp's tcpserver and similar launchers) are
// used if present, else both are 127.0.0.1 (someone running the binary by hand is on this machine).

import { createReadStream, createWriteStream, fstatSync, type Stats } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { StreamConnection } from './stream-connection.js';
import type { TlsSettings } from './tls.js';

export const UNKNOWN_ADDRESS = '127.0.0.1';

export interface FdConnectionOptions {
  maxOutput: number;
  tls: TlsSettings;
}

function statFd(fd: number): Stats | undefined {
  try { return fstatSync(fd); } catch { return undefined; }
}

/** Strip the IPv4-mapped prefix so settings like user_ip_address see 1.2.3.4, not ::ffff:1.2.3.4. */
export function plainAddress(a: string | undefined): string | undefined {
  return a?.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

function readableFd(fd: number, st: Stats | undefined): Readable {
  if (st && (st.isSocket() || st.isFIFO())) return new Socket({ fd, readable: true, writable: false, allowHalfOpen: true });
  if (st && st.isCharacterDevice() && fd === 0) return process.stdin;
  return createReadStream('', { fd, autoClose: false });
}

function writableFd(fd: number, st: Stats | undefined): Writable {
  if (st && (st.isSocket() || st.isFIFO())) return new Socket({ fd, readable: false, writable: true, allowHalfOpen: true });
  if (st && st.isCharacterDevice() && fd === 1) return process.stdout;
  return createWriteStream('', { fd, autoClose: false });
}

/** A connection over a socket already connected on `fd` (fd 3 under systemd Accept=yes without inetd style). */
export function connectionFromSocketFd(fd: number, o: FdConnectionOptions): StreamConnection {
  const sock = new Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
  return fromSocket(sock, o);
}

export function fromSocket(sock: Socket, o: FdConnectionOptions): StreamConnection {
  const env = process.env;
  return new StreamConnection({
    input: sock,
    output: sock,
    remoteAddress: plainAddress(sock.remoteAddress) ?? env.TCPREMOTEIP ?? UNKNOWN_ADDRESS,
    remotePort: sock.remotePort ?? (env.TCPREMOTEPORT ? Number(env.TCPREMOTEPORT) : undefined),
    localAddress: plainAddress(sock.localAddress) ?? env.TCPLOCALIP ?? UNKNOWN_ADDRESS,
    localPort: sock.localPort ?? (env.TCPLOCALPORT ? Number(env.TCPLOCALPORT) : undefined),
    maxOutput: o.maxOutput,
    tls: o.tls,
  });
}

/** The client on fd 0 (input) and fd 1 (output), whatever they are. */
export function connectionFromStdio(o: FdConnectionOptions): StreamConnection {
  const st0 = statFd(0);
  const st1 = statFd(1);
  if (st0?.isSocket() && st1?.isSocket() && st0.ino === st1.ino && st0.dev === st1.dev) {
    // inetd: one socket on both descriptors. One handle on fd 0 does both directions.
    return fromSocket(new Socket({ fd: 0, readable: true, writable: true, allowHalfOpen: true }), o);
  }
  const env = process.env;
  return new StreamConnection({
    input: readableFd(0, st0),
    output: writableFd(1, st1),
    remoteAddress: env.TCPREMOTEIP ?? UNKNOWN_ADDRESS,
    remotePort: env.TCPREMOTEPORT ? Number(env.TCPREMOTEPORT) : undefined,
    localAddress: env.TCPLOCALIP ?? UNKNOWN_ADDRESS,
    localPort: env.TCPLOCALPORT ? Number(env.TCPLOCALPORT) : undefined,
    maxOutput: o.maxOutput,
    tls: o.tls,
  });
}
