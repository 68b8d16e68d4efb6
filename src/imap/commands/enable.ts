// RFC 5161 ENABLE. CONDSTORE and QRESYNC (RFC 7162; QRESYNC implies CONDSTORE) are what we implement;
// other names are ignored, as RFC 5161 says.
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
  // Each requested extension we implement is listed once it is on, also when it already was (as
  // Dovecot does: a client that asks twice still learns its state). QRESYNC implies CONDSTORE.
  const on: string[] = [];
  for (const n of names) {
    if (on.includes(n)) continue;
    if (n === 'CONDSTORE') {
      s.enableCondstore();
      on.push(n);
    } else if (n === 'QRESYNC') {
      s.enableCondstore();
      s.enabled.qresync = true;
      on.push(n);
    }
  }
  s.untagged(`ENABLED${on.map((n) => ' ' + n).join('')}`);
  return ok('ENABLE completed');
}
