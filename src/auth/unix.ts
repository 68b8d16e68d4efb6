// authent_method unix_user: the account from getpwnam (or a vdomain_passwd file), the password through
// PAM, or, when PAM cannot decide (not installed, service broken), from /etc/shadow via crypt(3).

import type { Logger } from '../log/types.js';
import { CryptUnavailable, isLockedHash, verifyCrypt } from './crypt.js';
import { pamAuthenticate } from './pam.js';
import { getpwnam, passwdFileLookup, shadowLookup, type PasswdEntry } from './passwd.js';

export type CheckResult = { ok: true; entry: PasswdEntry } | { ok: false; temporary: boolean; reason: string };

const fail = (reason: string): CheckResult => ({ ok: false, temporary: false, reason });
const temp = (reason: string): CheckResult => ({ ok: false, temporary: true, reason });

/** Find the account: in `passwdFile` when the user's vdomain has one, else the system's. */
export async function findAccount(name: string, passwdFile?: string): Promise<PasswdEntry | undefined> {
  return passwdFile ? passwdFileLookup(passwdFile, name) : getpwnam(name);
}

async function checkShadow(entry: PasswdEntry, password: string): Promise<CheckResult> {
  let hash = entry.passwd;
  if (hash === 'x') {
    let sh;
    try {
      sh = await shadowLookup(entry.name);
    } catch (e) {
      return temp(`cannot read /etc/shadow: ${(e as Error).message}`);
    }
    if (!sh) return fail('no shadow entry');
    if (sh.expireDays !== undefined && sh.expireDays > 0 && sh.expireDays * 86400_000 < Date.now()) return fail('account expired');
    hash = sh.hash;
  }
  if (isLockedHash(hash)) return fail('account locked or has no password');
  try {
    return (await verifyCrypt(password, hash)) ? { ok: true, entry } : fail('wrong password');
  } catch (e) {
    if (e instanceof CryptUnavailable) return temp(e.message);
    throw e;
  }
}

export async function checkUnixPassword(opts: {
  account: string; password: string; passwdFile?: string; pamService: string; remoteAddress: string; log: Logger;
}): Promise<CheckResult> {
  let entry: PasswdEntry | undefined;
  try {
    entry = await findAccount(opts.account, opts.passwdFile);
  } catch (e) {
    return temp(`user lookup failed: ${(e as Error).message}`);
  }
  if (!entry) return fail('no such user');
  if (opts.passwdFile) {
    // vdomain_passwd: the hash is in the file itself (field 2); PAM knows nothing of these users.
    return checkShadow({ ...entry, passwd: entry.passwd === 'x' ? '!' : entry.passwd }, opts.password);
  }
  const pam = await pamAuthenticate(opts.pamService, entry.name, opts.password, opts.remoteAddress);
  if (pam.result === 'ok') return { ok: true, entry };
  if (pam.result === 'fail') return fail('wrong password');
  opts.log.debug({ detail: pam.detail }, 'PAM could not decide; checking /etc/shadow with crypt(3)');
  return checkShadow(entry, opts.password);
}
