// RFC 5161 ENABLE: we implement no extension that needs enabling, so the ENABLED list is empty.
import type { Command, ImapSession } from '../session.js';
import { ok, type Result } from '../result.js';

export async function enable(s: ImapSession, c: Command): Promise<Result> {
  c.args.sp();
  while (!c.args.atEnd) {
    c.args.atom();
    if (!c.args.atEnd) c.args.sp();
  }
  s.untagged('ENABLED');
  return ok('ENABLE completed');
}
