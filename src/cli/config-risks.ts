// `dmailctl config check`: settings that parse fine but put root among files users can change (issue 13).
// Checks the settings and, where a directory exists, its owner and mode. Each warning says what happens
// and what to do; the trust model is in src/auth/README.md and src/store/README.md.

import { readFileSync, statSync, type Stats } from 'node:fs';
import type { Settings } from '../config/settings.js';

function statOrUndefined(path: string | undefined): Stats | undefined {
  if (!path) return undefined;
  try { return statSync(path); } catch { return undefined; }
}

const mode8 = (st: Stats) => (st.mode & 0o7777).toString(8).padStart(4, '0');
const othersWrite = (st: Stats) => (st.mode & 0o022) !== 0;
const sticky = (st: Stats) => (st.mode & 0o1000) !== 0;

export function riskWarnings(s: Settings): string[] {
  const out: string[] = [];
  if (!s.imapd_become_user) {
    out.push('imapd_become_user false: sessions keep the server\'s identity. Started as root (inetd, systemd) every session '
      + 'runs as root: such logins are refused unless allow_root_login is true, and a root session serves only drop, folder '
      + 'and index directories that no user can write to (see src/auth/README.md, trust model)');
    if (s.imapd_mailbox_name) {
      out.push(`imapd_become_user false with imapd_mailbox_name ${s.imapd_mailbox_name}: folders live in the users' home `
        + 'directories, which users can write to; a root session refuses them (users could swap a directory for a symlink '
        + 'or plant links for its temporary files). Keep imapd_become_user true');
    }
    let hardlinks = '';
    try { hardlinks = readFileSync('/proc/sys/fs/protected_hardlinks', 'latin1').trim(); } catch { /* not Linux */ }
    if (hardlinks === '0') {
      out.push('imapd_become_user false with fs.protected_hardlinks = 0: a user can hard-link a root file as their drop file, '
        + 'which a root session then rewrites. Set fs.protected_hardlinks = 1 (sysctl)');
    }
    const spool = statOrUndefined(s.drop_path);
    if (spool && othersWrite(spool) && s.drop_path) {
      out.push(`imapd_become_user false with drop_path ${s.drop_path} writable by others (mode ${mode8(spool)}): a user can `
        + 'pre-create another user\'s folder directory (<drop>.mbx) there, and that user\'s root session is then refused');
    }
  }
  if (s.allow_root_login) out.push('allow_root_login true: sessions may run as root');
  if (s.allow_root_group) out.push('allow_root_group true: a session may run in group 0 (an auth module\'s gid="0", or an account whose group is 0)');
  if (s.login_lifetime <= 0) {
    out.push('login_lifetime 0: an unauthenticated client that sends a byte now and then holds a process forever; DMail\'s limit is 180 seconds');
  }
  if (s.ip_failure_window <= 0) {
    out.push('ip_failure_window 0: no per-address login delay; a client that reconnects after every auth_max_failures failures guesses passwords without slowing down');
  }
  const me = process.geteuid?.() ?? 0;
  const idx = statOrUndefined(s.index_path);
  if (idx && s.index_path) {
    if (idx.uid !== 0 && idx.uid !== me) {
      out.push(`index_path ${s.index_path} is owned by uid ${idx.uid}, not root: its owner controls every user's index and `
        + 'journals. Make it root\'s, mode 0755 (the server creates the hash directories as root at login)');
    } else if (othersWrite(idx) && !sticky(idx)) {
      out.push(`index_path ${s.index_path} is writable by others without the sticky bit (mode ${mode8(idx)}): a user could `
        + 'replace another user\'s index directory. Use mode 0755');
    } else if (othersWrite(idx)) {
      out.push(`index_path ${s.index_path} is writable by others (mode ${mode8(idx)}): users can pre-create entries that `
        + 'root then moves aside at login. Mode 0755 is enough: the server creates the hash directories as root');
    }
  }
  const work = statOrUndefined(s.work_path);
  if (work && s.work_path && ((work.uid !== 0 && work.uid !== me) || (othersWrite(work) && !sticky(work)))) {
    out.push(`work_path ${s.work_path} (owner uid ${work.uid}, mode ${mode8(work)}): root writes session and POP-before-SMTP `
      + 'records there before switching to the user; it should be root\'s and not writable by others');
  }
  return out;
}
