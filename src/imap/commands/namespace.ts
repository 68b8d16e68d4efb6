import type { Command, ImapSession } from '../session.js';
import { ok, type Result } from '../result.js';

export async function namespace(s: ImapSession, c: Command): Promise<Result> {
  c.args.end();
  s.untagged('NAMESPACE (("" "/")) NIL NIL');
  return ok('NAMESPACE completed');
}
