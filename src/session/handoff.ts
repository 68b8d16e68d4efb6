// How a protocol session hands its connection over at login, and how one starts from such a handover.
// Protocol code (imap/, pop3/) sees only these two hooks; which process does what is session/host.ts's
// business (and src/resident's).

import type { LoginGrant } from './login.js';

/** What a session passes on when its login is to be served elsewhere. */
export interface LoginStop {
  grant: LoginGrant;
  /** The login name as the client typed it (POP3's +OK repeats it). */
  loginName: string;
  /** IMAP: tag of the LOGIN/AUTHENTICATE command still to be answered, and its name ('LOGIN' |
   *  'AUTHENTICATE'). */
  tag?: string;
  command?: string;
  /** Bytes the client sent after the login command (pipelining), not yet read by the session. */
  input: Buffer;
  /** IMAP ENABLEd extensions. */
  enabled: string[];
}

export interface ServeOptions {
  /** After a successful authentication: called instead of opening anything of the user's; the session
   *  then ends without answering the login and without closing the connection (the caller passes it
   *  on). Input is paused before the call. */
  stopAtLogin?: (stop: LoginStop) => Promise<void>;
  /** Start in the authenticated state from a login made elsewhere: no greeting; the session opens
   *  the grant, answers the login (`tag` / the POP3 +OK), then reads `input` before anything new. */
  resume?: LoginStop;
}
