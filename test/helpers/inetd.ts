// Start a built server the way inetd does: one process per connection, the connected TCP socket as
// its fd 0 and fd 1. Returns the client side of that socket plus a line-oriented reader.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Socket } from 'node:net';

export interface Client {
  socket: Socket;
  child: ChildProcess;
  /** Everything the child printed on stderr so far. */
  stderr(): string;
  /** Next CRLF-terminated line (without CRLF). Rejects on close or timeout. */
  line(timeoutMs?: number): Promise<string>;
  /** Read exactly n raw bytes (for literals). */
  bytes(n: number, timeoutMs?: number): Promise<Buffer>;
  send(data: string | Buffer): void;
  /** Read lines until one starts with `prefix` (e.g. a tag); returns all lines read, the last included. */
  until(prefix: string, timeoutMs?: number): Promise<string[]>;
  /** Resolves with the child's exit code once it exits. */
  exited(): Promise<number | null>;
  close(): void;
}

/** Clean environment as inetd gives: no NODE_OPTIONS, no extra CA certs (they cost ~100 ms). */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', ...extra };
}

export async function inetdConnect(bin: string, args: string[], env: Record<string, string> = {}): Promise<Client> {
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
  return wrap(socket, child, () => err, exit);
}

/** A client on a TCP port served by `owner` (a process serving many connections: its exit is `exited`). */
export async function tcpConnect(port: number, owner: ChildProcess, stderr: () => string): Promise<Client> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((res, rej) => { socket.once('connect', res); socket.once('error', rej); });
  const exit = owner.exitCode !== null || owner.signalCode !== null
    ? Promise.resolve(owner.exitCode)
    : new Promise<number | null>((r) => owner.once('exit', (code) => r(code)));
  return wrap(socket, owner, stderr, exit);
}

function wrap(socket: Socket, child: ChildProcess, stderr: () => string, exit: Promise<number | null>): Client {
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
    socket, child, stderr,
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
    async until(prefix, ms = 10_000) {
      const lines: string[] = [];
      for (;;) { const l = await client.line(ms); lines.push(l); if (l.startsWith(prefix)) return lines; }
    },
    exited: () => exit,
    close() { socket.destroy(); },
  };
  return client;
}
