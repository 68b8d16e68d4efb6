// "A process that serves sessions": the one module that knows how many sessions a process serves and
// how they begin. inetd mode (bin/imapd, bin/dpop under inetd/xinetd/systemd Accept=yes) makes one host
// for its one connection; resident mode (src/resident/) makes one per pre-login process and one per
// per-uid worker, each serving many connections. Protocol code (imap/, pop3/) never learns which: it
// gets a ServerContext whose `host` holds what the process owns (session/services.ts) and, at most, the
// two login hooks of session/handoff.ts.

import type { Connection } from '../transport/types.js';
import type { Logger } from '../log/types.js';
import type { ServerContext } from './context.js';
import type { LoginGrant } from './login.js';
import type { LoginStop, ServeOptions } from './handoff.js';
import { ProcessServices, type HostServices, type IdentityMode } from './services.js';

export type { IdentityMode, HostServices };

export type HostProgram = 'imapd' | 'dpop';

/** What one process serving sessions owns once (never module globals): the external auth module
 *  child, who its sessions run as, the in-process mailbox bus, counts of live sessions. */
export interface SessionHost {
  readonly program: HostProgram;
  /** Live sessions served by this process. */
  readonly sessions: number;
  /** Who the sessions run as after login (user switching is a host property, not a session one). */
  readonly identity: IdentityMode;
  /** Handed to every session through ServerContext.host. */
  readonly services: HostServices;
  /** Called each time `sessions` drops to 0. */
  onIdle(cb: () => void): void;
  /** End what the host owns (the auth module child). Sessions still running are not touched. */
  close(): Promise<void>;
}

export interface HostOptions {
  program: HostProgram;
  log: Logger;
  /** Default { kind: 'switch-per-login' } (inetd mode: the session becomes the user after login). */
  identity?: IdentityMode;
  /** The protocol server (default: IMAP for imapd, POP3 for dpop; tests plug in their own). */
  serve?: ProtocolServe;
}

export type ProtocolServe = (conn: Connection, ctx: ServerContext, opts: ServeOptions) => Promise<void>;

/** A login handed from the process that authenticated it to the process that serves the user. Plain
 *  JSON (it crosses processes beside the connection's descriptor). */
export interface Handoff {
  program: HostProgram;
  /** The login name as the client typed it. */
  user: string;
  /** The authentication result: what the serving process needs to open the session (its own checks of
   *  the identity are made again there). */
  auth: { grant: LoginGrant; command?: string };
  /** IMAP: tag of the LOGIN/AUTHENTICATE command still to be answered. */
  tag?: string;
  /** Base64 of the bytes the client sent after the login command (pipelining). */
  input: string;
  /** IMAP ENABLEd extensions. */
  enabled: string[];
  remote: { address: string; port: number };
  local: { address: string; port: number };
  /** TLS was negotiated (the connection given to the worker is then a cleartext proxy). */
  secure: boolean;
}

class Host implements SessionHost {
  readonly services: ProcessServices;
  private live = 0;
  private readonly idle: (() => void)[] = [];

  constructor(readonly program: HostProgram, readonly log: Logger, readonly identity: IdentityMode, readonly serve?: ProtocolServe) {
    this.services = new ProcessServices(identity);
  }

  get sessions(): number {
    return this.live;
  }

  onIdle(cb: () => void): void {
    this.idle.push(cb);
  }

  begin(): void {
    this.live++;
  }

  end(): void {
    this.live--;
    if (this.live > 0) return;
    for (const cb of this.idle) {
      try { cb(); } catch (e) { this.log.error({ err: String(e) }, 'onIdle callback failed'); }
    }
  }

  async close(): Promise<void> {
    await this.services.closeAuth();
  }
}

export function createSessionHost(opts: HostOptions): SessionHost {
  return new Host(opts.program, opts.log, opts.identity ?? { kind: 'switch-per-login' }, opts.serve);
}

function hostOf(h: SessionHost): Host {
  if (!(h instanceof Host)) throw new Error('not a host made by createSessionHost');
  return h;
}

async function protocolOf(program: HostProgram): Promise<ProtocolServe> {
  if (program === 'imapd') return (await import('../imap/server.js')).serveImap;
  return (await import('../pop3/server.js')).servePop3;
}

async function run(host: SessionHost, conn: Connection, ctx: ServerContext, opts: ServeOptions): Promise<void> {
  const h = hostOf(host);
  const serve = h.serve ?? await protocolOf(h.program);
  h.begin();
  try {
    await serve(conn, { ...ctx, host: h.services }, opts);
  } finally {
    h.end();
  }
}

