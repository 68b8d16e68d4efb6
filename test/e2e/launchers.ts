// Real launchers for end-to-end tests: systemd-socket-activate (inetd style, Accept=yes with fd 3, and
// Accept=no), a private xinetd instance, the real OpenBSD inetd, and `dmailctl serve`, each on a random loopback port with retry on
// EADDRINUSE. Plus a small line client over TCP (optionally TLS).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv } from '../helpers/inetd.js';
import { BIN, ROOT } from '../helpers/site.js';

export const randomPort = () => 20000 + Math.floor(Math.random() * 20000);

export interface Launched {
  port: number;
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function track(proc: ChildProcess): { output: () => string; exited: Promise<number | null> } {
  let out = '';
  proc.stdout?.on('data', (d) => (out += d.toString()));
  proc.stderr?.on('data', (d) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { output: () => out, exited };
}

async function stopProc(proc: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(t);
}

/** Poll until something accepts on the port (or the launcher died). */
async function waitForPort(port: number, proc: ChildProcess, ms = 15_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) return false;
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); r(true); });
      s.once('error', () => r(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** Start a launcher on a random port; retry with another port if it could not bind. */
export async function launch(start: (port: number) => ChildProcess, readyText?: RegExp): Promise<Launched> {
  let lastOut = '';
  for (let attempt = 0; attempt < 8; attempt++) {
    const port = randomPort();
    const proc = start(port);
    const { output, exited } = track(proc);
    let ready: boolean;
    if (readyText) {
      ready = await new Promise<boolean>((r) => {
        const t = setInterval(() => {
          if (readyText.test(output())) { clearInterval(t); r(true); }
          else if (proc.exitCode !== null || /in use/i.test(output())) { clearInterval(t); r(false); }
        }, 25);
        setTimeout(() => { clearInterval(t); r(readyText.test(output())); }, 15_000);
      });
    } else {
      ready = await waitForPort(port, proc);
    }
    if (ready) return { port, proc, output, stop: () => stopProc(proc, exited) };
    lastOut = output();
    await stopProc(proc, exited);
  }
  throw new Error(`launcher did not start: ${lastOut}`);
}

export function socketActivate(mode: 'inetd' | 'accept' | 'listen', cmd: string[], env: Record<string, string> = {}) {
  const flags = mode === 'inetd' ? ['--accept', '--inetd'] : mode === 'accept' ? ['--accept'] : [];
  return launch((port) => spawn('systemd-socket-activate', ['-l', `127.0.0.1:${port}`, ...flags, ...cmd], {
    stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(env),
  }), /Listening on /);
}

/** A private xinetd with one service on a random loopback port. */
export function xinetd(server: string, serverArgs: string[], name = 'dmailtest'): Promise<Launched & { dir: string }> {
  return xinetdWith((port) => [
    `service ${name}`,
    '{',
    '  type        = UNLISTED',
    '  socket_type = stream',
    '  protocol    = tcp',
    '  wait        = no',
    '  user        = root',
    `  server      = ${server}`,
    `  server_args = ${serverArgs.join(' ')}`,
    `  port        = ${port}`,
    '  bind        = 127.0.0.1',
    `  env         = PATH=${process.env.PATH ?? '/usr/bin:/bin'}`,
    '  instances   = 50',
    '  cps         = 200 1',
    '}',
  ].join('\n'));
}

/** A private xinetd (own config, log and pid file) running the service block made for a port. */
export async function xinetdWith(serviceFor: (port: number) => string): Promise<Launched & { dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'dmail-xinetd-'));
  const l = await launch((port) => {
    const conf = join(dir, `xinetd-${port}.conf`);
    writeFileSync(conf, ['defaults', '{', `  log_type = FILE ${join(dir, 'xinetd.log')}`, '}', serviceFor(port), ''].join('\n'));
    return spawn('xinetd', ['-dontfork', '-f', conf, '-pidfile', join(dir, `xinetd-${port}.pid`)], {
      stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(),
    });
  });
  return {
    ...l,
    dir,
    stop: async () => { await l.stop(); rmSync(dir, { recursive: true, force: true }); },
  };
}

/** Where .ci/run unpacks Debian's openbsd-inetd (it conflicts with xinetd as a package, so it is not
 *  installed: `apt-get download openbsd-inetd && dpkg-deb -x` into .cache/openbsd-inetd). */
export const OPENBSD_INETD = process.env.DMAIL_TEST_OPENBSD_INETD ?? join(ROOT, '.cache/openbsd-inetd/usr/sbin/inetd');

/** The real OpenBSD inetd in debug mode (-d: stays in the foreground) on a private inetd.conf whose lines
 *  `linesFor(port)` gives, bound to loopback ("127.0.0.1:PORT" service fields). */
export async function openbsdInetd(linesFor: (port: number) => string[]): Promise<Launched & { dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'dmail-inetd-'));
  const l = await launch((port) => {
    const conf = join(dir, `inetd-${port}.conf`);
    writeFileSync(conf, linesFor(port).join('\n') + '\n');
    return spawn(OPENBSD_INETD, ['-d', conf], { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv() });
  });
  return { ...l, dir, stop: async () => { await l.stop(); rmSync(dir, { recursive: true, force: true }); } };
}

