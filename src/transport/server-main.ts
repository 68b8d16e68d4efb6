// What bin/imapd and bin/dpop do before the protocol starts: read the arguments and dmail.conf, find the
// client (inetd's fd 0/1, systemd's fd 3, or pipes), open the log, optionally start implicit TLS, then hand
// the connection to the protocol server. Errors here go to the administrator (stderr, log), never as a
// stack trace, and the client gets a protocol-shaped goodbye when it is on a socket.

import { fstatSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { ConfigError, loadConfig, type LoadedConfig } from '../config/parse.js';
import type { Program } from '../config/settings.js';
import type { Connection } from './types.js';
import type { ServerContext } from '../session/context.js';
import type { Logger } from '../log/types.js';
import { adminMessage, stderrIsClient } from '../log/stderr.js';
import { logCodeCache } from './code-cache.js';

export type ServerProgram = Exclude<Program, 'dmailctl'>;
export type ServeFn = (conn: Connection, ctx: ServerContext) => Promise<void>;

export const DEFAULT_CONFIG = '/etc/dmail.conf';

export interface ServerArgs {
  config: string;
  tls: boolean;
  /** --daemon: resident mode on the --listen addresses (default: all addresses, the standard port). */
  daemon: boolean;
  listen: { host: string; port: number }[];
}

export const USAGE = (p: string) => `usage: ${p} [-i FILE | --config FILE] [--tls] [--daemon [--listen ADDR:PORT]...]\n` +
  `  -i, --config FILE  dmail.conf to read (default ${DEFAULT_CONFIG})\n` +
  `  --tls              implicit TLS (the imaps/pop3s lines); needs tls_cert and tls_key\n` +
  `  --daemon           resident mode: listen and serve many connections (stays in the foreground)\n` +
  `  --listen ADDR:PORT where --daemon listens (repeatable; default 0.0.0.0 on the standard port); port 0\n` +
  `                     takes a free port and prints "<program> listening on ADDR:PORT" on stdout\n`;

/** ADDR:PORT, [v6]:PORT or PORT. Port 0: any free port, which the daemon prints once it listens. */
export function parseListen(v: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]:|([^:]*):)?(\d{1,5})$/.exec(v);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** Parse imapd/dpop arguments by hand: commander would cost start-up time on every connection. */
export function parseServerArgs(argv: string[]): ServerArgs | { error: string } | { help: true } {
  const out: ServerArgs = { config: DEFAULT_CONFIG, tls: false, daemon: false, listen: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-i' || a === '--config' || a === '-c') {
      const v = argv[++i];
      if (v === undefined) return { error: `${a} needs a file name` };
      out.config = v;
    } else if (a.startsWith('--config=')) {
      out.config = a.slice(9);
    } else if (a.startsWith('-i') && a.length > 2) {
      out.config = a.slice(2);
    } else if (a === '--tls') {
      out.tls = true;
    } else if (a === '--daemon') {
      out.daemon = true;
    } else if (a === '--listen' || a.startsWith('--listen=')) {
      const v = a === '--listen' ? argv[++i] : a.slice(9);
      if (v === undefined) return { error: `${a} needs ADDR:PORT` };
      const l = parseListen(v);
      if (!l) return { error: `--listen ${v}: not ADDR:PORT` };
      out.listen.push(l);
    } else if (a === '-h' || a === '--help') {
      return { help: true };
    } else {
      return { error: `unknown argument "${a}"` };
    }
  }
  return out;
}

