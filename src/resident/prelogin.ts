// A pre-login process of the resident mode: unprivileged (the master forks it as resident_prelogin_user,
// its gid, no supplementary groups), it serves many connections up to their login — greeting, CAPABILITY,
// STARTTLS/STLS and implicit TLS, the login commands — and never opens a mail file. Password checks go to
// the master's auth service over IPC. On a successful login the session stops (serveConnection's
// stopAtLogin) and the connection goes to the master, which passes it to the worker of the user's uid:
//   - plain connections: the socket itself (its descriptor), plus the bytes already read after the login;
//   - TLS connections: TLS state cannot leave this process, so we keep the TLS socket and give the worker
//     the far end of a Unix socket pair, then copy cleartext both ways until either side closes.

import { hostname } from 'node:os';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Settings } from '../config/settings.js';
import type { Logger } from '../log/types.js';
import type { GrantResult } from '../session/login.js';
import type { ServerContext } from '../session/context.js';
import { createSessionHost, serveConnection, type Handoff, type SessionHost } from '../session/host.js';
import { StreamConnection } from '../transport/stream-connection.js';
import { plainAddress, UNKNOWN_ADDRESS } from '../transport/stdio.js';
import { tlsSettingsOf } from '../transport/tls.js';
import { IpcLogger } from './ipc-log.js';
import { sendTo, type AuthRequest, type ClientMsgInfo, type FromPrelogin, type Pem, type ToPrelogin } from './ipc.js';
import { closeHandle, handleOf, socketFromHandle } from './handles.js';
import { PairMaker } from './pair.js';
import { IdleTrimmer } from './trim.js';

/** Asks the master's auth service; one outstanding request per login command. */
export class AuthClient {
  private next = 1;
  private readonly pending = new Map<number, (r: unknown) => void>();

  ask(program: 'imapd' | 'dpop', client: ClientMsgInfo, request: AuthRequest): Promise<unknown> {
    const req = this.next++;
    const m: FromPrelogin = { t: 'auth', req, program, client, request };
    return new Promise((resolve) => {
      this.pending.set(req, resolve);
      void sendTo(process, m).then((ok) => {
        if (!ok && this.pending.delete(req)) resolve({ ok: false, temporary: true, message: 'authentication service unavailable' });
      });
    });
  }

  reply(req: number, result: unknown): void {
    const r = this.pending.get(req);
    if (!r) return;
    this.pending.delete(req);
    r(result);
  }
}

export async function runPrelogin(program: 'imapd' | 'dpop'): Promise<void> {
  const log = new IpcLogger({ role: 'prelogin' });
  const auth = new AuthClient();
  const pairs = new PairMaker();
  await pairs.start();
  // Identity planning as the master would switch (it decides for real, in its auth service).
  const asUid = Number(process.env.DMAIL_RESIDENT_MASTER_UID ?? process.getuid?.() ?? 0);
  delete process.env.DMAIL_RESIDENT_MASTER_UID;
  const host = createSessionHost({ program, log, identity: { kind: 'plan-only', asUid } });
  // Credentials are checked by the master (root, one auth module child for all logins), never here.
  host.services.remoteLogin = (client, request) => auth.ask(program, { ...client }, request) as Promise<GrantResult>;
  let live = 0;
  let stopping = false;
  /** TLS connections relayed to a worker, by connection id: what ends the relay once the worker's
   *  session is over (the master says so: 'session-ended'). */
  const relays: Relays = new Map();
  const trim = new IdleTrimmer();
  const maybeExit = () => {
    if (stopping && live === 0) { pairs.close(); void host.close().finally(() => process.exit(0)); }
  };

  // The master sends settings and PEM only when they changed: the last ones received are in force.
  let settings: Settings | undefined;
  let pem: Pem | undefined;
  process.on('message', (m: ToPrelogin, handle: unknown) => {
    if (m.t === 'conn') {
      if (m.settings) settings = m.settings;
      if (m.pem !== undefined) pem = m.pem ?? undefined;
      if (!settings) {
        log.error('connection without settings from the master');
        closeHandle(handle);
        void sendTo(process, { t: 'released', id: m.id } satisfies FromPrelogin);
        return;
      }
      live++;
      trim.activity();
      let failed = false;
      void serveOne(program, { id: m.id, tls: m.tls, configPath: m.configPath, settings, pem }, handle, host, pairs, log, relays)
        .catch((e: unknown) => { failed = true; log.error({ err: (e as Error).message }, 'pre-login connection failed'); })
        .finally(() => { live--; trim.activity(); void sendTo(process, { t: 'released', id: m.id, ...(failed ? { failed } : {}) } satisfies FromPrelogin); maybeExit(); });
    } else if (m.t === 'auth-reply') {
      auth.reply(m.req, m.result);
    } else if (m.t === 'session-ended') {
      relays.get(m.id)?.();
    } else if (m.t === 'stop') {
      stopping = true;
      maybeExit();
    }
  });
  // The master is gone: finish what we serve, take nothing new.
  process.on('disconnect', () => { stopping = true; maybeExit(); });
  trim.activity(); // what starting up allocated
  await sendTo(process, { t: 'ready' } satisfies FromPrelogin);
}

