// Fixed POP3 texts in one place: DPOP's greeting form and wording where DMail showed it (dmail-reference
// §3.2), RFC 2449 capabilities, and the RFC 2449 / RFC 3206 response codes.

export const DPOP_VERSION = '0.1.0';
export const IMPLEMENTATION = `dmail-dpop-${DPOP_VERSION}`;

/** RFC 1939 APOP timestamp, DPOP's `<pid.unixtime@host>`. */
export function apopTimestamp(hostname: string, now = Date.now()): string {
  return `<${process.pid}.${Math.floor(now / 1000)}@${hostname}>`;
}

/** DPOP: `+OK DPOP Version 2.8q. <343.966394324@localhost>`. */
export function greeting(timestamp: string): string {
  return `+OK DPOP Version ${DPOP_VERSION}. ${timestamp}\r\n`;
}

export interface CapaOptions {
  /** USER/PASS and SASL may be used now (not login_disabled, or TLS is on). */
  plaintextAllowed: boolean;
  /** STLS can be offered: a certificate is configured, TLS is off, and we are before login. */
  stls: boolean;
  authenticated: boolean;
}

export function capabilities(o: CapaOptions): string[] {
  const caps = ['TOP'];
  if (!o.authenticated && o.plaintextAllowed) caps.push('USER');
  caps.push('UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING');
  if (!o.authenticated && o.plaintextAllowed) caps.push('SASL PLAIN LOGIN');
  if (o.stls) caps.push('STLS');
  caps.push('EXPIRE NEVER', 'LOGIN-DELAY 0', `IMPLEMENTATION ${IMPLEMENTATION}`);
  return caps;
}

export const ok = (text: string): string => `+OK ${text}\r\n`;
export const err = (text: string): string => `-ERR ${text}\r\n`;

/** A multi-line response: status, lines (byte-stuffed here), terminator. */
export function multiline(status: string, lines: readonly string[]): string {
  const body = lines.map((l) => (l.startsWith('.') ? '.' + l : l) + '\r\n').join('');
  return `+OK ${status}\r\n${body}.\r\n`;
}
