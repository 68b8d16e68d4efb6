// RFC 5161 ENABLE. CONDSTORE and QRESYNC (RFC 7162; QRESYNC implies CONDSTORE), IMAP4rev2 (RFC 9051)
// and UTF8=ACCEPT (RFC 6855) are what we implement (src/imap/rev2.ts); other names are ignored, as
// RFC 5161 says. Everything enabled is this session's alone.
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
    if (on.some((o) => o.toUpperCase() === n)) continue;
    if (n === 'CONDSTORE') {
      s.enableCondstore();
      on.push(n);
    } else if (n === 'QRESYNC') {
      s.enableCondstore();
      s.enabled.qresync = true;
      on.push(n);
    } else if (n === 'IMAP4REV2') {
      s.enabled.imap4rev2 = true;
      on.push('IMAP4rev2');
    } else if (n === 'UTF8=ACCEPT') {
      s.utf8Accept = true;
      on.push(n);
    }
  }
  s.untagged(`ENABLED${on.map((n) => ' ' + n).join('')}`);
  return ok('ENABLE completed');
}
