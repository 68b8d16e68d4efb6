// dmailctl serve: a tiny inetd for trying the server without touching the system's inetd. It listens on
// loopback ports and starts bin/imapd or bin/dpop per connection with the accepted socket as the child's
// stdin/stdout, exactly the code path inetd, xinetd and systemd Accept=yes use. With --resident it
// starts instead one resident-mode master per port (`imapd --daemon --listen HOST:PORT`, src/resident/).

import { fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';

/** Repository root: the directory holding package.json above this file (dist/ when bundled, src/cli/ in dev). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bin'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the installation directory (package.json with bin/)');
}

export interface ServeOptions {
  config: string;
  host: string;
  /** 0 = do not serve this protocol. */
  imapPort: number;
  popPort: number;
  imapsPort?: number;
  pop3sPort?: number;
  /** Resident mode: one long-running master per port instead of a process per connection. */
  resident?: boolean;
}

interface Listener {
  name: string;
  program: 'imapd' | 'dpop';
  port: number;
  tls: boolean;
}

export interface Serving {
  /** Actual ports by listener name (imap, pop3, imaps, pop3s). */
  ports: Record<string, number>;
  close(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolveListen, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.removeListener('error', onError);
      resolveListen((server.address() as { port: number }).port);
    });
  });
}

export async function startServing(o: ServeOptions, onEvent: (msg: string) => void = () => {}): Promise<Serving> {
  const root = repoRoot();
  const config = resolve(o.config);
  const wanted: Listener[] = [
    { name: 'imap', program: 'imapd', port: o.imapPort, tls: false },
    { name: 'pop3', program: 'dpop', port: o.popPort, tls: false },
    { name: 'imaps', program: 'imapd', port: o.imapsPort ?? 0, tls: true },
    { name: 'pop3s', program: 'dpop', port: o.pop3sPort ?? 0, tls: true },
  ].filter((l) => l.port > 0) as Listener[];
  const servers: Server[] = [];
  const ports: Record<string, number> = {};
  // A clean environment, as inetd gives: NODE_OPTIONS or NODE_EXTRA_CA_CERTS would slow every start.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: process.env.LANG ?? 'C' };
  if (o.resident) return startResident(root, config, o.host, wanted, env, onEvent);
  try {
    for (const l of wanted) {
      const bin = join(root, 'bin', l.program);
      const args = ['-i', config, ...(l.tls ? ['--tls'] : [])];
      const server = createServer({ pauseOnConnect: true }, (sock: Socket) => {
        try {
          const child = spawn(bin, args, { stdio: [sock, sock, 'inherit'], env });
          child.on('error', (e) => onEvent(`${l.name}: cannot start ${bin}: ${e.message}`));
        } catch (e) {
          onEvent(`${l.name}: cannot start ${bin}: ${(e as Error).message}`);
        } finally {
          sock.destroy(); // the child has its own descriptor, as under inetd
        }
      });
      ports[l.name] = await listen(server, l.port, o.host);
      servers.push(server);
    }
  } catch (e) {
    for (const s of servers) s.close();
    throw e;
  }
  return {
    ports,
    close: () => Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => {}),
  };
}

/** One resident master per listener; each reports its port over the IPC channel once it listens. */
async function startResident(root: string, config: string, host: string, wanted: Listener[], env: NodeJS.ProcessEnv,
  onEvent: (msg: string) => void): Promise<Serving> {
  const masters: ChildProcess[] = [];
  const ports: Record<string, number> = {};
  const stopAll = () => Promise.all(masters.map((m) => new Promise<void>((r) => {
    if (m.exitCode !== null || m.signalCode !== null) return r();
    m.once('exit', () => r());
    m.kill('SIGTERM');
  }))).then(() => {});
  try {
    for (const l of wanted) {
      const bin = join(root, 'bin', l.program);
      const m = fork(bin, ['-i', config, '--daemon', '--listen', `${host.includes(':') ? `[${host}]` : host}:${l.port}`, ...(l.tls ? ['--tls'] : [])], {
        env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [],
      });
      masters.push(m);
      ports[l.name] = await new Promise<number>((res, rej) => {
        m.once('exit', (code) => rej(new Error(`${l.program} --daemon exited (status ${code}) before listening on port ${l.port}`)));
        m.on('message', (msg: { t?: string; addresses?: { port: number }[] }) => {
          if (msg.t === 'listening') res(msg.addresses?.[0]?.port ?? l.port);
        });
      });
      m.removeAllListeners('exit');
      m.on('exit', (code, signal) => onEvent(`${l.name}: resident ${l.program} exited (${signal ?? code})`));
    }
  } catch (e) {
    await stopAll();
    throw e;
  }
  return { ports, close: stopAll };
}

const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`bad port "${v}"`);
  return n;
};

export function register(program: Command): void {
  program
    .command('serve')
    .description('listen on loopback ports and run imapd/dpop per connection, like inetd')
    .option('-i, --config <file>', 'dmail.conf for the servers', '/etc/dmail.conf')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--imap-port <n>', 'IMAP port (0: off)', port, 1143)
    .option('--pop-port <n>', 'POP3 port (0: off)', port, 1110)
    .option('--imaps-port <n>', 'IMAP over TLS port (0: off; needs tls_cert/tls_key)', port, 0)
    .option('--pop3s-port <n>', 'POP3 over TLS port (0: off)', port, 0)
    .option('--resident', 'resident mode: one long-running server per port (see README, "Which mode")')
    .action(async (opts: { config: string; host: string; imapPort: number; popPort: number; imapsPort: number; pop3sPort: number; resident?: boolean }) => {
      await serveForever(opts);
    });
}

export async function serveForever(opts: ServeOptions): Promise<void> {
  let serving: Serving;
  try {
    serving = await startServing(opts, (m) => process.stderr.write(`dmailctl serve: ${m}\n`));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const hint = err.code === 'EADDRINUSE' ? ' (port in use: choose another with --imap-port/--pop-port)' : '';
    process.stderr.write(`dmailctl serve: ${err.message}${hint}\n`);
    process.exit(1);
  }
  const list = Object.entries(serving.ports).map(([n, p]) => `${n} ${opts.host}:${p}`).join(', ');
  process.stdout.write(`serving ${list}${opts.resident ? ' (resident mode)' : ''} with ${resolve(opts.config)}; Ctrl-C stops\n`);
  const stop = () => { void serving.close().then(() => process.exit(0)); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  await new Promise<never>(() => {});
}
