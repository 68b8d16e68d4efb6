// AUTHENTICATE PLAIN and LOGIN (RFC 4616, draft-murchison-sasl-login), with SASL-IR (RFC 4959).
import type { Command, ImapSession } from '../session.js';
import { loginDisabled } from '../capabilities.js';
import { completeLogin } from '../login-flow.js';
import { bad, no, type Result } from '../result.js';

class Cancelled extends Error {}

function decode64(text: string): Buffer {
  if (text === '=') return Buffer.alloc(0);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new Cancelled('Invalid base64 data');
  return Buffer.from(text, 'base64');
}

async function challenge(s: ImapSession, text: string): Promise<Buffer> {
  s.continuation(text);
  const got = await s.input.readLine(s.ctx.settings.max_line_length);
  if (!got) throw new Cancelled('Connection closed');
  if (got.tooLong) throw new Cancelled('Response too long');
  const line = got.line.toString('latin1');
  if (line === '*') throw new Cancelled('AUTHENTICATE cancelled');
  return decode64(line);
}

export async function authenticate(s: ImapSession, c: Command): Promise<Result | null> {
  const a = c.args;
  a.sp();
  const mech = a.atom().toUpperCase();
  let initial: Buffer | undefined;
  if (!a.atEnd) {
    a.sp();
    const ir = a.word((ch) => ch === 0x3d || ch === 0x2b || ch === 0x2f);
    try {
      initial = decode64(ir);
    } catch {
      return bad('Invalid base64 data');
    }
  }
  a.end();
  if (loginDisabled(s)) return no('[PRIVACYREQUIRED] Plaintext authentication disallowed without TLS');
  try {
    if (mech === 'PLAIN') {
      const resp = initial ?? (await challenge(s, ''));
      const parts = resp.toString('utf8').split('\0');
      if (parts.length !== 3) return bad('Invalid PLAIN response');
      const [authz, user, pass] = parts as [string, string, string];
      if (authz && authz !== user) return no('[AUTHORIZATIONFAILED] Proxy authentication not supported');
      return completeLogin(s, user, pass, 'AUTHENTICATE', c.tag);
    }
    if (mech === 'LOGIN') {
      const user = initial ?? (await challenge(s, Buffer.from('Username:').toString('base64')));
      const pass = await challenge(s, Buffer.from('Password:').toString('base64'));
      return completeLogin(s, user.toString('utf8'), pass.toString('utf8'), 'AUTHENTICATE', c.tag);
    }
  } catch (e) {
    if (e instanceof Cancelled) return bad(e.message);
    throw e;
  }
  return no('Unsupported authentication mechanism');
}
