// A throw-away self-signed certificate for TLS tests, made with the real openssl binary.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCert {
  cert: string;
  key: string;
  cleanup(): void;
}

export function makeTestCert(cn = 'localhost'): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'dmail-cert-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', `/CN=${cn}`, '-addext', `subjectAltName=DNS:${cn},IP:127.0.0.1`,
  ], { stdio: 'ignore' });
  return { cert, key, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
