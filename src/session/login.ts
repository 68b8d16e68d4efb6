// The login pipeline both protocol servers call (imapd LOGIN/AUTHENTICATE, dpop PASS/APOP/AUTH):
// client IP allow-list → name resolution + valid_users → authentication → (on failure: the same answer
// and the same minimum time for every cause) → POP-before-SMTP record and session record (still with the
// server's privileges: both live under work_path) → switch to the user → open the store → bulletins →
// quota. The protocol layer counts failures per connection; we provide the delay.

import type { AuthOutcome, AuthUser, ClientInfo } from '../auth/types.js';
import type { Logger } from '../log/types.js';
import type { MailStore, UserPaths } from '../store/types.js';
import type { ServerContext } from './context.js';
import { authenticate, lookupUser } from '../auth/index.js';
import { ipAllowed, nameAllowed, normaliseIp } from '../auth/wildcard.js';
import { prepareSessionDir, writeSessionRecord, type SessionRecord } from '../log/sessions.js';
import { openUserStore } from '../store/open.js';
import { resolveUserPaths } from '../store/paths.js';
import { prepareIndexDirAsRoot, rootSessionProblem } from '../store/trust.js';
import { apopConfigured, apopDigestMatches, apopSecret } from './apop.js';
import { planIdentity, switchTo, type Identity } from './become-user.js';
import { servicesOf } from './services.js';
import { deliverBulletins } from './bulletins.js';
import { recordForward } from './forward.js';
import { quotaFor } from './quota.js';
import { clearFailures, loginDelay, recordFailure } from './throttle.js';

export interface UserSession {
  user: AuthUser;
  store: MailStore;
  paths: UserPaths;
  /** Quota in kbytes; undefined = no quota. */
  quotaKb?: number;
  /** The connection's logger with the user bound. */
  log: Logger;
  /** The client sent a command; `mailbox` is what the session works on now (null: none). For
   *  `dmailctl who`; cheap (the record is rewritten only when the mailbox changes, or now and then). */
  activity(mailbox: string | null): void;
  /** End of session: removes the session record (and, in a process that switches to the user, sends
   *  `exit` to the auth module). Idempotent. */
  close(): Promise<void>;
}

/** What a successful authentication grants, decided before any of the user's files is touched. Plain
 *  JSON: a pre-login process hands it over (session/host.ts Handoff) to the process that serves the
 *  user, which opens the session with openSession(). */
export interface LoginGrant {
  user: AuthUser;
  /** How the client authenticated ('password', 'apop'), for the log. */
  method: string;
  /** The identity the session must run as; null: the identity of the process serving it. */
  runAs: Identity | null;
}

/** tell: `message` says why the name itself can never log in (IMAP answers it with [CANNOT]). */
export type LoginFailure = { ok: false; temporary: boolean; message: string; tell?: boolean };

export type LoginResult = { ok: true; session: UserSession } | LoginFailure;

/** With { grantOnly: true }: authenticated, nothing opened (the session continues elsewhere). */
export type GrantResult = { ok: 'granted'; grant: LoginGrant } | LoginResult;

export interface LoginOptions {
  /** Stop after authentication and authorisation: return the grant, open nothing (no mail file, no
   *  session record, no identity switch). */
  grantOnly?: boolean;
}

const FAILED = 'authentication failed';
const UNAVAILABLE = 'authentication temporarily unavailable';

/** Logged form of what the client typed as a name: bounded and printable. */
const safeName = (name: string) => name.slice(0, 100).replace(/[^\x20-\x7e]/g, '?');

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

/** Answer a failure no earlier than `started + auth_fail_delay`: every cause (unknown user, wrong
 *  password, refused IP, module error) then takes the same time whenever the check itself is faster
 *  than the delay, and a PAM stack's own delay overlaps ours instead of adding to it. */
async function failAfterDelay(ctx: ServerContext, started: number, temporary: boolean): Promise<LoginFailure> {
  const delayMs = Math.max(0, (ctx.settings.auth_fail_delay ?? 0) * 1000);
  await sleep(started + delayMs - Date.now());
  return { ok: false, temporary, message: temporary ? UNAVAILABLE : FAILED };
}

/** The uid identity planning starts from: the process's own, or, in a pre-login process, the uid of
 *  the process that will serve the user. */
function planningUid(ctx: ServerContext): number {
  const id = servicesOf(ctx).identity;
  return id.kind === 'plan-only' ? id.asUid : process.getuid?.() ?? 0;
}

