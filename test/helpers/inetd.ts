// Start a built server the way inetd does: one process per connection, the connected TCP socket as
// its fd 0 and fd 1. Returns the client side of that socket plus a line-oriented reader.
// In the resident test mode (DMAIL_TEST_MODE=resident, test/helpers/resident.ts) the same call connects to
// the site's resident master instead: the tests are the same, only `exited()` and `serverPid()` differ in
// how they know (see Client).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Socket } from 'node:net';
import { RESIDENT, residentConnect, servingPid } from './resident.js';

export interface Client {
  socket: Socket;
  /** The server process started for this connection (resident mode: the site's master). */
  child: ChildProcess;
  /** The process serving this connection now: the per-connection process, or in resident mode the
   *  worker (the pre-login process before login). For tests that look at its memory or kill it. */
  serverPid(): number;
  /** Signal the process serving this connection (kill -9 mid-session); nothing when it already let go. */
  kill(signal: NodeJS.Signals): void;
  /** Everything the child printed on stderr so far. */
  stderr(): string;
  /** Next CRLF-terminated line (without CRLF). Rejects on close or timeout. */
  line(timeoutMs?: number): Promise<string>;
  /** Read exactly n raw bytes (for literals). */
  bytes(n: number, timeoutMs?: number): Promise<Buffer>;
  send(data: string | Buffer): void;
  /** Read lines until one starts with `prefix` (e.g. a tag); returns all lines read, the last included. */
  until(prefix: string, timeoutMs?: number): Promise<string[]>;
  /** Resolves once the session is over and its process let go of everything: the child's exit code; in
   *  resident mode when the connection closed and the master logged its end (0, or 1 when the session
   *  failed or the worker serving it died). */
  exited(): Promise<number | null>;
  close(): void;
}

/** Clean environment as inetd gives: no NODE_OPTIONS, no extra CA certs (they cost ~100 ms). */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', ...extra };
}

/** `resident` (default: the test mode) picks the site's resident master over a per-connection process. */
export async function inetdConnect(bin: string, args: string[], env: Record<string, string> = {}, resident = RESIDENT): Promise<Client> {
  if (resident) return residentClient(bin, args, env);
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const socket = connect(port, '127.0.0.1');
  const serverSide = await accepted;
  server.close();
  const child = spawn(bin, args, { stdio: [serverSide, serverSide, 'pipe'], env: cleanEnv(env) });
  serverSide.destroy(); // the child holds its own copy of the descriptor, as under inetd
  let err = '';
  child.stderr!.on('data', (d) => (err += d.toString()));
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return wrap(socket, child, () => err, () => exit, () => child.pid!, true);
}

/** The same client on the site's resident master (test/helpers/resident.ts), whatever the test mode. */
export async function residentClient(bin: string, args: string[], env: Record<string, string> = {}): Promise<Client> {
  const r = await residentConnect(bin, args, cleanEnv(env));
  const port = r.socket.localPort!;
  return wrap(r.socket, r.master.proc, r.master.stderr, r.ended, () => servingPid(r.master, port));
}

/** A client on a TCP port served by `owner` (a process serving many connections: its exit is `exited`). */
export async function tcpConnect(port: number, owner: ChildProcess, stderr: () => string): Promise<Client> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((res, rej) => { socket.once('connect', res); socket.once('error', rej); });
  const exit = owner.exitCode !== null || owner.signalCode !== null
    ? Promise.resolve(owner.exitCode)
    : new Promise<number | null>((r) => owner.once('exit', (code) => r(code)));
  return wrap(socket, owner, stderr, () => exit, () => owner.pid!);
}

function wrap(socket: Socket, child: ChildProcess, stderr: () => string, exit: () => Promise<number | null>, serverPid: () => number,
  perConnection = false): Client {
  let buf = Buffer.alloc(0);
  let closed = false;
  let waiter: (() => void) | null = null;
  socket.on('data', (d) => { buf = Buffer.concat([buf, d]); waiter?.(); });
  socket.on('close', () => { closed = true; waiter?.(); });
  socket.on('error', () => { closed = true; waiter?.(); });
  const wait = (ms: number) => new Promise<void>((res, rej) => {
    const t = setTimeout(() => { waiter = null; rej(new Error(`timeout; buffered: ${JSON.stringify(buf.toString('latin1').slice(0, 300))}; stderr: ${stderr().slice(0, 500)}`)); }, ms);
    waiter = () => { clearTimeout(t); waiter = null; res(); };
  });
  const client: Client = {
    socket, child, stderr, serverPid,
    async line(ms = 10_000) {
      for (;;) {
        const i = buf.indexOf('\r\n');
        if (i >= 0) { const l = buf.subarray(0, i).toString('latin1'); buf = buf.subarray(i + 2); return l; }
        if (closed) throw new Error(`connection closed; stderr: ${stderr().slice(0, 500)}`);
        await wait(ms);
      }
    },
    async bytes(n, ms = 10_000) {
      while (buf.length < n) { if (closed) throw new Error('connection closed'); await wait(ms); }
      const out = buf.subarray(0, n); buf = buf.subarray(n); return out;
    },
    send(data) { socket.write(data); },
    kill(signal) {
      if (perConnection) { child.kill(signal); return; }
      let pid: number;
      try { pid = serverPid(); } catch { return; } // the session is over: nothing serves it any more
      try { process.kill(pid, signal); } catch { /* exited meanwhile */ }
    },
    async until(prefix, ms = 10_000) {
      const lines: string[] = [];
      for (;;) { const l = await client.line(ms); lines.push(l); if (l.startsWith(prefix)) return lines; }
    },
    exited: exit,
    close() { socket.destroy(); },
  };
  return client;
}
