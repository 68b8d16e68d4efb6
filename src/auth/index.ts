// Authentication entry points: authenticate() for logins, lookupUser() for admin tools (no password).
// Both resolve the login name (names.ts), apply valid_users, then ask unix_user or the external module.

import { isAbsolute, join, normalize, relative } from 'node:path';
import type { ServerContext } from '../session/context.js';
import type { AuthOutcome, AuthUser, ClientInfo } from './types.js';
import type { ExternalModule, ModuleReply } from './external.js';
import { domainMap, resolveLoginName, withCanonicalName, type ResolvedName } from './names.js';
import { checkUnixPassword, findAccount } from './unix.js';
import { nameAllowed, normaliseIp } from './wildcard.js';
import type { PasswdEntry } from './passwd.js';
import { servicesOf } from '../session/services.js';

const failed = (reason: string): AuthOutcome => ({ ok: false, temporary: false, reason });
const unavailable = (reason: string): AuthOutcome => ({ ok: false, temporary: true, reason });

/** The external module command for this program: imapd_authent_process wins for imapd. */
export function moduleCommand(ctx: ServerContext): string | undefined {
  const s = ctx.settings;
  return (ctx.program === 'imapd' ? s.imapd_authent_process : undefined) ?? s.authent_process;
}

function externalModule(ctx: ServerContext): ExternalModule | undefined {
  const cmd = moduleCommand(ctx);
  if (!cmd) return undefined;
  // One child per process serving sessions (session/services.ts), shared by its sessions.
  return servicesOf(ctx).authModule(cmd, ctx.settings.authent_timeout, ctx.log);
}

/** Send `exit` to the external module of `ctx`'s process (if one was started) and reap it. */
export async function closeAuth(ctx: ServerContext): Promise<void> {
  await servicesOf(ctx).closeAuth();
}

function quotaFrom(info: Record<string, string>): number | undefined {
  const q = info.quota;
  return q !== undefined && /^\d{1,15}$/.test(q.trim()) ? Number(q) : undefined;
}

function baseUser(n: ResolvedName): AuthUser {
  return {
    login: n.login, user: n.user, dropName: n.dropName, info: {},
    ...(n.domain ? { domain: n.domain } : {}),
    ...(n.prefix ? { prefix: n.prefix } : {}),
    ...(n.dropDir ? { dropDir: n.dropDir } : {}),
  };
}

function fromPasswd(n: ResolvedName, e: PasswdEntry): AuthUser {
  return { ...baseUser(n), uid: e.uid, gid: e.gid, ...(e.home ? { home: e.home } : {}) };
}

/** Module replies give a drop path: absolute → used as is; `-`, empty, or the name we sent → the server
 *  computes it (drop_path + hash_spool + drop name); other relative paths → under the drop directory. */
function fromModule(ctx: ServerContext, resolved: ResolvedName, r: Extract<ModuleReply, { kind: 'ok' }>): AuthOutcome {
  const canonical = withCanonicalName(ctx.settings, resolved, r.name);
  if (!canonical.ok) return { ok: false, temporary: false, reason: canonical.reason, ...(canonical.tell ? { tell: true } : {}) };
  const n = canonical.name;
  const user = baseUser(n);
  user.info = r.info;
  const q = quotaFrom(r.info);
  if (q !== undefined) user.quotaKb = q;
  if (r.uid > 0) user.uid = r.uid;
  const gid = r.info.gid;
  if (gid !== undefined && /^\d+$/.test(gid)) user.gid = Number(gid);
  const dp = r.dropPath;
  if (dp && dp !== '-' && dp.toLowerCase() !== n.moduleName.toLowerCase() && dp.toLowerCase() !== n.login.toLowerCase()) {
    if (isAbsolute(dp)) {
      user.dropPath = normalize(dp);
    } else {
      const base = n.dropDir ?? ctx.settings.drop_path;
      const full = join(base, dp);
      const rel = relative(base, full);
      if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return unavailable(`auth module gave a drop path outside the spool: ${dp}`);
      user.dropPath = full;
    }
  }
  return { ok: true, user };
}

