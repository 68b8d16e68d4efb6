// `dmailctl config check` on a site whose spool, folders or indexes live on a file system shared by several
// hosts (GlusterFS, NFS, CephFS, CIFS): what must hold for several imapd/dpop hosts to be correct there
// (README "Several hosts"). Read from the kernel's mount table and, for GlusterFS, from the FUSE client's
// own command line (the mount options that matter are not shown in /proc/self/mountinfo).

import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import type { Settings } from '../config/settings.js';

interface Mount { point: string; fstype: string; source: string }

/** Unescape the octal escapes of mountinfo fields (\040 for a space). */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function mountTable(text = readFileSync('/proc/self/mountinfo', 'utf8')): Mount[] {
  return text.split('\n').filter(Boolean).map((line) => {
    const [left, right = ''] = line.split(' - ');
    const f = left!.split(' ');
    const r = right.split(' ');
    return { point: unescape(f[4] ?? ''), fstype: r[0] ?? '', source: unescape(r[1] ?? '') };
  });
}

/** The mount a path lives on (the longest mount point that contains its real path). */
export function mountOf(path: string, mounts = mountTable()): Mount | undefined {
  let real: string;
  try { real = realpathSync(path); } catch { return undefined; }
  let best: Mount | undefined;
  for (const m of mounts) {
    const inside = m.point === '/' || real === m.point || real.startsWith(m.point + '/');
    if (inside && (!best || m.point.length >= best.point.length)) best = m;
  }
  return best;
}

const SHARED = /^(fuse\.glusterfs|glusterfs|nfs4?|cifs|smb3|ceph|fuse\.ceph|fuse\.sshfs|9p|ocfs2|gfs2|lustre)$/;
export const isShared = (fstype: string) => SHARED.test(fstype);

/** GlusterFS client options without which a second host reads stale sizes, names and contents. */
export const GLUSTER_CLIENT_OPTIONS = ['--attribute-timeout=0', '--entry-timeout=0', '--negative-timeout=0', '--direct-io-mode=enable'];

/** The command line of the FUSE client process serving a GlusterFS mount point (root can read them all). */
function glusterClientArgs(point: string): string[] | undefined {
  let pids: string[];
  try { pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p)); } catch { return undefined; }
  for (const pid of pids) {
    let args: string[];
    try { args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean); } catch { continue; }
    if (args.length && /glusterfs$/.test(args[0]!) && args[args.length - 1] === point) return args;
  }
  return undefined;
}

export function sharedStorageWarnings(s: Settings): string[] {
  const out: string[] = [];
  const mounts = mountTable();
  const places: [string, string | undefined][] = [['drop_path', s.drop_path], ['maildir_home', s.use_maildir ? s.maildir_home : undefined], ['index_path', s.index_path]];
  const seen = new Set<string>();
  for (const [name, path] of places) {
    if (!path) continue;
    const m = mountOf(path, mounts);
    if (!m || !isShared(m.fstype) || seen.has(m.point)) continue;
    seen.add(m.point);
    const where = `${name} ${path} is on a shared file system (${m.fstype} ${m.source} at ${m.point})`;
    if (!s.lock_id) {
      out.push(`${where} but lock_id is not set: give every host its own lock_id, so that its dot-lock files name it and a `
        + 'lock is only ever broken by age, never taken from a live holder on another host');
    }
    if (s.use_flock) {
      out.push(`${where} with use_flock true: flock and fcntl locks on one file conflict with each other there (even in one `
        + 'process); set use_flock false (fcntl and dot-locks are what cross hosts)');
    }
    if (/glusterfs/.test(m.fstype)) {
      const args = glusterClientArgs(m.point);
      const missing = args ? GLUSTER_CLIENT_OPTIONS.filter((o) => !args.includes(o)) : [];
      if (missing.length) {
        out.push(`${where}, mounted without ${missing.map((o) => o.slice(2)).join(', ')}: other hosts' changes are seen late `
          + '(stale sizes, names and contents for about a second). Mount with -o attribute-timeout=0,entry-timeout=0,'
          + 'negative-timeout=0,direct-io-mode=enable and turn the volume\'s performance.* caches off (README, "Several hosts")');
      }
    }
  }
  return out;
}
