// The CAPABILITY list, which depends on the state and on TLS. Kept in one place so the greeting,
// CAPABILITY, LOGIN's response code and the README agree.

import type { ImapSession } from './session.js';

/** Shown in the greeting and in ID. */
export const SERVER_VERSION = '0.1.0';

export const BASE_CAPABILITIES = [
  'IMAP4rev1', 'LITERAL+', 'SASL-IR', 'ID', 'ENABLE', 'IDLE', 'NAMESPACE', 'UIDPLUS', 'MOVE', 'UNSELECT',
  'CHILDREN', 'SPECIAL-USE', 'QUOTA', 'ESEARCH', 'CONDSTORE', 'QRESYNC',
  // Searching and sorting (src/imap/commands/search.ts, sort.ts, thread.ts).
  'SORT', 'SORT=DISPLAY', 'ESORT', 'THREAD=ORDEREDSUBJECT', 'THREAD=REFERENCES', 'WITHIN', 'PARTIAL', 'SEARCHRES', 'CONTEXT=SEARCH',
];

export function loginDisabled(s: ImapSession): boolean {
  return s.ctx.settings.login_disabled === true && !s.conn.secure;
}

export function capabilities(s: ImapSession): string {
  const caps = [...BASE_CAPABILITIES];
  if (s.state === 'notauth') {
    if (s.conn.tlsAvailable && !s.conn.secure) caps.push('STARTTLS');
    if (loginDisabled(s)) caps.push('LOGINDISABLED');
    else caps.push('AUTH=PLAIN', 'AUTH=LOGIN');
  }
  return caps.join(' ');
}
