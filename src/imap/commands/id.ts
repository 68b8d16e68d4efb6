// RFC 2971 ID: accept the client's list (logged at debug level), answer with ours.
import type { Command, ImapSession } from '../session.js';
import { ok, type Result } from '../result.js';
import { ParseError } from '../args.js';
import { SERVER_VERSION } from '../capabilities.js';

export async function id(s: ImapSession, c: Command): Promise<Result> {
  const a = c.args;
  a.sp();
  const fields: string[] = [];
  if (a.peek() === '(') {
    a.list(() => {
      if (a.eat('NIL') || a.eat('nil')) fields.push('NIL');
      else fields.push(a.stringBytes().toString('utf8').slice(0, 1024));
    });
  } else if (!a.eat('NIL') && !a.eat('nil')) {
    throw new ParseError('Expected a list or NIL');
  }
  a.end();
  if (fields.length) s.log.debug({ clientId: fields.slice(0, 60) }, 'client ID');
  s.untagged(`ID ("name" "DMail-compatible imapd" "version" "${SERVER_VERSION}")`);
  return ok('ID completed');
}
