import type { Command, ImapSession } from '../session.js';
import { loginDisabled } from '../capabilities.js';
import { completeLogin } from '../login-flow.js';
import { no, type Result } from '../result.js';

export async function loginCommand(s: ImapSession, c: Command): Promise<Result | null> {
  const a = c.args;
  a.sp();
  const name = a.astring();
  a.sp();
  const password = a.astring();
  a.end();
  if (loginDisabled(s)) return no('[PRIVACYREQUIRED] Plaintext authentication disallowed without TLS');
  return completeLogin(s, name, password, 'LOGIN', c.tag);
}
