// TLS settings from dmail.conf (tls_cert, tls_key, tls_ciphers, tls_min_version) and the secure context
// built from them. node:tls is loaded only when TLS is actually used: most connections never need it.

import { readFileSync } from 'node:fs';
import type { SecureContext, SecureVersion } from 'node:tls';
import type { Settings } from '../config/settings.js';

export interface TlsSettings {
  cert?: string;
  key?: string;
  ciphers?: string;
  minVersion?: string;
  /** The PEM contents themselves, read by a more privileged process (the resident master reads them
   *  for its unprivileged pre-login processes, which may not be able to read tls_key). */
  pem?: { cert: string; key: string };
}

export function tlsSettingsOf(s: Settings): TlsSettings {
  return { cert: s.tls_cert, key: s.tls_key, ciphers: s.tls_ciphers, minVersion: s.tls_min_version };
}

const VERSIONS: readonly SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** Read the certificate and key now (so a broken file fails before the client is told to go ahead). */
export async function makeSecureContext(t: TlsSettings): Promise<SecureContext> {
  if (!t.cert || !t.key) throw new Error('tls_cert and tls_key must both be set');
  const tls = await import('node:tls');
  const minVersion = VERSIONS.find((v) => v.toLowerCase() === (t.minVersion ?? 'TLSv1.2').toLowerCase()) ?? 'TLSv1.2';
  return tls.createSecureContext({
    cert: t.pem?.cert ?? readFileSync(t.cert),
    key: t.pem?.key ?? readFileSync(t.key),
    ciphers: t.ciphers,
    minVersion,
  });
}
