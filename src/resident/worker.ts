// A worker of the resident mode: forked by the master (as root when the master is root), it becomes ONE
// identity — initgroups, setgid, setuid, verified (session/become-user.ts) — before it touches any user
// file, then serves every logged-in connection the master gives it for that uid through resumeConnection.
// It never holds two uids: a different uid is a different worker. The master caps its sessions and tells
// it to exit when it has been idle for resident_worker_idle seconds; a crash ends only its own sessions.

import { hostname } from 'node:os';
import type { Logger } from '../log/types.js';
import type { ServerContext } from '../session/context.js';
import { createSessionHost, resumeConnection, type SessionHost } from '../session/host.js';
import { switchTo } from '../session/become-user.js';
import { StreamConnection } from '../transport/stream-connection.js';
import { tlsSettingsOf } from '../transport/tls.js';
import { processCaches } from '../store/process-cache.js';
import { closeHandle, socketFromHandle } from './handles.js';
import { sendTo, type FromWorker, type ToWorker } from './ipc.js';
import { gcFunction, IdleTrimmer } from './trim.js';

export async function runWorker(program: 'imapd' | 'dpop'): Promise<void> {
  let host: SessionHost | undefined;
  let log: Logger | undefined;
  let exiting = false;
  let live = 0;
  const queued: [Extract<ToWorker, { t: 'session' }>, unknown][] = [];
  const trim = new IdleTrimmer();
  // Shown by ps: a spare (forked ahead of need, no uid yet) until the master binds it.
  process.title = `${program} worker (spare)`;
  const maybeExit = () => {
    if (!exiting || live > 0) return;
    void (host?.close() ?? Promise.resolve()).finally(() => process.exit(0));
  };

  const serve = (m: Extract<ToWorker, { t: 'session' }>, handle: unknown) => {
    if (!host || !log) { queued.push([m, handle]); return; }
    if (exiting) { closeHandle(handle); return; }
    live++;
    trim.activity();
    const h = m.handoff;
    const settings = m.settings;
    // What this worker may keep for mailboxes no session has open (dmail.conf is read per login).
    processCaches.setBudget(settings.resident_cache_size);
    const sock = socketFromHandle(handle);
    sock.setNoDelay(true); // a TCP client socket (no-op on the Unix pair of a TLS relay)
    const conn = new StreamConnection({
      input: sock, output: sock,
      remoteAddress: h.remote.address, remotePort: h.remote.port,
      localAddress: h.local.address, localPort: h.local.port,
      maxOutput: settings.max_output_buffer, tls: tlsSettingsOf(settings),
    });
    // TLS stays in the pre-login process; this is the cleartext end of its pair.
    if (h.secure) conn.secure = true;
    const ctx: ServerContext = {
      program, settings, hostname: settings.dpop_host ?? hostname(), configPath: m.configPath,
      log: log.child({ remote: h.remote.address, local: h.local.address }),
    };
    let failed = false;
    void resumeConnection(host, conn, ctx, h)
      .catch((e: unknown) => { failed = true; ctx.log.error({ err: { message: (e as Error)?.message, stack: (e as Error)?.stack } }, 'session failed'); })
      .then(() => conn.end())
      .catch(() => undefined)
      .finally(() => {
        live--;
        trim.activity();
        void sendTo(process, { t: 'closed', id: m.id, ...(failed ? { failed } : {}) } satisfies FromWorker);
        maybeExit();
      });
  };

  process.on('message', (m: ToWorker, handle: unknown) => {
    if (m.t === 'become') {
      void become(program, m).then((r) => {
        if (!r.ok) {
          void sendTo(process, { t: 'failed', why: r.why } satisfies FromWorker).finally(() => process.exit(1));
          return;
        }
        log = r.log;
        process.title = `${program} worker`;
        // This process runs as one uid for good: a grant for another identity is refused by openSession.
        host = createSessionHost({ program, log, identity: { kind: 'fixed', uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 } });
        trim.activity(); // what starting up allocated
        void sendTo(process, { t: 'ready', uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1 } satisfies FromWorker);
        for (const [qm, qh] of queued.splice(0)) serve(qm, qh);
      });
    } else if (m.t === 'session') {
      serve(m, handle);
    } else if (m.t === 'exit') {
      exiting = true;
      maybeExit();
    }
  });
  // The master is gone (restart, crash): finish the sessions we have, then go.
  process.on('disconnect', () => { exiting = true; maybeExit(); });
  // What this worker holds, for an administrator (and the memory test): SIGUSR2 runs one full GC and logs
  // the figures that remain.
  process.on('SIGUSR2', () => {
    gcFunction()?.();
    const m = process.memoryUsage();
    log?.info({ sessions: live, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, cache: processCaches.stats() }, 'worker memory');
  });
}

async function become(program: 'imapd' | 'dpop', m: Extract<ToWorker, { t: 'become' }>): Promise<{ ok: true; log: Logger } | { ok: false; why: string }> {
  // The log file is opened with the master's privileges, before the switch (as inetd-mode sessions do).
  const { createLogger } = await import('../log/logger.js');
  const log = createLogger(m.settings, program, { protocol: program === 'imapd' ? 'imap' : 'pop3', mode: 'worker' });
  if (m.identity) {
    try {
      await switchTo(m.identity, log);
    } catch (e) {
      log.error({ err: (e as Error).message, uid: m.identity.uid }, 'worker could not switch to the user identity');
      return { ok: false, why: (e as Error).message };
    }
  }
  log.info({ uid: process.getuid?.(), gid: process.getgid?.() }, 'worker ready');
  return { ok: true, log };
}
