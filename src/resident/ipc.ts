// The messages the resident-mode processes exchange over their Node IPC channels (plain JSON; a socket
// travels beside a message as its handle, SCM_RIGHTS underneath). One place for the shapes, so master,
// pre-login and worker cannot drift apart.
//
//   master ──conn+fd──▶ pre-login ──auth──▶ master (auth service, root) ──auth-reply──▶ pre-login
//   pre-login ──handoff+fd──▶ master ──session+fd──▶ worker(uid) ──closed──▶ master

import type { ChildProcess } from 'node:child_process';
import type { Settings } from '../config/settings.js';
import type { Handoff } from '../session/host.js';
import type { LoginRequest } from '../session/services.js';

export type Role = 'prelogin' | 'worker';
/** Environment variable naming the role of a process forked by the master. */
export const ROLE_ENV = 'DMAIL_RESIDENT_ROLE';

export interface Address { address: string; port: number }

/** What a pre-login process needs to serve one connection: the settings the master read for it (the
 *  pre-login process itself may not be able to read dmail.conf) and whether TLS starts at once. The
 *  settings and PEM travel only when they changed since the last `conn` to this process (the channel
 *  keeps order): a connection then costs a message of ~100 bytes, not the whole configuration and key. */
export interface ConnMsg {
  t: 'conn'; id: number; configPath: string; tls: boolean;
  /** Absent: the settings of the previous `conn`. */
  settings?: Settings;
  /** tls_cert and tls_key read by the master (the pre-login process may not read the key file).
   *  Absent: as for the previous `conn`; null: none. */
  pem?: Pem | null;
}

export interface Pem { cert: string; key: string }

/** A login check the pre-login process asks of the master's auth service. */
export type AuthRequest = LoginRequest;

export interface ClientMsgInfo {
  remoteAddress: string; remotePort?: number; localAddress: string; localPort?: number; tls: boolean;
}

export type ToPrelogin =
  | ConnMsg
  | { t: 'auth-reply'; req: number; result: unknown }
  /** The worker's session over this connection's TLS relay ended (or the worker died): let go of it. */
  | { t: 'session-ended'; id: number }
  | { t: 'stop' };

export type FromPrelogin =
  | { t: 'ready' }
  | { t: 'log'; level: LogLevel; bindings: Record<string, unknown>; obj: unknown; msg?: string }
  /** The connection is named by its addresses (the session code knows no connection ids). */
  | { t: 'auth'; req: number; program: 'imapd' | 'dpop'; client: ClientMsgInfo; request: AuthRequest }
  /** Sent with the connection's handle (the client socket, or for TLS the cleartext end of a pair). */
  | { t: 'handoff'; id: number; handoff: Handoff }
  /** The pre-login process holds nothing of this connection any more (closed, or its TLS proxy ended). */
  | { t: 'released'; id: number; failed?: boolean };

export type ToWorker =
  | { t: 'become'; identity: { uid: number; gid: number; name?: string } | null; settings: Settings; configPath: string }
  | { t: 'session'; id: number; handoff: Handoff; settings: Settings; configPath: string }
  | { t: 'exit' };

export type FromWorker =
  | { t: 'ready'; uid: number; gid: number }
  | { t: 'failed'; why: string }
  /** The session ended (failed: it ended by an error, as a per-connection process's exit status 1 would say). */
  | { t: 'closed'; id: number; failed?: boolean };

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** Send `msg` with an optional raw handle; resolves true once it left (the handle may then be closed). */
export function sendTo(child: ChildProcess | NodeJS.Process, msg: object, handle?: unknown): Promise<boolean> {
  return new Promise((resolve) => {
    const send = child.send as ((m: object, h: unknown, o: object, cb: (e: Error | null) => void) => boolean) | undefined;
    if (!send || !child.connected) return resolve(false);
    try {
      send.call(child, msg, handle, {}, (e) => resolve(!e));
    } catch {
      resolve(false);
    }
  });
}
