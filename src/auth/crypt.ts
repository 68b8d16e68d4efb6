// Password hashes in crypt(3) form ($y$ yescrypt, $6$ sha512-crypt, $5$, $1$ md5-crypt, DES) checked
// with the system's own libcrypt. No npm crypt binding builds on Node 20 (crypt3 fails; pure-JS ones
// lack yescrypt, Debian's default), so we call libcrypt through perl's crypt() builtin: perl-base is
// Essential on Debian and links the system libcrypt, so every scheme the system supports works.
// The password travels over a pipe, never argv or the environment (both visible in /proc).

import { spawn } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';

const PERL_CRYPT = 'binmode STDIN; local $/; my ($p, $s) = split(/\\0/, <STDIN>, 2); my $h = crypt($p, $s); print defined $h ? $h : "";';

export class CryptUnavailable extends Error {}

/** crypt(3) of `password` with `setting` (a full hash or a salt spec) using the system's libcrypt. */
export function systemCrypt(password: string, setting: string): Promise<string> {
  return new Promise((resolve, reject) => {
    if (password.includes('\0') || setting.includes('\0')) { resolve(''); return; }
    const child = spawn('perl', ['-e', PERL_CRYPT], { stdio: ['pipe', 'pipe', 'ignore'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.stdout.setEncoding('latin1');
    child.stdout.on('data', (d: string) => { if (out.length < 4096) out += d; });
    child.on('error', (e) => { clearTimeout(timer); reject(new CryptUnavailable(`cannot run perl for crypt(3): ${e.message}`)); });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new CryptUnavailable(`crypt(3) helper exited with ${code}`));
      else resolve(out);
    });
    child.stdin.on('error', () => { /* reported through close */ });
    child.stdin.end(Buffer.concat([Buffer.from(password, 'utf8'), Buffer.from([0]), Buffer.from(setting, 'utf8')]));
  });
}

/** Hash fields that can never match: locked (`!`, `*`), empty, or a placeholder (`x`). */
export function isLockedHash(hash: string): boolean {
  return hash === '' || hash.startsWith('!') || hash.startsWith('*') || hash === 'x';
}

/** Check a password against a crypt(3) hash; locked or malformed hashes never match. */
export async function verifyCrypt(password: string, hash: string): Promise<boolean> {
  if (isLockedHash(hash)) return false;
  const got = await systemCrypt(password, hash);
  // libcrypt returns "*0"/"*1" on a bad setting: a failure string, never equal to a real hash.
  if (got === '' || got.startsWith('*')) return false;
  const a = Buffer.from(got);
  const b = Buffer.from(hash);
  return a.length === b.length && timingSafeEqual(a, b);
}

const SALT_CHARS = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A new sha512-crypt (`$6$`) hash with a 16-character random salt. */
export async function hashSha512Crypt(password: string): Promise<string> {
  const salt = [...randomBytes(16)].map((b) => SALT_CHARS[b & 63]).join('');
  const h = await systemCrypt(password, `$6$${salt}$`);
  if (!h.startsWith('$6$')) throw new CryptUnavailable('the system crypt(3) does not support sha512-crypt');
  return h;
}
