import type { Command, ImapSession } from '../session.js';
import { ok, type Result } from '../result.js';

export async function logout(s: ImapSession, c: Command): Promise<Result> {
  c.args.end();
  s.untagged(`BYE ${s.ctx.hostname} IMAP4rev1 server terminating connection`);
  s.state = 'logout';
  return ok('LOGOUT completed');
}
