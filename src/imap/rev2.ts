// IMAP4rev2 (RFC 9051) and UTF8=ACCEPT (RFC 6855), both switched on per session by ENABLE. The one
// place for what they change on the wire:
//
// - Mailbox names are UTF-8 on the wire (RFC 9051 §5.1, RFC 6855 §3) once either is enabled; before,
//   modified UTF-7 (RFC 3501 §5.1.3). The store keeps its names in modified UTF-7 either way, so every
//   Unicode name has exactly one store name and a session of either kind sees the same mailboxes.
// - IMAP4rev2 has no \Recent flag, RECENT response or UNSEEN response code, answers SEARCH with
//   ESEARCH, and SELECT/EXAMINE send a LIST response for the mailbox (RFC 9051 §6.3.2). Those rules
//   live in the commands, keyed on `ImapSession.enabled.imap4rev2`.

import type { ImapSession } from './session.js';
import { decodeMutf7 } from './mutf7.js';
import { imapString, mailboxString } from './wire.js';

/** Mailbox names travel as UTF-8 in this session (ENABLE IMAP4rev2 or ENABLE UTF8=ACCEPT). */
export function utf8Names(s: ImapSession): boolean {
  return s.enabled.imap4rev2 === true || s.utf8Accept;
}

/** A store name as Unicode text: modified UTF-7 decoded; a name that is not valid modified UTF-7
 *  (made by another program) stays as it is. */
export function unicodeName(name: string): string {
  return decodeMutf7(name) ?? name;
}

/** A store (modified UTF-7) name as this session writes it: unchanged for IMAP4rev1; as UTF-8 once the
 *  session enabled IMAP4rev2 or UTF8=ACCEPT, in a quoted string (RFC 9051 and RFC 6855 §3 allow UTF-8
 *  there). The result is a response-text fragment in the session's latin1 byte convention. */
export function mailboxOut(s: ImapSession, name: string): string {
  if (!utf8Names(s)) return mailboxString(name);
  const u = unicodeName(name);
  if (!/[^\x20-\x7e]/.test(u)) return mailboxString(u);
  // Control characters cannot go in a quoted string: a literal then (imapString encodes as UTF-8).
  if (/[\x00-\x1f\x7f]/.test(u)) return imapString(u);
  return `"${Buffer.from(u.replace(/[\\"]/g, (c) => '\\' + c), 'utf8').toString('latin1')}"`;
}
