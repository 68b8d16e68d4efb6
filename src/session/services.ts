// What a session needs from the process that serves it (session/host.ts owns one per process): the
// external auth module child, who the session runs as, whether the process may still serve logins, and
// the in-process mailbox bus. Session code reaches it through ServerContext.host, never through module
// globals, so one process can serve many sessions (resident mode) as well as one (inetd mode).

import type { Logger } from '../log/types.js';
import type { ClientInfo } from '../auth/types.js';
import type { GrantResult } from './login.js';
import { ExternalModule } from '../auth/external.js';
import { MailboxBus } from '../store/bus.js';

/** Who the sessions of a process run as after login. */
export type IdentityMode =
  /** inetd mode (DMail's contract): the process starts as root (or the server's user) and the session
   *  becomes the user after login (imapd_become_user). One session per process. */
  | { kind: 'switch-per-login' }
  /** A worker already running as `uid`/`gid` (switched once, before any user file): a login planned
   *  to run as another identity is refused; no switch ever happens in the process. */
  | { kind: 'fixed'; uid: number; gid: number }
  /** A pre-login process (never opens mail files): plans the identity as the process that will serve
   *  the user would, i.e. as `asUid` (the master's uid: 0 → switch to the user's). */
  | { kind: 'plan-only'; asUid: number };

export interface HostServices {
  readonly identity: IdentityMode;
  /** The one external auth module child of this process for `command` (shared by its sessions:
   *  requests are queued, a dead child is restarted on the next request). */
  authModule(command: string, timeoutSec: number, log: Logger): ExternalModule;
  /** Send `exit` to the auth module child and reap it (before a uid switch; at host close). */
  closeAuth(): Promise<void>;
  /** Set when an identity switch failed half way: this process must not serve another login. */
  poisoned: boolean;
  /** In-process change notification among this process's sessions (store/bus.ts). */
  readonly bus: MailboxBus;
  /** 0 for the first session of the process, then 1, 2, ... (names its session record). */
  nextSessionSeq(): number;
  /** Set in a process that must not check credentials itself (a resident-mode pre-login process runs
   *  unprivileged: no /etc/shadow, PAM, throttle or forward records): a login that asks only for a
   *  grant is checked by this function instead (src/resident: the master's auth service). */
  remoteLogin?: RemoteLogin;
}

/** What a remote login check is asked. */
export type LoginRequest =
  | { kind: 'password'; name: string; password: string }
  | { kind: 'apop'; name: string; timestamp: string; digest: string };

export type RemoteLogin = (client: ClientInfo, request: LoginRequest) => Promise<GrantResult>;

export class ProcessServices implements HostServices {
  poisoned = false;
  remoteLogin?: RemoteLogin;
  readonly bus = new MailboxBus();
  private module: { key: string; m: ExternalModule } | undefined;
  private seq = 0;

  nextSessionSeq(): number {
    return this.seq++;
  }

  constructor(readonly identity: IdentityMode) {}

  authModule(command: string, timeoutSec: number, log: Logger): ExternalModule {
    const key = `${timeoutSec}\0${command}`;
    const cur = this.module;
    if (cur && cur.key === key) return cur.m;
    // dmail.conf changed the module (it is re-read per login): the old child finishes its queue, then goes.
    if (cur) void cur.m.close();
    const m = new ExternalModule(command, timeoutSec, log);
    this.module = { key, m };
    return m;
  }

  async closeAuth(): Promise<void> {
    const cur = this.module;
    this.module = undefined;
    await cur?.m.close();
  }
}

/** Services for a context that was built without a host (dmailctl commands, unit tests): private to
 *  that context object, created on first use, with the inetd-mode identity rule. */
const standalone = new WeakMap<object, HostServices>();

export function servicesOf(ctx: { host?: HostServices }): HostServices {
  if (ctx.host) return ctx.host;
  let s = standalone.get(ctx);
  if (!s) standalone.set(ctx, (s = new ProcessServices({ kind: 'switch-per-login' })));
  return s;
}