function resolveName(ctx: ServerContext, name: string, client?: ClientInfo): { ok: true; n: ResolvedName } | { ok: false; out: AuthOutcome } {
  const r = resolveLoginName(ctx.settings, name, client?.localAddress ?? '');
  if (!r.ok) return { ok: false, out: { ok: false, temporary: false, reason: r.reason, ...(r.tell ? { tell: true } : {}) } };
  const n = r.name;
  const names = [n.login, n.user, n.accountName, ...(n.domain ? [`${n.user}@${n.domain}`] : [])];
  if (!nameAllowed(ctx.settings.valid_users, names)) return { ok: false, out: failed('not in valid_users') };
  return { ok: true, n };
}

function passwdFileFor(ctx: ServerContext, n: ResolvedName): string | undefined {
  return n.domain ? domainMap(ctx.settings.vdomain_passwd).get(n.domain) : undefined;
}

/** Unix account name: vdomain users of a vdomain_passwd file are looked up bare, others prefixed. */
function unixAccount(ctx: ServerContext, n: ResolvedName): { account: string; passwdFile?: string } {
  const file = passwdFileFor(ctx, n);
  return file ? { account: n.user, passwdFile: file } : { account: n.accountName };
}

export async function authenticate(ctx: ServerContext, client: ClientInfo, name: string, password: string): Promise<AuthOutcome> {
  const r = resolveName(ctx, name, client);
  if (!r.ok) return r.out;
  const n = r.n;
  const pass = ctx.settings.lowercase_password ? password.toLowerCase() : password;
  if (pass === '' || pass.length > 4096 || pass.includes('\0')) return failed('empty, overlong or invalid password');
  const method = ctx.settings.authent_method;
  if (method === 'external') {
    if (/[\r\n]/.test(pass)) return failed('invalid password');
    const mod = externalModule(ctx);
    if (!mod) return unavailable('authent_method external but no authent_process set');
    const reply = await mod.request(`check ${n.moduleName} ${pass} ${normaliseIp(client.remoteAddress)}`, `check ${n.moduleName}`);
    if (reply.kind === 'ok') return fromModule(ctx, n, reply);
    if (reply.kind === 'err') return failed(`module: ${reply.reason}`);
    return unavailable(`module: ${reply.reason}`);
  }
  if (method === 'unix_user') {
    const { account, passwdFile } = unixAccount(ctx, n);
    const res = await checkUnixPassword({
      account, password: pass, pamService: ctx.settings.pam_service ?? 'dmail',
      remoteAddress: normaliseIp(client.remoteAddress), log: ctx.log,
      ...(passwdFile ? { passwdFile } : {}),
    });
    if (!res.ok) return { ok: false, temporary: res.temporary, reason: res.reason };
    return { ok: true, user: fromPasswd(n, res.entry) };
  }
  return unavailable(`authent_method ${method} is not supported on this system`);
}

/** Resolve a user without a password (dmailctl whois / path / quota, APOP). */
export async function lookupUser(ctx: ServerContext, name: string, client?: ClientInfo): Promise<AuthOutcome> {
  const r = resolveName(ctx, name, client);
  if (!r.ok) return r.out;
  const n = r.n;
  if (ctx.settings.authent_method === 'external') {
    const mod = externalModule(ctx);
    if (!mod) return unavailable('authent_method external but no authent_process set');
    const reply = await mod.request(`lookup ${n.moduleName}`, `lookup ${n.moduleName}`);
    if (reply.kind === 'ok') return fromModule(ctx, n, reply);
    if (reply.kind === 'err') return failed(`module: ${reply.reason}`);
    return unavailable(`module: ${reply.reason}`);
  }
  if (ctx.settings.authent_method === 'unix_user') {
    const { account, passwdFile } = unixAccount(ctx, n);
    let e: PasswdEntry | undefined;
    try {
      e = await findAccount(account, passwdFile);
    } catch (err) {
      return unavailable(`user lookup failed: ${(err as Error).message}`);
    }
    return e ? { ok: true, user: fromPasswd(n, e) } : failed('no such user');
  }
  return unavailable(`authent_method ${ctx.settings.authent_method} is not supported on this system`);
}
