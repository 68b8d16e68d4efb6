// Shared by LOGIN and AUTHENTICATE: run the login pipeline, count failures, switch state.
import type { ClientInfo } from '../auth/types.js';
import type { ImapSession } from './session.js';
import { capabilities } from './capabilities.js';
import { no, ok, type Result } from './result.js';

export async function completeLogin(s: ImapSession, name: string, password: string, what: string): Promise<Result> {
  if (!name || name.length > 512 || password.length > 1024 || /[\0\r\n]/.test(name + password)) {
    return fail(s, what);
  }
  const client: ClientInfo = {
    remoteAddress: s.conn.remoteAddress,
    remotePort: s.conn.remotePort,
    localAddress: s.conn.localAddress,
    localPort: s.conn.localPort,
    tls: s.conn.secure,
  };
  const { login } = await import('../session/login.js');
  const r = await login(s.ctx, client, name, password);
  if (!r.ok) {
    if (r.temporary) return no(`[UNAVAILABLE] ${r.message || 'Authentication service unavailable, try again later'}`);
    if (r.tell) {
      // The name can never map to a mailbox (too long, say): say so, and still count the failure.
      fail(s, what);
      return no(`[CANNOT] ${r.message}`);
    }
    return fail(s, what);
  }
  s.user = r.session;
  s.log = r.session.log;
  s.state = 'auth';
  s.conn.setIdleTimeout(s.ctx.settings.imapd_timeout, () => s.autologout());
  s.conn.setDeadline(0, () => {}); // login_lifetime bounds only the unauthenticated part
  return ok(`[CAPABILITY ${capabilities(s)}] ${what} completed`);
}

function fail(s: ImapSession, what: string): Result {
  s.authFailures++;
  if (s.authFailures >= Math.max(1, s.ctx.settings.auth_max_failures)) {
    s.byeAfter = 'Too many authentication failures';
  }
  return no(`[AUTHENTICATIONFAILED] ${what} failed`);
}