interface OneConn { id: number; tls: boolean; configPath: string; settings: Settings; pem?: Pem }

type Relays = Map<number, () => void>;

async function serveOne(program: 'imapd' | 'dpop', m: OneConn, handle: unknown, host: SessionHost,
  pairs: PairMaker, baseLog: IpcLogger, relays: Relays): Promise<void> {
  const sock = socketFromHandle(handle);
  // Short answers go out at once (no Nagle wait behind an unacknowledged segment).
  sock.setNoDelay(true);
  const settings: Settings = m.settings;
  const conn = new StreamConnection({
    input: sock, output: sock,
    remoteAddress: plainAddress(sock.remoteAddress) ?? UNKNOWN_ADDRESS, remotePort: sock.remotePort,
    localAddress: plainAddress(sock.localAddress) ?? UNKNOWN_ADDRESS, localPort: sock.localPort,
    maxOutput: settings.max_output_buffer, tls: { ...tlsSettingsOf(settings), ...(m.pem ? { pem: m.pem } : {}) },
    // The bare socket goes to a worker after login: a deflate stream must not start here.
    compression: false,
  });
  const log = baseLog.child({ remote: conn.remoteAddress, local: conn.localAddress });
  conn.setIdleTimeout(program === 'imapd' ? settings.imapd_login_timeout : settings.pop_timeout, () => {});
  if (m.tls) {
    try {
      await conn.startTls();
    } catch (e) {
      log.info({ err: (e as Error).message }, 'implicit TLS failed');
      return;
    }
  }
  const ctx: ServerContext = {
    program, settings, log, hostname: settings.dpop_host ?? hostname(), configPath: m.configPath,
  };
  let handedOff: Promise<void> | undefined;
  await serveConnection(host, conn, ctx, {
    stopAtLogin: (h) => (handedOff = handOff(m.id, conn, h, pairs, log, relays)),
  });
  if (handedOff) await handedOff;
  else await conn.end();
}

/** Give the logged-in connection to the master (and on to the worker of the user's uid). The session
 *  already stopped the connection (takeUnread: every byte read but not used is in h.input). */
async function handOff(id: number, conn: StreamConnection, h: Handoff, pairs: PairMaker, log: Logger, relays: Relays): Promise<void> {
  const stream = conn.stream();
  if (!h.secure) {
    const sock = stream as Socket;
    const ok = await sendTo(process, { t: 'handoff', id, handoff: h } satisfies FromPrelogin, handleOf(sock));
    if (!ok) log.warn('could not hand the connection to the master');
    sock.destroy(); // our descriptor only: the connection lives on in the master's (then the worker's)
    return;
  }
  let near: Socket;
  let far: Socket;
  try {
    ({ near, far } = await pairs.pair());
  } catch (e) {
    log.error({ err: (e as Error).message }, 'cannot make the socket pair for a TLS connection');
    stream.destroy();
    return;
  }
  const ok = await sendTo(process, { t: 'handoff', id, handoff: h } satisfies FromPrelogin, handleOf(far));
  far.destroy();
  if (!ok) { near.destroy(); stream.destroy(); return; }
  // takeUnread stopped the TLS socket's reading for good; we read it again, for the relay.
  const state = (stream as unknown as { _readableState?: { reading: boolean } })._readableState;
  if (state) state.reading = false;
  try {
    await proxy(stream, near, (end) => relays.set(id, end));
  } finally {
    relays.delete(id);
  }
}

/** After the worker's session ended, how long the relay may still carry its last words to the client. */
export const RELAY_GRACE_MS = 5000;

/** Copy cleartext between the TLS socket and our end of the pair until either side is done. */
function proxy(tls: Duplex, near: Socket, onSessionEnded: (end: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    let grace: NodeJS.Timeout | undefined;
    const finish = () => {
      if (done) return;
      done = true;
      if (grace) clearTimeout(grace);
      tls.destroy();
      near.destroy();
      resolve();
    };
    // The worker's end reaches us as the end of `near`, but only once we have read everything before
    // it: a client that stopped reading stops the relay too, and would hold it (and its place in the
    // master's counts) for as long as it keeps the connection. When the master tells us the session is
    // over, what is still on its way gets a grace period, then the relay ends.
    onSessionEnded(() => { grace ??= setTimeout(finish, RELAY_GRACE_MS); });
    tls.on('error', finish);
    near.on('error', finish);
    tls.on('close', finish);
    near.on('close', finish);
    // The worker ended the session: send its last words, then close the TLS connection properly.
    near.on('end', () => { tls.end(); });
    tls.on('end', () => { near.end(); });
    tls.pipe(near, { end: false });
    near.pipe(tls, { end: false });
    tls.resume();
  });
}