/** Serve a whole connection from the greeting on (inetd mode, a pre-login process). With stopAtLogin, a
 *  successful login is neither answered nor opened: stopAtLogin gets the handoff and the session ends
 *  without closing the connection (the caller passes it on). Without it, the caller ends the connection
 *  when this resolves. */
export async function serveConnection(host: SessionHost, conn: Connection, ctx: ServerContext, opts: { stopAtLogin?: (h: Handoff) => Promise<void> } = {}): Promise<void> {
  const stop = opts.stopAtLogin;
  await run(host, conn, ctx, stop ? { stopAtLogin: (s) => stop(handoffOf(host.program, conn, s)) } : {});
}

/** A pre-login process authenticated the user and hands the connection over: no greeting is sent; this
 *  process (already running as the user's uid, or switching to it in inetd mode) opens the session,
 *  sends the tagged OK / +OK of the login itself, reads the carried input, then serves. */
export async function resumeConnection(host: SessionHost, conn: Connection, ctx: ServerContext, handoff: Handoff): Promise<void> {
  const resume = loginStopOf(host.program, handoff);
  // TLS was negotiated before the handover: the connection here is its cleartext side, but for the
  // session it is secure (no STARTTLS offered, plaintext rules as over TLS).
  await run(host, handoff.secure === true && !conn.secure ? securedView(conn) : conn, ctx, { resume });
}

/** `conn` as a session over TLS sees it (the TLS layer lives in another process). */
function securedView(conn: Connection): Connection {
  return {
    get remoteAddress() { return conn.remoteAddress; },
    get remotePort() { return conn.remotePort; },
    get localAddress() { return conn.localAddress; },
    get localPort() { return conn.localPort; },
    secure: true,
    tlsAvailable: false,
    get compressed() { return conn.compressed; },
    get compressionAvailable() { return conn.compressionAvailable; },
    startCompression: (pending) => conn.startCompression(pending),
    onData: (h) => conn.onData(h),
    onClose: (h) => conn.onClose(h),
    onEnd: (h) => conn.onEnd(h),
    write: (d) => conn.write(d),
    writable: () => conn.writable(),
    drain: () => conn.drain(),
    startTls: () => Promise.reject(new Error('TLS is already active')),
    setIdleTimeout: (s, f) => conn.setIdleTimeout(s, f),
    setDeadline: (s, f) => conn.setDeadline(s, f),
    pause: () => conn.pause(),
    resume: () => conn.resume(),
    end: () => conn.end(),
  };
}

function handoffOf(program: HostProgram, conn: Connection, s: LoginStop): Handoff {
  const late = conn.takeUnread?.() ?? Buffer.alloc(0);
  return {
    program,
    user: s.loginName,
    auth: { grant: s.grant, ...(s.command ? { command: s.command } : {}) },
    ...(s.tag !== undefined ? { tag: s.tag } : {}),
    input: Buffer.concat([s.input, late]).toString('base64'),
    enabled: s.enabled,
    remote: { address: conn.remoteAddress, port: conn.remotePort ?? 0 },
    local: { address: conn.localAddress, port: conn.localPort ?? 0 },
    secure: conn.secure,
  };
}

/** A handoff as received from another process: checked for shape before anything is believed. */
function loginStopOf(program: HostProgram, h: Handoff): LoginStop {
  const bad = (why: string) => new Error(`invalid handoff: ${why}`);
  if (!h || typeof h !== 'object') throw bad('not an object');
  if (h.program !== program) throw bad(`for ${String(h.program)}, this host serves ${program}`);
  if (typeof h.user !== 'string' || typeof h.input !== 'string' || !Array.isArray(h.enabled)) throw bad('fields');
  const g = h.auth?.grant;
  if (!g || typeof g !== 'object' || !g.user || typeof g.user.login !== 'string' || typeof g.method !== 'string') throw bad('grant');
  if (g.runAs !== null && (typeof g.runAs !== 'object' || !Number.isInteger(g.runAs.uid) || !Number.isInteger(g.runAs.gid))) throw bad('runAs');
  if (program === 'imapd' && typeof h.tag !== 'string') throw bad('IMAP handoff without a tag');
  return {
    grant: g,
    loginName: h.user,
    ...(h.tag !== undefined ? { tag: h.tag } : {}),
    ...(h.auth.command ? { command: h.auth.command } : {}),
    input: Buffer.from(h.input, 'base64'),
    enabled: h.enabled.filter((e): e is string => typeof e === 'string'),
  };
}
