// RFC 5161 ENABLE. CONDSTORE and QRESYNC (RFC 7162; QRESYNC implies CONDSTORE) are what we implement;
// other names are ignored, as RFC 5161 says. ENABLED lists what this command newly enabled.
import type { Command, ImapSession } from '../session.js';
import { ok, type Result } from '../result.js';

export async function enable(s: ImapSession, c: Command): Promise<Result> {
  c.args.sp();
  const names: string[] = [];
  for (;;) {
    names.push(c.args.atom().toUpperCase());
    if (c.args.atEnd) break;
    c.args.sp();
  }
  const now: string[] = [];
  for (const n of names) {
    if (n === 'CONDSTORE' && !now.includes(n)) {
      if (s.enableCondstore()) now.push(n);
    } else if (n === 'QRESYNC' && !s.enabled.qresync) {
      s.enableCondstore();
      s.enabled.qresync = true;
      now.push(n);
    }
  }
  s.untagged(`ENABLED${now.map((n) => ' ' + n).join('')}`);
  return ok('ENABLE completed');
}