export interface LineClient {
  socket: Socket;
  line(ms?: number): Promise<string>;
  until(prefix: string, ms?: number): Promise<string[]>;
  send(s: string): void;
  closed(): Promise<void>;
  close(): void;
}

export async function lineClient(port: number, tls = false): Promise<LineClient> {
  const socket: Socket = tls
    ? tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false })
    : connect(port, '127.0.0.1');
  await new Promise<void>((res, rej) => {
    socket.once(tls ? 'secureConnect' : 'connect', () => res());
    socket.once('error', rej);
  });
  let buf = '';
  let isClosed = false;
  const waiters: (() => void)[] = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  socket.on('data', (d) => { buf += d.toString('latin1'); wake(); });
  socket.on('close', () => { isClosed = true; wake(); });
  socket.on('error', () => { isClosed = true; wake(); });
  const c: LineClient = {
    socket,
    async line(ms = 10_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const i = buf.indexOf('\r\n');
        if (i >= 0) { const l = buf.slice(0, i); buf = buf.slice(i + 2); return l; }
        if (isClosed) throw new Error(`connection closed; buffered ${JSON.stringify(buf)}`);
        if (Date.now() > deadline) throw new Error(`timeout; buffered ${JSON.stringify(buf)}`);
        await new Promise<void>((r) => { waiters.push(r); setTimeout(r, 100); });
      }
    },
    async until(prefix, ms = 10_000) {
      const out: string[] = [];
      for (;;) { const l = await c.line(ms); out.push(l); if (l.startsWith(prefix)) return out; }
    },
    send(s) { socket.write(s); },
    async closed() {
      while (!isClosed) await new Promise<void>((r) => { waiters.push(r); setTimeout(r, 100); });
    },
    close() { socket.destroy(); },
  };
  return c;
}

// --- Server processes and their lifetime ------------------------------------------------------------------
// A per-connection server must be gone soon after its client: a process that lingers holds a connection
// slot of the launcher (xinetd instances/per_source), memory and the user's mailbox. These find this
// checkout's bin/imapd and bin/dpop processes by what they hold, whatever launcher started them.

function argvOf(pid: number): string[] | undefined {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean); } catch { return undefined; }
}

/** Running (not zombie) and still the same program. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

const SERVER_SCRIPTS = new Set([BIN.imapd, BIN.dpop]);

/** This checkout's bin/imapd or bin/dpop (node running the script), not a launcher or wrapper around it. */
function isServer(argv: string[] | undefined): boolean {
  return argv !== undefined && argv.length >= 2 && /(^|\/)node$/.test(argv[0]) && SERVER_SCRIPTS.has(argv[1]);
}

/** This checkout's server processes that name `dir` in their arguments (a site's dmail.conf) or hold a
 *  file under it open (a resident worker, forked without arguments, holds the site's log file). */
export function serverPids(dir: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    const argv = argvOf(pid);
    if (!isServer(argv) || !alive(pid)) continue;
    let holds = argv!.some((a) => a.includes(dir));
    if (!holds) {
      try {
        holds = readdirSync(`/proc/${pid}/fd`).some((fd) => {
          try { return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(dir + '/'); } catch { return false; }
        });
      } catch { /* gone meanwhile */ }
    }
    if (holds) out.push(pid);
  }
  return out;
}

/** Whether `pid` has exited (or is a zombie) within `ms`. Polls: a bound, not a timing. */
export async function gone(pid: number, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** Fails when a server process of the site in `dir` is still running `ms` after the test: those left are
 *  killed (so one failure does not leak into the next test) and named in the error. */
export async function expectNoServersLeft(dir: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  let left = serverPids(dir);
  while (left.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    left = serverPids(dir);
  }
  if (!left.length) return;
  const what = left.map((p) => `${p} ${argvOf(p)?.join(' ') ?? ''}`);
  for (const p of left) { try { process.kill(p, 'SIGKILL'); } catch { /* gone now */ } }
  throw new Error(`server processes outlived their clients by ${ms} ms:\n  ${what.join('\n  ')}`);
}

/** The processes holding the server end of the TCP connection from local `clientPort` to `serverPort`. */
export function holdersOf(serverPort: number, clientPort: number): number[] {
  const r = spawnSync('ss', ['-Htanp', `( sport = :${serverPort} and dport = :${clientPort} )`], { encoding: 'utf8' });
  return [...(r.stdout ?? '').matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
}

/** The server process holding the server end of the TCP connection from local `clientPort` to
 *  `serverPort` (xinetd, inetd and systemd-socket-activate start it just after accepting: polled). */
export async function serverPidOf(serverPort: number, clientPort: number, ms = 10_000): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    const pid = holdersOf(serverPort, clientPort).find((p) => isServer(argvOf(p)));
    if (pid !== undefined) return pid;
    if (Date.now() > deadline) throw new Error(`no server process for the connection from port ${clientPort}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
