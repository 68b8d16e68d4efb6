// The auth service of the resident mode, run by the master: pre-login processes are unprivileged and
// cannot check a password that needs root (/etc/shadow, PAM), write the per-address failure records or
// POP-before-SMTP records under work_path, or prepare the directories a user's worker needs. They ask
// here over IPC; this runs the one login pipeline (session/login.ts) up to the grant — nothing of the
// user's mail is opened — and then does, as root, what the worker of that uid no longer can.

import type { Settings } from '../config/settings.js';
import type { Logger } from '../log/types.js';
import type { ServerContext } from '../session/context.js';
import type { ClientInfo } from '../auth/types.js';
import { login, loginApop, type GrantResult, type LoginGrant } from '../session/login.js';
import { ProcessServices } from '../session/services.js';
import { prepareSessionDir } from '../log/sessions.js';
import { resolveUserPaths } from '../store/paths.js';
import { prepareIndexDirAsRoot } from '../store/trust.js';
import type { AuthRequest, ClientMsgInfo } from './ipc.js';

export interface Identity { uid: number; gid: number; name?: string }

export type AuthCheck =
  | { ok: true; user: string; auth: LoginGrant; identity: Identity | null; key: string; reply: GrantResult }
  | { ok: false; reply: GrantResult };

export class AuthService {
  /** The master's own services: one auth module child shared by every login, identity planned as the
   *  master's uid would switch (root: to the user's). */
  private readonly services = new ProcessServices({ kind: 'plan-only', asUid: process.geteuid?.() ?? 0 });

  constructor(readonly program: 'imapd' | 'dpop') {}

  async check(ctx: ServerContext, c: ClientMsgInfo, request: AuthRequest): Promise<AuthCheck> {
    const withHost: ServerContext = { ...ctx, host: this.services };
    const client: ClientInfo = { ...c };
    let reply: GrantResult;
    try {
      reply = request.kind === 'password'
        ? await login(withHost, client, request.name, request.password, { grantOnly: true })
        : await loginApop(withHost, client, request.name, request.timestamp, request.digest, { grantOnly: true });
    } catch (e) {
      ctx.log.error({ err: (e as Error).message }, 'auth service failed');
      return { ok: false, reply: { ok: false, temporary: true, message: 'authentication temporarily unavailable' } };
    }
    if (reply.ok !== 'granted') {
      // A full session is never opened here; only a grant or a failure may come back.
      if (reply.ok === true) { await reply.session.close(); return { ok: false, reply: { ok: false, temporary: true, message: 'authentication temporarily unavailable' } }; }
      return { ok: false, reply };
    }
    const grant = reply.grant;
    const identity = grant.runAs;
    await this.prepare(ctx.settings, grant, ctx.log);
    const u = grant.user;
    return {
      ok: true, user: u.domain ? `${u.user}@${u.domain}` : u.user, auth: grant, identity,
      key: identity ? `${identity.uid}:${identity.gid}` : 'self', reply,
    };
  }

  /** What root prepares before a worker that already runs as the user serves it: the session records'
   *  directory for that uid and, with a shared index_path, the user's index directory. */
  private async prepare(s: Settings, grant: LoginGrant, log: Logger): Promise<void> {
    const euid = process.geteuid?.() ?? 0;
    const owner = grant.runAs ?? { uid: euid, gid: process.getegid?.() ?? 0 };
    prepareSessionDir(s.work_path, owner);
    if (euid !== 0 || !grant.runAs || !s.index_path) return;
    try {
      const paths = await resolveUserPaths(s, grant.user);
      if (paths.kind !== 'mbox') return;
      const problem = prepareIndexDirAsRoot(s.index_path, paths.indexDir, grant.runAs, log);
      if (problem) log.error({ problem }, 'cannot prepare the shared index directory');
    } catch (e) {
      log.error({ err: (e as Error).message }, 'cannot resolve the user\'s paths');
    }
  }

  close(): Promise<void> { return this.services.closeAuth(); }
}
