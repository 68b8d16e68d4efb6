// The CAPABILITY list, which depends on the state and on TLS. Kept in one place so the greeting,
// CAPABILITY, LOGIN's response code and the README agree.

import type { ImapSession } from './session.js';

/** Shown in the greeting and in ID. */
export const SERVER_VERSION = '0.1.0';

export const BASE_CAPABILITIES = [
  // IMAP4rev2 (RFC 9051) beside IMAP4rev1, chosen by ENABLE IMAP4rev2 (src/imap/rev2.ts).
  'IMAP4rev1', 'IMAP4rev2', 'LITERAL+', 'SASL-IR', 'ID', 'ENABLE', 'IDLE', 'NAMESPACE', 'UIDPLUS', 'MOVE', 'UNSELECT',
  'CHILDREN', 'SPECIAL-USE', 'QUOTA', 'ESEARCH', 'CONDSTORE', 'QRESYNC',
  // Mailbox listing (issue 14): RFC 5258, RFC 5819, RFC 6154 §3.
  'LIST-EXTENDED', 'LIST-STATUS', 'CREATE-SPECIAL-USE',
  // Messages in and out (issue 14): RFC 3516, RFC 3502, RFC 4469.
  'BINARY', 'MULTIAPPEND', 'CATENATE',
  // Transport, notifications, URL authorization (issue 14): RFC 4978, RFC 5465, RFC 4467.
  'COMPRESS=DEFLATE', 'NOTIFY', 'URLAUTH',
  // Searching and sorting (issue 14): RFC 5256, RFC 5957, RFC 5267, RFC 5032, RFC 9394, RFC 5182.
  'SORT', 'SORT=DISPLAY', 'ESORT', 'THREAD=ORDEREDSUBJECT', 'THREAD=REFERENCES', 'WITHIN', 'PARTIAL', 'SEARCHRES', 'CONTEXT=SEARCH', 'CONTEXT=SORT',
  // STATUS SIZE (RFC 8438) and UTF-8 mailbox names and messages after ENABLE UTF8=ACCEPT (RFC 6855).
  'STATUS=SIZE', 'UTF8=ACCEPT',
];

export function loginDisabled(s: ImapSession): boolean {
  return s.ctx.settings.login_disabled === true && !s.conn.secure;
}

export function capabilities(s: ImapSession): string {
  // COMPRESS only where compression can start (not in a resident pre-login process: after login).
  const caps = s.conn.compressionAvailable === false ? BASE_CAPABILITIES.filter((c) => c !== 'COMPRESS=DEFLATE') : [...BASE_CAPABILITIES];
  if (s.state === 'notauth') {
    if (s.conn.tlsAvailable && !s.conn.secure) caps.push('STARTTLS');
    if (loginDisabled(s)) caps.push('LOGINDISABLED');
    else caps.push('AUTH=PLAIN', 'AUTH=LOGIN');
  }
  return caps.join(' ');
}
