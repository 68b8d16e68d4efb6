import type { Command, ImapSession } from '../session.js';
import { capabilities } from '../capabilities.js';
import { ok, type Result } from '../result.js';

export async function capability(s: ImapSession, c: Command): Promise<Result> {
  c.args.end();
  s.untagged(`CAPABILITY ${capabilities(s)}`);
  return ok('CAPABILITY completed');
}
