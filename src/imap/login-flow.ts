// Shared by LOGIN and AUTHENTICATE: run the login pipeline, count failures, switch state. A session whose
// login is to be served elsewhere (ServeOptions.stopAtLogin) hands it over here without answering; one
// started from such a handover (resume) answers it here.
import type { ClientInfo } from '../auth/types.js';
import type { LoginStop } from '../session/handoff.js';
import type { UserSession } from '../session/login.js';
import type { ImapSession } from './session.js';
import { capabilities } from './capabilities.js';
import { no, ok, type Result } from './result.js';

function clientOf(s: ImapSession): ClientInfo {
  return {
    remoteAddress: s.conn.remoteAddress,
    remotePort: s.conn.remotePort,
    localAddress: s.conn.localAddress,
    localPort: s.conn.localPort,
    tls: s.conn.secure,
  };
}

/** Returns null when the login was handed over (nothing is answered here: the session ends). */
export async function completeLogin(s: ImapSession, name: string, password: string, what: string, tag: string): Promise<Result | null> {
  if (!name || name.length > 512 || password.length > 1024 || /[\0\r\n]/.test(name + password)) {
    return fail(s, what);
  }
  const { login } = await import('../session/login.js');
  const r = await login(s.ctx, clientOf(s), name, password, { grantOnly: s.serve.stopAtLogin !== undefined });
  if (r.ok === 'granted') {
    await handOver(s, { grant: r.grant, loginName: name, tag, command: what, input: Buffer.alloc(0), enabled: enabledList(s) });
    return null;
  }
  if (!r.ok) {
    if (r.temporary) return no(`[UNAVAILABLE] ${r.message || 'Authentication service unavailable, try again later'}`);
    if (r.tell) {
      // The name can never map to a mailbox (too long, say): say so, and still count the failure.
      fail(s, what);
      return no(`[CANNOT] ${r.message}`);
    }
    return fail(s, what);
  }
  return enterAuthenticated(s, r.session, what);
}

function enabledList(s: ImapSession): string[] {
  return [...(s.enabled.condstore ? ['CONDSTORE'] : []), ...(s.enabled.qresync ? ['QRESYNC'] : [])];
}

/** Input stops, what the client pipelined after the login goes with the handover, and the session ends
 *  without another byte to the client. */
async function handOver(s: ImapSession, stop: LoginStop): Promise<void> {
  s.conn.pause();
  s.flush();
  stop.input = s.input.takeAll();
  s.dead = true;
  s.handedOff = true;
  // Answers to commands before the login must reach the socket before the descriptor changes hands.
  await s.conn.drain();
  await s.serve.stopAtLogin!(stop);
}

function enterAuthenticated(s: ImapSession, session: UserSession, what: string): Result {
  s.user = session;
  s.log = session.log;
  s.state = 'auth';
  s.conn.setIdleTimeout(s.ctx.settings.imapd_timeout, () => s.autologout());
  s.conn.setDeadline(0, () => {}); // login_lifetime bounds only the unauthenticated part
  return ok(`[CAPABILITY ${capabilities(s)}] ${what} completed`);
}

/** A session started from a login made elsewhere: open it and answer the login command. False when it
 *  cannot be served (answered NO and BYE: the session ends). */
export async function resumeLogin(s: ImapSession, stop: LoginStop): Promise<boolean> {
  for (const e of stop.enabled) {
    if (e.toUpperCase() === 'CONDSTORE') s.enabled.condstore = true;
    if (e.toUpperCase() === 'QRESYNC') { s.enabled.qresync = true; s.enabled.condstore = true; }
  }
  const { openSession } = await import('../session/login.js');
  const r = await openSession(s.ctx, clientOf(s), stop.grant);
  const tag = stop.tag ?? '*';
  if (!r.ok) {
    s.tagged(tag, 'NO', `[UNAVAILABLE] ${r.message || 'Authentication service unavailable, try again later'}`);
    s.untagged('BYE Try again later');
    s.flush();
    return false;
  }
  const result = enterAuthenticated(s, r.session, stop.command ?? 'LOGIN');
  s.tagged(tag, result.status, result.text);
  return true;
}

function fail(s: ImapSession, what: string): Result {
  s.authFailures++;
  if (s.authFailures >= Math.max(1, s.ctx.settings.auth_max_failures)) {
    s.byeAfter = 'Too many authentication failures';
  }
  return no(`[AUTHENTICATIONFAILED] ${what} failed`);
}