/** Authorisation after the credentials were checked: failures answered (with the delay), the identity
 *  planned, the per-address record cleared, root-only preparation done, POP-before-SMTP recorded. */
async function authorize(ctx: ServerContext, client: ClientInfo, name: string, started: number, outcome: AuthOutcome, how: string): Promise<LoginFailure | { ok: 'granted'; grant: LoginGrant }> {
  const log = ctx.log;
  if (!outcome.ok) {
    log.info({ login: safeName(name), reason: outcome.reason, temporary: outcome.temporary, method: how }, 'login failed');
    // A temporary failure (module down) is not the client's doing; anything else counts for its address.
    if (!outcome.temporary) recordFailure(ctx.settings, client.remoteAddress, log);
    const answer = await failAfterDelay(ctx, started, outcome.temporary);
    return outcome.tell ? { ok: false, temporary: false, message: outcome.reason, tell: true } : answer;
  }
  const user = outcome.user;
  const s = ctx.settings;
  const services = servicesOf(ctx);
  if (services.poisoned) return failAfterDelay(ctx, started, true);
  let plan;
  try {
    plan = await planIdentity(s, user, planningUid(ctx));
  } catch (e) {
    log.error({ login: safeName(name), err: (e as Error).message }, 'cannot decide the identity to run as');
    return failAfterDelay(ctx, started, true);
  }
  if (plan.kind === 'refuse') {
    log.error({ login: safeName(name), why: plan.why }, 'login refused');
    if (!plan.temporary) recordFailure(s, client.remoteAddress, log);
    return failAfterDelay(ctx, started, plan.temporary);
  }
  clearFailures(s, client.remoteAddress);

  // Root among users' files (issue 13): a session that stays root serves only paths no user can change;
  // a switching one gets its shared index directory prepared by root first. A pre-login process opens
  // no paths: the process that serves the user checks (openSession) and its master prepares.
  const euid = process.geteuid?.() ?? 0;
  const asRoot = euid === 0 && (plan.kind === 'stay' || (plan.kind === 'switch' && plan.to.uid === 0));
  if (services.identity.kind !== 'plan-only' && (asRoot || (euid === 0 && plan.kind === 'switch' && s.index_path))) {
    let why: string | undefined;
    try {
      const paths = await resolveUserPaths(s, user);
      if (asRoot) {
        log.warn({ login: safeName(name), why: plan.kind === 'stay' ? plan.why : 'root account' }, 'this session runs as root (imapd_become_user false or a root account)');
        why = rootSessionProblem(paths);
      } else if (plan.kind === 'switch' && paths.kind === 'mbox') {
        const problem = prepareIndexDirAsRoot(s.index_path!, paths.indexDir, plan.to, log);
        if (problem) log.error({ problem }, 'cannot prepare the shared index directory');
      }
    } catch (e) {
      why = (e as Error).message;
    }
    if (why) {
      log.error({ login: safeName(name), why }, 'login refused: a session running as root must not use paths that users can change');
      return failAfterDelay(ctx, started, true);
    }
  }

  if (s.forward_user && !recordForward(s.work_path, client.remoteAddress, user.user, ctx.program)) {
    log.error({ ip: client.remoteAddress }, 'could not write the forward_user record');
  }
  return { ok: 'granted', grant: { user, method: how, runAs: plan.kind === 'switch' ? plan.to : null } };
}

/**
 * Open the session a grant allows, in the process that serves the user: identity (switch to the user
 * when this process does that per login; check it when it already runs as one uid), session record,
 * mail store, bulletins, quota. A failure here is temporary (the credentials were good).
 */