/** inetd style: one socket on fd 0 and fd 1 (a parent's socketpair pipes are two different sockets). */
function clientIsSocket(): boolean {
  try {
    const a = fstatSync(0);
    const b = fstatSync(1);
    return a.isSocket() && a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

/** A last word to a socket client when we cannot serve it at all. */
function goodbye(program: ServerProgram): void {
  if (!clientIsSocket()) return;
  const text = program === 'imapd' ? '* BYE Server configuration error, try again later\r\n' : '-ERR Server configuration error, try again later\r\n';
  try { writeSync(1, text); } catch { /* client already gone */ }
}

export async function runServer(program: ServerProgram, argv: string[], loadServe: () => Promise<ServeFn>): Promise<void> {
  // A process the resident-mode master forked (pre-login or worker): it talks to the master only.
  const role = process.env.DMAIL_RESIDENT_ROLE;
  if (role && process.send) {
    delete process.env.DMAIL_RESIDENT_ROLE;
    const { runRole } = await import('../resident/roles.js');
    return runRole(role, program);
  }
  const args = parseServerArgs(argv);
  if ('help' in args) {
    adminMessage(USAGE(program));
    process.exit(0);
  }
  if ('error' in args) {
    adminMessage(`${program}: ${args.error}\n${USAGE(program)}`);
    process.exit(2);
  }
  if (args.listen.length && !args.daemon) {
    adminMessage(`${program}: --listen needs --daemon\n${USAGE(program)}`);
    process.exit(2);
  }
  if (args.daemon) {
    const port = program === 'imapd' ? (args.tls ? 993 : 143) : (args.tls ? 995 : 110);
    const listen = (args.listen.length ? args.listen : [{ host: '0.0.0.0', port }])
      .map((l) => ({ ...l, tls: args.tls, name: `${l.host}:${l.port}` }));
    return runResident(program, args, listen);
  }
  let config: LoadedConfig;
  try {
    config = loadConfig(args.config, program);
  } catch (e) {
    const msg = e instanceof ConfigError ? e.message : `cannot load configuration: ${(e as Error).message}`;
    adminMessage(`${program}: ${msg}`);
    goodbye(program);
    process.exit(1);
  }
  const { settings } = config;
  const protocol = program === 'imapd' ? 'imap' : 'pop3';
  const { createLogger } = await import('../log/logger.js');
  const { tlsSettingsOf } = await import('./tls.js');
  const connOptions = { maxOutput: settings.max_output_buffer, tls: tlsSettingsOf(settings) };

  let log: Logger | undefined;
  const fatal = (what: string, e: unknown) => {
    const err = e as Error;
    if (log) log.error({ err: { message: err?.message, stack: err?.stack } }, what);
    else adminMessage(`${program}: ${what}: ${err?.message ?? e}`);
    process.exit(1);
  };
  process.on('uncaughtException', (e) => fatal('uncaught exception', e));
  process.on('unhandledRejection', (e) => fatal('unhandled rejection', e));

  const { systemdListenFds, isListeningSocket, listeningFds, SD_LISTEN_FDS_START } = await import('./listen-fds.js');
  let conn: Connection;
  if (systemdListenFds() > 0) {
    if (isListeningSocket(SD_LISTEN_FDS_START)) {
      // Accept=no: the resident mode on every listening socket systemd passed.
      return runResident(program, args, listeningFds().map((l) => ({ ...l, tls: l.tls || args.tls })));
    }
    const { connectionFromSocketFd } = await import('./stdio.js');
    conn = connectionFromSocketFd(SD_LISTEN_FDS_START, connOptions);
  } else {
    const { connectionFromStdio } = await import('./stdio.js');
    conn = connectionFromStdio(connOptions);
  }

  log = createLogger(settings, program, { protocol, remote: conn.remoteAddress, local: conn.localAddress });
  logConfigProblems(log, config);
  logCodeCache(log);
  if (stderrIsClient()) {
    // Classic inetd and xinetd put the connection on fd 2 too: Node prints its own process warnings (a
    // deprecated API a dependency uses, say) there, i.e. into the client's protocol stream. To the log.
    const l = log;
    process.removeAllListeners('warning');
    process.on('warning', (w) => l.warn({ warning: w.name, err: w.message }, 'node process warning'));
  }

  // A safety net until the protocol sets its own: no client may hold a process forever by staying silent
  // (this also bounds a TLS handshake that never comes).
  conn.setIdleTimeout(program === 'imapd' ? settings.imapd_login_timeout : settings.pop_timeout, () => {});

  if (args.tls) {
    try {
      await conn.startTls();
    } catch (e) {
      // A client that left before the handshake (a port probe, a health check) is no server failure.
      const { HandshakeEnded } = await import('./stream-connection.js');
      if (e instanceof HandshakeEnded) {
        log.info({ err: e.message }, 'implicit TLS: the client left before the handshake');
        process.exit(0);
      }
      log.error({ err: (e as Error).message }, 'implicit TLS failed');
      process.exit(1);
    }
  }

  const ctx: ServerContext = {
    program,
    settings,
    log,
    hostname: settings.dpop_host ?? hostname(),
    configPath: resolve(args.config),
  };
  // One host for this process's one session (session/host.ts): it owns the auth module child and the
  // session switches to the user after login, as DMail's imapd did.
  const serve = await loadServe();
  const { createSessionHost, serveConnection } = await import('../session/host.js');
  const host = createSessionHost({ program, log, serve });
  await serveConnection(host, conn, ctx);
  await conn.end();
  await host.close();
  process.exit(0);
}

/** The resident mode (src/resident/): a master on these listening sockets. */
async function runResident(program: ServerProgram, args: ServerArgs, listen: import('../resident/master.js').ListenSpec[]): Promise<void> {
  const { runMaster } = await import('../resident/master.js');
  // Started with an IPC channel (`dmailctl serve --resident`, the test suites): stop when that parent is
  // gone, whatever killed it, rather than serve on as an orphan.
  if (process.send) process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  try {
    await runMaster({
      program, configPath: args.config, listen, script: process.argv[1]!,
      // Started by `dmailctl serve --resident` (an IPC channel): tell it where we listen.
      onListening: (addresses) => {
        if (process.send) process.send({ t: 'listening', addresses });
        // --listen ADDR:0 asked for any free port: say which (tests and scripts read this line).
        listen.forEach((l, i) => {
          if (l.fd === undefined && l.port === 0) process.stdout.write(`${program} listening on ${l.host?.includes(':') ? `[${l.host}]` : l.host}:${addresses[i]?.port ?? 0}\n`);
        });
      },
    });
  } catch (e) {
    const msg = e instanceof ConfigError ? e.message : (e as Error).message;
    adminMessage(`${program}: resident mode: ${msg}`);
    process.exit(1);
  }
}

function logConfigProblems(log: Logger, config: LoadedConfig): void {
  for (const w of config.warnings) log.warn(`dmail.conf: ${w}`);
  for (const e of config.errors) log.error(`dmail.conf: ${e}`);
}
