// Switching the process to the user's identity before any of the user's files is opened
// (imapd_become_user). Order matters: supplementary groups and gid can only be changed while still
// root, so initgroups → setgid → setuid, then verify all of real/effective ids, because a half-done
// switch must never go on to touch mail.

import type { Settings } from '../config/settings.js';
import type { AuthUser } from '../auth/types.js';
import type { Logger } from '../log/types.js';
import { getpwnam, loadPosix } from '../auth/passwd.js';

export interface Identity {
  uid: number;
  gid: number;
  /** Account name for initgroups(); without one, supplementary groups are cleared. */
  name?: string;
}

export type SwitchPlan =
  | { kind: 'stay'; why: string }
  | { kind: 'switch'; to: Identity }
  /** temporary: a configuration problem (the client may retry later); false: answered like wrong
   *  credentials, so that a refused root login does not confirm root's password. */
  | { kind: 'refuse'; why: string; temporary: boolean };

async function accountOfUid(uid: number): Promise<{ name: string; gid: number } | undefined> {
  // posix.getpwnam takes a numeric uid as well (it then calls getpwuid).
  const e = await getpwnam(uid as unknown as string);
  return e ? { name: e.name, gid: e.gid } : undefined;
}

/** Decide who the session runs as. Pure policy; switchTo() does the work. `current`: the uid of the
 *  process that will serve the session (this one, unless a pre-login process plans for a worker). */
export async function planIdentity(settings: Settings, user: AuthUser, current = process.getuid?.() ?? 0): Promise<SwitchPlan> {
  if (!settings.imapd_become_user) {
    // The admin chose to keep the server's identity (DMail's imapd_become_user false). As root, that is a
    // session running as root: allowed only with allow_root_login (a configuration refusal: temporary).
    if (current === 0 && !settings.allow_root_login) {
      return { kind: 'refuse', why: 'imapd_become_user false would run this session as root (allow_root_login is off)', temporary: true };
    }
    return { kind: 'stay', why: 'imapd_become_user false' };
  }
  let target: Identity | undefined;
  if (user.uid !== undefined && user.uid > 0) {
    // The group: the module's gid="N" if it gave one, else the account's. A uid without an account and
    // without a gid has no group we could know: guessing (gid = uid) would hand the session whichever
    // group happens to have that number.
    const acct = await accountOfUid(user.uid);
    const gid = user.gid ?? acct?.gid;
    if (gid === undefined) {
      return { kind: 'refuse', why: `uid ${user.uid} has no account and the auth module gave no gid="N"`, temporary: true };
    }
    target = { uid: user.uid, gid, ...(acct ? { name: acct.name } : {}) };
  } else if (user.uid === 0) {
    target = { uid: 0, gid: user.gid ?? 0, name: 'root' };
  } else if (settings.mail_user) {
    const e = await getpwnam(settings.mail_user);
    if (!e) return { kind: 'refuse', why: `mail_user ${settings.mail_user} does not exist`, temporary: true };
    target = { uid: e.uid, gid: e.gid, name: e.name };
  }
  if (!target) {
    if (current === 0 && !settings.allow_root_login) {
      return { kind: 'refuse', why: 'no uid for this user and no mail_user set: the session would run as root', temporary: true };
    }
    return { kind: 'stay', why: 'no uid known' };
  }
  if (target.uid === 0 && !settings.allow_root_login) return { kind: 'refuse', why: 'login would run as root (allow_root_login is off)', temporary: false };
  if (target.uid !== 0 && target.gid === 0 && !settings.allow_root_group) {
    return { kind: 'refuse', why: `login would run in group 0 (gid of uid ${target.uid}; allow_root_group is off)`, temporary: true };
  }
  if (current !== 0) {
    if (target.uid === current) return { kind: 'stay', why: 'already running as the user' };
    return { kind: 'refuse', why: `server runs as uid ${current}, not root, and cannot switch to uid ${target.uid}`, temporary: true };
  }
  return { kind: 'switch', to: target };
}

/** Become `to` and verify. Throws (the caller fails the login) if any step or the check fails. */
export async function switchTo(to: Identity, log: Logger): Promise<void> {
  const posix = await loadPosix();
  // Node has process.initgroups at run time but @types/node omits it; posix has it too.
  const initgroups = (process as unknown as { initgroups?: (user: string, gid: number) => void }).initgroups;
  if (to.name !== undefined && initgroups) initgroups(to.name, to.gid);
  else process.setgroups!([to.gid]);
  process.setgid!(to.gid);
  process.setuid!(to.uid);
  const ids = { uid: process.getuid!(), euid: posix.geteuid(), gid: process.getgid!(), egid: posix.getegid() };
  if (ids.uid !== to.uid || ids.euid !== to.uid || ids.gid !== to.gid || ids.egid !== to.gid) {
    throw new Error(`identity switch did not take: ${JSON.stringify(ids)}`);
  }
  if (to.uid !== 0) {
    // setuid() from root drops the saved uid too; prove we cannot climb back.
    let regained = false;
    try { process.setuid!(0); regained = true; } catch { /* expected */ }
    if (regained) throw new Error('could switch back to root after setuid');
  }
  log.debug({ uid: to.uid, gid: to.gid, groups: process.getgroups?.() }, 'switched to user identity');
}
