// Real system users for tests that run as root: useradd + chpasswd with a chosen hash scheme, the
// product's PAM service file, and cleanup (userdel -r) that runs even when a test failed.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const isRoot = process.getuid?.() === 0;

/** The PAM service the Debian package installs as /etc/pam.d/dmail (pam_service dmail): nodelay so our
 *  own delay is the only one. One file for both, so the package test's install meets the same text. */
export const PAM_SERVICE_TEXT = readFileSync(fileURLToPath(new URL('../../packaging/debian/pam', import.meta.url)), 'utf8');

export function installPamService(name = 'dmail'): void {
  const file = `/etc/pam.d/${name}`;
  if (!existsSync(file) || readFileSync(file, 'utf8') !== PAM_SERVICE_TEXT) writeFileSync(file, PAM_SERVICE_TEXT);
}

/** useradd/chpasswd/userdel refuse while another test file holds /etc/passwd's lock: retry briefly. */
function retrying(fn: () => unknown): void {
  for (let i = 0; ; i++) {
    try { fn(); return; } catch (e) {
      if (i >= 20 || !/lock|try again/i.test(String((e as { stderr?: Buffer }).stderr ?? e))) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
    }
  }
}

export interface SysUser { name: string; uid: number; gid: number; home: string }

const created: string[] = [];

export function createUser(prefix: string, password: string, scheme: 'YESCRYPT' | 'SHA512'): SysUser {
  const name = `${prefix}${process.pid % 10000}${Math.floor(Math.random() * 1000)}`.slice(0, 30);
  retrying(() => execFileSync('useradd', ['-m', '-s', '/usr/sbin/nologin', name], { stdio: 'pipe' }));
  created.push(name);
  retrying(() => execFileSync('chpasswd', ['-c', scheme], { input: `${name}:${password}\n`, stdio: ['pipe', 'pipe', 'pipe'] }));
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`))!;
  const f = line.split(':');
  return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! };
}

export function shadowHash(name: string): string {
  return readFileSync('/etc/shadow', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`))!.split(':')[1]!;
}

export function removeUsers(): void {
  for (const n of created.splice(0)) {
    try { retrying(() => execFileSync('userdel', ['-r', n], { stdio: 'pipe' })); } catch { /* already gone */ }
  }
}