export async function openSession(ctx: ServerContext, client: ClientInfo, grant: LoginGrant): Promise<LoginResult> {
  const log = ctx.log;
  const s = ctx.settings;
  const services = servicesOf(ctx);
  const { user, runAs } = grant;
  const unavailable = { ok: false as const, temporary: true, message: UNAVAILABLE };
  if (services.poisoned) return unavailable;
  const identity = services.identity;
  if (identity.kind === 'plan-only') {
    log.error('a pre-login process cannot open a session');
    return unavailable;
  }
  const euid = process.geteuid?.() ?? 0;
  if (identity.kind === 'fixed') {
    // A worker runs as one uid: a grant for another identity is not for this process.
    const want = runAs ? runAs.uid : euid;
    if (want !== identity.uid || euid !== identity.uid) {
      log.error({ want, worker: identity.uid, euid }, 'login handed to a process of another uid; refused');
      return unavailable;
    }
    if (euid === 0 && !s.allow_root_login) {
      log.error('a worker running as root serves no session unless allow_root_login is set');
      return unavailable;
    }
    if (euid === 0) {
      let why: string | undefined;
      try { why = rootSessionProblem(await resolveUserPaths(s, user)); } catch (e) { why = (e as Error).message; }
      if (why) {
        log.error({ why }, 'login refused: a session running as root must not use paths that users can change');
        return unavailable;
      }
    }
  }
  const switching = identity.kind === 'switch-per-login' && runAs !== null;
  // The session record's directory is made (as root) for the uid the session will run as; the record is
  // written after the switch, so the process can remove it at the end.
  const sessionDir = prepareSessionDir(s.work_path, switching ? runAs! : { uid: euid, gid: process.getegid?.() ?? 0 });
  let record: SessionRecord | undefined;
  // In a process that switches per login, the session is the process's only one: its end is the auth
  // module's end too (as DMail's one process per connection). Elsewhere the host closes it.
  const closeAll = async () => { record?.remove(); if (identity.kind === 'switch-per-login') await services.closeAuth(); };

  if (switching) {
    // The module child runs with our current (root) identity: finish it now, while we may still
    // signal it, rather than leave the user's process unable to kill a module that ignores `exit`.
    await services.closeAuth();
    try {
      await switchTo(runAs!, log);
    } catch (e) {
      services.poisoned = true;
      log.error({ err: (e as Error).message }, 'could not switch to the user identity; refusing the login');
      await closeAll();
      // The process may be half switched; the protocol layer must not go on with it.
      return unavailable;
    }
  }

  record = writeSessionRecord(sessionDir, {
    pid: process.pid, program: ctx.program, user: user.domain ? `${user.user}@${user.domain}` : user.user,
    remoteAddress: normaliseIp(client.remoteAddress), since: new Date().toISOString(),
  }, services.nextSessionSeq());

  const userLog = log.child({ user: user.domain ? `${user.user}@${user.domain}` : user.user });
  let opened;
  try {
    opened = await openUserStore(s, user, userLog, services.bus);
  } catch (e) {
    userLog.error({ err: (e as Error).message }, 'cannot open the mail store');
    await closeAll();
    return unavailable;
  }
  const { store, paths } = opened;
  try {
    await deliverBulletins(s, user, store, paths.indexDir, userLog);
  } catch (e) {
    userLog.error({ err: (e as Error).message }, 'bulletin delivery failed');
  }
  const quotaKb = quotaFor(s, user);
  userLog.info({ method: grant.method, inbox: paths.inbox, uid: process.getuid?.(), quotaKb }, 'login');
  let closed = false;
  const session: UserSession = {
    user, store, paths, log: userLog,
    activity: (mailbox) => record?.activity(mailbox),
    ...(quotaKb !== undefined ? { quotaKb } : {}),
    async close() {
      if (closed) return;
      closed = true;
      await closeAll();
    },
  };
  return { ok: true, session };
}

async function finish(ctx: ServerContext, client: ClientInfo, name: string, started: number, outcome: AuthOutcome, how: string, opts: LoginOptions): Promise<GrantResult> {
  const r = await authorize(ctx, client, name, started, outcome, how);
  if (r.ok !== 'granted' || opts.grantOnly) return r;
  const opened = await openSession(ctx, client, r.grant);
  // A half-done identity switch: the same answer and the same minimum time as any temporary failure.
  if (!opened.ok && servicesOf(ctx).poisoned) return failAfterDelay(ctx, started, true);
  return opened;
}

async function preCheck(ctx: ServerContext, client: ClientInfo): Promise<AuthOutcome | undefined> {
  const list = ctx.settings.user_ip_address;
  if (ipAllowed(list, client.remoteAddress)) return undefined;
  // lookup_names: entries that are host names (wildcards allowed) match the client's reverse name.
  if (ctx.settings.lookup_names && list.some((e) => /[a-z]/i.test(e) && !e.includes(':'))) {
    const host = await reverseName(client.remoteAddress);
    if (host && nameAllowed(list, [host])) return undefined;
  }
  return { ok: false, temporary: false, reason: `client ${client.remoteAddress} not in user_ip_address` };
}

