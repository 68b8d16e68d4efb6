// SASL PLAIN (RFC 4616) and LOGIN decoding for POP3 AUTH (RFC 5034). Pure functions: the session does
// the exchange; these only turn base64 lines into credentials.

export const SASL_MECHANISMS = ['PLAIN', 'LOGIN'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export interface Credentials {
  name: string;
  password: string;
}

/** Strict base64: Buffer.from() silently skips garbage, which would hide client bugs. */
export function decodeBase64(text: string): Buffer | null {
  const t = text.trim();
  if (t.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(t)) return null;
  return Buffer.from(t, 'base64');
}

export function encodeBase64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** Text from the client: UTF-8 when valid, else Latin-1 (older clients send 8-bit passwords). */
export function clientText(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

/** authzid NUL authcid NUL passwd. Acting as another user (authzid ≠ authcid) is not supported. */
export function parsePlain(message: Buffer): Credentials | { error: string } {
  const first = message.indexOf(0);
  const second = first < 0 ? -1 : message.indexOf(0, first + 1);
  if (first < 0 || second < 0 || message.indexOf(0, second + 1) >= 0) return { error: 'malformed PLAIN response' };
  const authzid = clientText(message.subarray(0, first));
  const name = clientText(message.subarray(first + 1, second));
  const password = clientText(message.subarray(second + 1));
  if (!name) return { error: 'empty user name' };
  if (authzid && authzid !== name) return { error: 'authorization identity must equal the user name' };
  return { name, password };
}

export function isSaslMechanism(name: string): name is SaslMechanism {
  return (SASL_MECHANISMS as readonly string[]).includes(name);
}
