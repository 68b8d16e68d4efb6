// The master of the resident mode (imapd/dpop started with a listening socket: systemd Accept=no, or
// --daemon). It owns the listening sockets, accepts, applies the connection limits, keeps
// resident_prelogin_processes warm unprivileged pre-login processes and routes: a new connection to the
// least loaded pre-login process, a logged-in one to the worker of the user's uid. It runs the auth
// service (password checks may need root: /etc/shadow, PAM) and never parses mail.
//
// dmail.conf is re-read (when any of its files changed) for every connection and every login, so a change
// applies to the next login without a restart; SIGHUP re-reads it at once and replaces the pre-login
// processes if their number or user changed.

import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { createServer, type Server, type Socket } from 'node:net';
import { ConfigError, loadConfig, type LoadedConfig } from '../config/parse.js';
import type { Settings } from '../config/settings.js';
import type { Logger } from '../log/types.js';
import type { ServerContext } from '../session/context.js';
import type { Handoff } from '../session/host.js';
import type { LoginGrant } from '../session/login.js';
import { getpwnam } from '../auth/passwd.js';
import { plainAddress, UNKNOWN_ADDRESS } from '../transport/stdio.js';
import { AuthService, type Identity } from './auth-service.js';
import { closeHandle, handleOf, socketFromHandle } from './handles.js';
import { writeForwarded } from './ipc-log.js';
import { ROLE_ENV, sendTo, type Pem, type FromPrelogin, type FromWorker, type Role, type ToPrelogin, type ToWorker } from './ipc.js';
import { ConnectionCounts, refusalText, type Refusal } from './limits.js';
import { IdleTrimmer } from './trim.js';

/** glibc malloc settings for workers (an administrator's own GLIBC_TUNABLES wins). By default glibc raises
 *  its mmap threshold after the first large free (up to 32 MB), so the Buffers of a session on a big
 *  mailbox then come from the heap, and what they leave free between live chunks is never given back.
 *  A fixed threshold (128 KB) keeps large Buffers in their own mappings, returned at free, and a 128 KB
 *  trim threshold returns the heap's free top. Measured, 10k-message mbox, 10-20 sessions then quiet:
 *  RSS after the quiet-time GC 84-98 MB -> 65-66 MB; worker CPU within the noise of a loaded machine. */
const WORKER_MALLOC_TUNABLES = 'glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072';

export interface ListenSpec {
  /** An inherited listening socket (systemd LISTEN_FDS)… */
  fd?: number;
  /** …or an address to bind (--daemon --listen). */
  host?: string;
  port?: number;
  tls: boolean;
  name: string;
}

export interface MasterOptions {
  program: 'imapd' | 'dpop';
  configPath: string;
  listen: ListenSpec[];
  /** The script to fork for pre-login and worker processes (this program's launcher). */
  script: string;
  /** Called once every listener listens (tests and `dmailctl serve` wait for it). */
  onListening?: (addresses: { name: string; port: number }[]) => void;
}

interface Prelogin {
  child: ChildProcess; ready: boolean; load: number; stopping: boolean; uid: number; user: string;
  /** What this process was last sent (ConnMsg sends settings and PEM only when they changed). */
  sent?: { settings: Settings; pem: Pem | null };
}

interface Worker {
  child: ChildProcess;
  key: string;
  identity: Identity | null;
  ready: Promise<boolean>;
  sessions: number;
  /** Users with a session here: a user's next session goes to the same worker (in-process notification). */
  users: Map<string, number>;
  idleTimer?: NodeJS.Timeout;
  gone: boolean;
}

interface Conn {
  id: number;
  ip: string;
  /** remote address:port / local address:port, how an auth request names its connection. */
  tuple: string;
  /** The client's port (with ip: how the "connection ended" log line names it). */
  port: number;
  /** Why it ended, when not by a normal close: the session failed, or the process serving it died. */
  end?: 'session failed' | 'worker died' | 'pre-login process died';
  prelogin: Prelogin;
  /** Set by the auth service when a login succeeded: who, and as whom the session must run. */
  authed?: { user: string; auth: LoginGrant; identity: Identity | null; key: string };
  /** Counted against the user once handed to a worker. */
  user?: string;
  worker?: Worker;
  preloginHolds: boolean;
}