/** The client's host name via getnameinfo (so /etc/hosts counts), bounded in time. */
async function reverseName(ip: string): Promise<string | undefined> {
  const { lookupService } = await import('node:dns/promises');
  const timeout = new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000).unref());
  const lookup = lookupService(normaliseIp(ip), 0).then((r) => r.hostname, () => undefined);
  return Promise.race([lookup, timeout]);
}

/** Recent failures from this client's address (any connection): wait before checking anything, the
 *  same for every outcome, so that reconnecting does not reset the cost of guessing (throttle.ts). */
async function throttle(ctx: ServerContext, client: ClientInfo): Promise<void> {
  const { seconds, failures } = loginDelay(ctx.settings, client.remoteAddress);
  if (seconds <= 0) return;
  ctx.log.info({ seconds, failures, ip: normaliseIp(client.remoteAddress) }, 'login delayed: recent failures from this address');
  await sleep(seconds * 1000);
}

export function login(ctx: ServerContext, client: ClientInfo, name: string, password: string, opts?: { grantOnly?: false }): Promise<LoginResult>;
export function login(ctx: ServerContext, client: ClientInfo, name: string, password: string, opts: LoginOptions): Promise<GrantResult>;
export async function login(ctx: ServerContext, client: ClientInfo, name: string, password: string, opts: LoginOptions = {}): Promise<GrantResult> {
  const remote = servicesOf(ctx).remoteLogin;
  if (remote && opts.grantOnly) return remote(client, { kind: 'password', name, password });
  await throttle(ctx, client);
  const started = Date.now();
  let outcome = await preCheck(ctx, client);
  if (!outcome) {
    try {
      outcome = await authenticate(ctx, client, name, password);
    } catch (e) {
      ctx.log.error({ err: (e as Error).message }, 'authentication error');
      outcome = { ok: false, temporary: true, reason: 'internal error' };
    }
  }
  return finish(ctx, client, name, started, outcome, 'password', opts);
}

export function apopAvailable(ctx: ServerContext): boolean {
  // A resident-mode pre-login process (remoteLogin) runs unprivileged and may not read apop_secrets: the
  // master's check (loginApop, as root) decides; here only whether the settings ask for APOP.
  if (servicesOf(ctx).remoteLogin) return !!(ctx.settings.apop_enable && ctx.settings.apop_secrets);
  return apopConfigured(ctx.settings);
}

export function loginApop(ctx: ServerContext, client: ClientInfo, name: string, timestamp: string, digestHex: string, opts?: { grantOnly?: false }): Promise<LoginResult>;
export function loginApop(ctx: ServerContext, client: ClientInfo, name: string, timestamp: string, digestHex: string, opts: LoginOptions): Promise<GrantResult>;
export async function loginApop(ctx: ServerContext, client: ClientInfo, name: string, timestamp: string, digestHex: string, opts: LoginOptions = {}): Promise<GrantResult> {
  const remote = servicesOf(ctx).remoteLogin;
  if (remote && opts.grantOnly) return remote(client, { kind: 'apop', name, timestamp, digest: digestHex });
  await throttle(ctx, client);
  const started = Date.now();
  let outcome = await preCheck(ctx, client);
  if (!outcome) {
    try {
      if (!apopConfigured(ctx.settings)) {
        outcome = { ok: false, temporary: false, reason: 'APOP not enabled' };
      } else {
        // Look the user up first and check the digest after, whatever the lookup said, so an unknown
        // user costs the same as a wrong digest.
        const found = await lookupUser(ctx, name, client);
        const key = found.ok ? (found.user.domain ? `${found.user.user}@${found.user.domain}` : found.user.user) : name;
        const secret = apopSecret(ctx.settings.apop_secrets!, key) ?? (found.ok ? apopSecret(ctx.settings.apop_secrets!, found.user.login) : undefined);
        const good = apopDigestMatches(timestamp, secret ?? '\0no secret\0', digestHex) && secret !== undefined;
        outcome = !found.ok ? found : good ? found : { ok: false, temporary: false, reason: 'APOP digest mismatch' };
      }
    } catch (e) {
      ctx.log.error({ err: (e as Error).message }, 'authentication error');
      outcome = { ok: false, temporary: true, reason: 'internal error' };
    }
  }
  return finish(ctx, client, name, started, outcome, 'apop', opts);
}
