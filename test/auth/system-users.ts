// Real system users for tests that run as root: useradd + chpasswd with a chosen hash scheme, the
// product's PAM service file, and cleanup (userdel -r) that runs even when a test failed.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export const isRoot = process.getuid?.() === 0;

/** The PAM service we document for sites (pam_service dmail): nodelay so our own delay is the only one. */
export const PAM_SERVICE_TEXT = `# PAM service for the DMail-compatible imapd and dpop (dmail.conf: pam_service dmail)
auth     required   pam_unix.so nodelay
account  required   pam_unix.so
`;

export function installPamService(name = 'dmail'): void {
  const file = `/etc/pam.d/${name}`;
  if (!existsSync(file) || readFileSync(file, 'utf8') !== PAM_SERVICE_TEXT) writeFileSync(file, PAM_SERVICE_TEXT);
}

export interface SysUser { name: string; uid: number; gid: number; home: string }

const created: string[] = [];

export function createUser(prefix: string, password: string, scheme: 'YESCRYPT' | 'SHA512'): SysUser {
  const name = `${prefix}${process.pid % 10000}${Math.floor(Math.random() * 1000)}`.slice(0, 30);
  execFileSync('useradd', ['-m', '-s', '/usr/sbin/nologin', name]);
  created.push(name);
  execFileSync('chpasswd', ['-c', scheme], { input: `${name}:${password}\n` });
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`))!;
  const f = line.split(':');
  return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! };
}

export function shadowHash(name: string): string {
  return readFileSync('/etc/shadow', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`))!.split(':')[1]!;
}

export function removeUsers(): void {
  for (const n of created.splice(0)) {
    try { execFileSync('userdel', ['-r', n], { stdio: 'ignore' }); } catch { /* already gone */ }
  }
}