/**
 * dmail.conf as the master serves it: read at start, read again when any of its files changed (a new
 * login gets the new settings, no restart). An admin may rewrite the file in place while a connection
 * arrives; a read that meets that must not serve a connection with half a configuration (defaults for
 * the rest: say, no authent_process). So a re-read is believed only when no file changed while it was
 * read and none of its files is empty when it was not before (the moment between an in-place writer's
 * truncation and its write); otherwise the previous settings stay in force for this connection and the
 * files are looked at again at the next one. (The per-connection mode reads dmail.conf afresh every
 * time and has no previous settings to keep.)
 */
class ConfigSource {
  private loaded: LoadedConfig;
  private stamp: string;
  private readonly emptyFiles = new Set<string>();
  private heldBack = '';
  constructor(readonly path: string, private readonly program: 'imapd' | 'dpop', private readonly log: () => Logger | undefined) {
    this.loaded = loadConfig(path, program);
    this.stamp = this.stampOf(this.loaded.files);
    this.noteEmpty(this.loaded.files);
  }

  private stampOf(files: string[]): string {
    return files.map((f) => {
      try { const s = statSync(f); return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`; } catch { return 'x'; }
    }).join('|');
  }

  private sizeOf(f: string): number {
    try { return statSync(f).size; } catch { return -1; }
  }

  private noteEmpty(files: string[]): void {
    this.emptyFiles.clear();
    for (const f of files) if (this.sizeOf(f) === 0) this.emptyFiles.add(f);
  }

  /** The settings in force now: re-read when any file of the configuration changed. */
  current(force = false): Settings {
    const before = this.stampOf(this.loaded.files);
    if (!force && before === this.stamp) return this.loaded.settings;
    try {
      const next = loadConfig(this.path, this.program);
      const emptied = next.files.find((f) => this.sizeOf(f) === 0 && !this.emptyFiles.has(f));
      const moved = this.stampOf(this.loaded.files) !== before;
      if (moved || emptied) {
        // Being written: keep what was in force; the files are looked at again at the next connection.
        const why = moved ? 'changed while it was read' : `${emptied} is empty`;
        if (this.heldBack !== why) this.log()?.warn({ config: this.path, why }, 'configuration being rewritten? keeping the previous settings for now');
        this.heldBack = why;
        return this.loaded.settings;
      }
      this.heldBack = '';
      this.loaded = next;
      this.stamp = this.stampOf(next.files);
      this.noteEmpty(next.files);
      const log = this.log();
      for (const w of next.warnings) log?.warn(`dmail.conf: ${w}`);
      for (const e of next.errors) log?.error(`dmail.conf: ${e}`);
      log?.info({ config: this.path }, 'configuration re-read');
    } catch (e) {
      this.log()?.error({ err: e instanceof ConfigError ? e.message : String(e) }, 'cannot re-read the configuration; keeping the previous one');
      this.stamp = this.stampOf(this.loaded.files);
    }
    return this.loaded.settings;
  }

  get first(): LoadedConfig { return this.loaded; }
}

export async function runMaster(o: MasterOptions): Promise<void> {
  const { program } = o;
  let log: Logger | undefined;
  const config = new ConfigSource(o.configPath, program, () => log);
  const { createLogger } = await import('../log/logger.js');
  log = createLogger(config.current(), program, { protocol: program === 'imapd' ? 'imap' : 'pop3', mode: 'resident' });
  for (const w of config.first.warnings) log.warn(`dmail.conf: ${w}`);
  for (const e of config.first.errors) log.error(`dmail.conf: ${e}`);
  const mlog = log;
  const configPath = resolve(o.configPath);
  const isRoot = process.geteuid?.() === 0;
  const counts = new ConnectionCounts();
  const conns = new Map<number, Conn>();
  const byTuple = new Map<string, Conn>();
  const tupleOf = (ra: string, rp: number | undefined, la: string, lp: number | undefined) => `${ra}:${rp ?? 0}/${la}:${lp ?? 0}`;
  let nextId = 1;
  let shuttingDown = false;
  const auth = new AuthService(program);
  const trim = new IdleTrimmer();

  const ctxFor = (settings: Settings, l: Logger): ServerContext => ({
    program, settings, log: l, hostname: settings.dpop_host ?? hostname(), configPath,
  });

  // ---- processes ----
  const forkRole = (role: Role, ids?: { uid: number; gid: number }): ChildProcess => fork(o.script, [], {
    env: {
      ...process.env, [ROLE_ENV]: role, DMAIL_RESIDENT_MASTER_UID: String(process.geteuid?.() ?? 0), LISTEN_FDS: '', LISTEN_PID: '', LISTEN_FDNAMES: '',
      ...(role === 'worker' && process.env.GLIBC_TUNABLES === undefined ? { GLIBC_TUNABLES: WORKER_MALLOC_TUNABLES } : {}),
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    cwd: '/',
    ...(ids ? { uid: ids.uid, gid: ids.gid } : {}),
  });

  const prelogins: Prelogin[] = [];
  const preloginIds = async (settings: Settings): Promise<{ uid: number; gid: number; user: string } | undefined> => {
    if (!isRoot) return undefined;
    const e = await getpwnam(settings.resident_prelogin_user);
    if (!e) throw new Error(`resident_prelogin_user ${settings.resident_prelogin_user} does not exist`);
    if (e.uid === 0 || e.gid === 0) throw new Error(`resident_prelogin_user ${settings.resident_prelogin_user} has uid or gid 0`);
    return { uid: e.uid, gid: e.gid, user: e.name };
  };

  const startPrelogin = async (settings: Settings): Promise<void> => {
    let ids;
    try {
      ids = await preloginIds(settings);
    } catch (e) {
      mlog.error({ err: (e as Error).message }, 'cannot start a pre-login process');
      return;
    }
    const child = forkRole('prelogin', ids);
    const p: Prelogin = { child, ready: false, load: 0, stopping: false, uid: ids?.uid ?? process.getuid?.() ?? -1, user: ids?.user ?? '' };
    prelogins.push(p);
    child.on('message', (m: FromPrelogin, handle: unknown) => onPreloginMessage(p, m, handle));
    child.on('error', (e) => mlog.error({ err: e.message }, 'pre-login process error'));
    child.on('exit', (code, signal) => {
      const i = prelogins.indexOf(p);
      if (i >= 0) prelogins.splice(i, 1);
      let lost = 0;
      for (const c of conns.values()) {
        if (c.prelogin !== p || !c.preloginHolds) continue;
        c.preloginHolds = false;
        c.end ??= 'pre-login process died';
        if (!c.worker) { dropConn(c); lost++; }
      }
      if (!p.stopping || lost) mlog.warn({ prelogin: child.pid, code, signal, connections: lost }, 'pre-login process exited');
      // One that died before it was ready is restarted after a pause, not in a tight loop.
      if (!shuttingDown) setTimeout(keepPrelogins, p.ready ? 0 : 1000).unref();
    });
  };

  let starting = 0;
  const keepPrelogins = () => {
    if (shuttingDown) return;
    const want = Math.max(1, config.current().resident_prelogin_processes);
    const active = prelogins.filter((p) => !p.stopping);
    for (let i = active.length + starting; i < want; i++) {
      starting++;
      void startPrelogin(config.current()).finally(() => { starting--; });
    }
    for (const p of active.slice(want)) stopPrelogin(p);
  };

  const stopPrelogin = (p: Prelogin) => {
    p.stopping = true;
    void sendTo(p.child, { t: 'stop' } satisfies ToPrelogin);
  };

  const pickPrelogin = (): Prelogin | undefined => {
    let best: Prelogin | undefined;
    for (const p of prelogins) if (p.ready && !p.stopping && (!best || p.load < best.load)) best = p;
    return best;
  };

  // ---- workers ----
  const workers = new Map<string, Worker[]>();

  // Spare workers (resident_spare_workers): forked ahead of need, as root, holding no uid; the first login
  // of a uid without a worker takes one (startWorker sends it `become`) and a fresh one is forked. While it
  // waits a spare has loaded the code and nothing else: no log file, no user file, no uid.
  const spares: ChildProcess[] = [];
  const boundWorkers = () => { let n = 0; for (const l of workers.values()) n += l.length; return n; };
  const keepSpares = () => {
    if (shuttingDown) return;
    const s = config.current();
    let want = Math.max(0, s.resident_spare_workers);
    // A spare that could never be bound is not kept.
    if (s.resident_max_workers > 0) want = Math.min(want, Math.max(0, s.resident_max_workers - boundWorkers()));
    while (spares.length < want) {
      const child = forkRole('worker');
      const born = Date.now();
      spares.push(child);
      child.on('error', (e) => mlog.error({ err: e.message }, 'spare worker error'));
      child.on('exit', (code, signal) => {
        const i = spares.indexOf(child);
        if (i < 0) return; // bound: its Worker's own handler reports it
        spares.splice(i, 1);
        if (shuttingDown) return;
        mlog.warn({ worker: child.pid, code, signal }, 'spare worker exited');
        // One that died at once is replaced after a pause, not in a tight loop.
        setTimeout(keepSpares, Date.now() - born < 1000 ? 1000 : 0).unref();
      });
    }
    while (spares.length > want) void sendTo(spares.pop()!, { t: 'exit' } satisfies ToWorker);
  };

  const startWorker = (key: string, identity: Identity | null, settings: Settings): Worker => {
    const spare = spares.shift();
    const child = spare ?? forkRole('worker');
    if (spare) setImmediate(keepSpares);
    let readyResolve!: (ok: boolean) => void;
    const w: Worker = { child, key, identity, sessions: 0, users: new Map(), gone: false, ready: new Promise((r) => (readyResolve = r)) };
    const list = workers.get(key) ?? [];
    list.push(w);
    workers.set(key, list);
    const startTimer = setTimeout(() => readyResolve(false), 15_000);
    child.on('message', (m: FromWorker) => {
      if (m.t === 'ready') {
        clearTimeout(startTimer);
        mlog.info({ worker: child.pid, uid: m.uid, gid: m.gid, spare: spare !== undefined }, 'worker started');
        readyResolve(true);
      } else if (m.t === 'failed') {
        mlog.error({ worker: child.pid, why: m.why }, 'worker could not start');
        readyResolve(false);
      } else if (m.t === 'closed') {
        const c = conns.get(m.id);
        if (c && c.worker === w) {
          if (m.failed) c.end ??= 'session failed';
          sessionEnded(c);
        }
      }
    });
    child.on('error', (e) => mlog.error({ err: e.message }, 'worker process error'));
    child.on('exit', (code, signal) => {
      clearTimeout(startTimer);
      readyResolve(false);
      removeWorker(w);
      let lost = 0;
      for (const c of conns.values()) if (c.worker === w) { c.end ??= 'worker died'; sessionEnded(c); lost++; }
      if (lost || (code !== 0 && code !== null) || signal) {
        mlog.warn({ worker: child.pid, code, signal, sessions: lost, uid: identity?.uid }, 'worker exited; its sessions ended');
      }
      keepSpares(); // room under resident_max_workers again
    });
    const m: ToWorker = { t: 'become', identity, settings, configPath };
    void sendTo(child, m);
    return w;
  };

  const removeWorker = (w: Worker) => {
    w.gone = true;
    if (w.idleTimer) clearTimeout(w.idleTimer);
    const list = workers.get(w.key);
    if (!list) return;
    const i = list.indexOf(w);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) workers.delete(w.key);
  };

  /** The worker for a login of `user` as `key`: the one already serving this user, else one with room,
   *  else a new one (a spare if there is one) while the uid has fewer than resident_workers_per_uid and
   *  all uids together fewer than resident_max_workers; else which limit refuses it. */
  const pickWorker = (key: string, identity: Identity | null, user: string, settings: Settings): Worker | 'worker' | 'workers' => {
    const list = workers.get(key) ?? [];
    const cap = Math.max(1, settings.resident_worker_sessions);
    const room = list.filter((w) => !w.gone && w.sessions < cap);
    const same = room.find((w) => w.users.has(user));
    if (same) return same;
    if (room.length) return room.reduce((a, b) => (b.sessions < a.sessions ? b : a));
    if (list.length >= Math.max(1, settings.resident_workers_per_uid)) return 'worker';
    if (settings.resident_max_workers > 0 && boundWorkers() >= settings.resident_max_workers) return 'workers';
    return startWorker(key, identity, settings);
  };

  const sessionEnded = (c: Conn) => {
    // A TLS connection: the pre-login process relays it and may not see the worker's end (it stops
    // reading the relay while the client does not read): tell it.
    if (c.preloginHolds && c.worker) void sendTo(c.prelogin.child, { t: 'session-ended', id: c.id } satisfies ToPrelogin);
    const w = c.worker;
    if (w) {
      w.sessions = Math.max(0, w.sessions - 1);
      if (c.user) {
        const n = (w.users.get(c.user) ?? 1) - 1;
        if (n > 0) w.users.set(c.user, n); else w.users.delete(c.user);
      }
      c.worker = undefined;
      if (w.sessions === 0 && !w.gone) armIdle(w);
    }
    if (c.user) { counts.removeUser(c.user); c.user = undefined; }
    if (!c.preloginHolds) dropConn(c);
  };

  const armIdle = (w: Worker) => {
    if (w.idleTimer) clearTimeout(w.idleTimer);
    const secs = Math.max(0, config.current().resident_worker_idle);
    w.idleTimer = setTimeout(() => {
      if (w.sessions > 0 || w.gone) return;
      removeWorker(w);
      void sendTo(w.child, { t: 'exit' } satisfies ToWorker);
    }, secs * 1000);
    w.idleTimer.unref?.();
  };

  const dropConn = (c: Conn) => {
    if (!conns.delete(c.id)) return;
    // Every process let go of it (the session's cleanup is done): what inetd mode's process exit tells.
    mlog.debug({ remote: c.ip, port: c.port, ended: c.end ?? 'closed' }, 'connection ended');
    if (byTuple.get(c.tuple) === c) byTuple.delete(c.tuple);
    counts.removeConnection(c.ip);
    if (c.user) counts.removeUser(c.user);
  };

  // ---- messages from pre-login processes ----
  const onPreloginMessage = (p: Prelogin, m: FromPrelogin, handle: unknown) => {
    switch (m.t) {
      case 'ready':
        p.ready = true;
        for (const [spec, sock] of waitingSocks.splice(0)) onConnection(spec)(sock);
        break;
      case 'log':
        writeForwarded(mlog, m, p.child.pid);
        break;
      case 'released': {
        p.load = Math.max(0, p.load - 1);
        const c = conns.get(m.id);
        if (c && c.prelogin === p) {
          c.preloginHolds = false;
          if (m.failed) c.end ??= 'session failed';
          if (!c.worker) dropConn(c);
        }
        break;
      }
      case 'auth': {
        const c = byTuple.get(tupleOf(m.client.remoteAddress, m.client.remotePort, m.client.localAddress, m.client.localPort));
        const settings = config.current();
        const l = mlog.child({ remote: m.client.remoteAddress, local: m.client.localAddress });
        if (!c || c.prelogin !== p || m.program !== program) {
          void sendTo(p.child, { t: 'auth-reply', req: m.req, result: { ok: false, temporary: true, message: 'unknown connection' } } satisfies ToPrelogin);
          break;
        }
        void auth.check(ctxFor(settings, l), m.client, m.request).then((r) => {
          if (r.ok) c.authed = { user: r.user, auth: r.auth, identity: r.identity, key: r.key };
          return sendTo(p.child, { t: 'auth-reply', req: m.req, result: r.reply } satisfies ToPrelogin);
        });
        break;
      }
      case 'handoff':
        void route(p, m.id, m.handoff, handle);
        break;
    }
  };

  /** A logged-in connection from a pre-login process: on to the worker of its uid, or a clear refusal. */
  const route = async (p: Prelogin, id: number, h: Handoff, handle: unknown) => {
    const c = conns.get(id);
    const refuse = (why: Refusal, extra: object = {}) => {
      mlog.warn({ ...extra, remote: c?.ip, user: c?.authed?.user, reason: why }, 'login refused by a resident-mode limit');
      const s = socketFromHandle(handle, true);
      s.on('error', () => s.destroy());
      s.end(refusalText(program, why, h.tag));
    };
    // The pre-login process is not trusted with who logged in: only what our auth service accepted for
    // this connection counts.
    if (!c || c.prelogin !== p || !c.authed) { mlog.error({ id }, 'hand-off of a connection that did not log in here'); closeHandle(handle); return; }
    const { user, auth: authResult, identity, key } = c.authed;
    c.authed = undefined;
    const settings = config.current();
    const over = counts.refuseLogin(settings, user);
    if (over) return refuse(over, { limit: settings.resident_max_connections_per_user });
    const w = pickWorker(key, identity, user, settings);
    if (w === 'worker') return refuse('worker', { limit: settings.resident_worker_sessions, workers: settings.resident_workers_per_uid });
    if (w === 'workers') return refuse('workers', { limit: settings.resident_max_workers });
    // Counted now, before the worker is ready, so that concurrent logins see it.
    w.sessions++;
    w.users.set(user, (w.users.get(user) ?? 0) + 1);
    if (w.idleTimer) { clearTimeout(w.idleTimer); w.idleTimer = undefined; }
    c.worker = w;
    c.user = user;
    counts.addUser(user);
    if (!(await w.ready) || w.gone) {
      sessionEnded(c);
      return refuse('unavailable', { why: 'worker not available' });
    }
    const msg: ToWorker = { t: 'session', id, handoff: { ...h, auth: { ...h.auth, grant: authResult } }, settings, configPath };
    const sent = await sendTo(w.child, msg, handle);
    closeHandle(handle); // the worker holds its own descriptor now
    if (!sent) { mlog.error({ user }, 'could not pass the connection to its worker'); sessionEnded(c); }
  };

  // ---- TLS certificate and key, read here for the pre-login processes (re-read when they change) ----
  let pemCache: { stamp: string; pem: { cert: string; key: string } } | undefined;
  const tlsPem = (s: Settings): { cert: string; key: string } | undefined => {
    if (!s.tls_cert || !s.tls_key) return undefined;
    try {
      const st = (f: string) => { const x = statSync(f); return `${f}:${x.ino}:${x.size}:${x.mtimeMs}`; };
      const stamp = `${st(s.tls_cert)}|${st(s.tls_key)}`;
      if (pemCache?.stamp !== stamp) {
        pemCache = { stamp, pem: { cert: readFileSync(s.tls_cert, 'latin1'), key: readFileSync(s.tls_key, 'latin1') } };
      }
      return pemCache.pem;
    } catch (e) {
      mlog.error({ err: (e as Error).message }, 'cannot read tls_cert / tls_key');
      return undefined;
    }
  };

  // ---- listening ----
  const waitingSocks: [ListenSpec, Socket][] = [];
  const onConnection = (spec: ListenSpec) => (sock: Socket) => {
    trim.activity();
    const settings = config.current();
    const ip = plainAddress(sock.remoteAddress) ?? UNKNOWN_ADDRESS;
    sock.on('error', () => sock.destroy());
    const refused = shuttingDown ? 'unavailable' : counts.refuseConnection(settings, ip);
    if (refused) {
      mlog.warn({ remote: ip, reason: refused, connections: counts.total }, 'connection refused by a resident-mode limit');
      if (spec.tls) sock.destroy(); // no TLS here to say it in: the client sees the connection close
      else sock.end(refusalText(program, refused));
      return;
    }
    const p = pickPrelogin();
    if (!p) {
      // Starting up, or every pre-login process is being replaced: wait (briefly) for one.
      if (prelogins.some((x) => !x.stopping) && waitingSocks.length < 1000) {
        waitingSocks.push([spec, sock]);
        return;
      }
      mlog.error({ remote: ip }, 'no pre-login process ready');
      if (spec.tls) sock.destroy(); else sock.end(refusalText(program, 'unavailable'));
      return;
    }
    const id = nextId++;
    const tuple = tupleOf(ip, sock.remotePort, plainAddress(sock.localAddress) ?? UNKNOWN_ADDRESS, sock.localPort);
    const c: Conn = { id, ip, tuple, port: sock.remotePort ?? 0, prelogin: p, preloginHolds: true };
    conns.set(id, c);
    byTuple.set(tuple, c);
    counts.addConnection(ip);
    p.load++;
    const pem = tlsPem(settings) ?? null;
    const m: ToPrelogin = { t: 'conn', id, configPath, tls: spec.tls };
    if (p.sent?.settings !== settings) m.settings = settings;
    if (p.sent?.pem !== pem) m.pem = pem;
    p.sent = { settings, pem };
    void sendTo(p.child, m, handleOf(sock)).then((ok) => {
      sock.destroy(); // ours only: the pre-login process holds its own descriptor
      if (!ok) { p.load = Math.max(0, p.load - 1); p.sent = undefined; c.preloginHolds = false; dropConn(c); }
    });
  };

  const servers: Server[] = [];
  const addresses: { name: string; port: number }[] = [];
  for (const spec of o.listen) {
    const server = createServer({ pauseOnConnect: true }, onConnection(spec));
    server.on('error', (e) => { mlog.error({ err: e.message, listener: spec.name }, 'listening socket error'); });
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      if (spec.fd !== undefined) server.listen({ fd: spec.fd }, () => res());
      else server.listen(spec.port ?? 0, spec.host ?? '0.0.0.0', () => res());
    });
    const a = server.address();
    addresses.push({ name: spec.name, port: typeof a === 'object' && a ? a.port : 0 });
    servers.push(server);
  }

  keepPrelogins();
  keepSpares();
  trim.activity(); // what starting up allocated
  mlog.info({ config: configPath, listen: addresses, prelogin: config.current().resident_prelogin_processes, root: isRoot }, 'resident mode: listening');
  if (!isRoot) mlog.warn('resident mode not started as root: pre-login processes and workers run as this uid');

  process.on('SIGHUP', () => {
    config.current(true);
    mlog.info('SIGHUP: configuration reloaded');
    // New pre-login processes pick up a changed user; the old ones finish their connections.
    for (const p of prelogins.filter((x) => !x.stopping)) stopPrelogin(p);
    keepPrelogins();
    keepSpares();
  });
  const shutdown = () => {
    if (shuttingDown) return;
    shuttingDown = true;
    mlog.info('stopping: no new connections');
    for (const s of servers) s.close();
    const children = [...prelogins.map((p) => p.child), ...[...workers.values()].flat().map((w) => w.child), ...spares.splice(0)];
    for (const c of children) c.kill('SIGTERM');
    // Gone as soon as every child is (at most half a second): a test suite or a restart waits for us.
    const gone = children.map((c) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r))));
    void Promise.all([...gone, auth.close().catch(() => undefined)]).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 500).unref();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  o.onListening?.(addresses);
  await new Promise<never>(() => {});
}
