// POP-before-SMTP records (forward_user, Decisions 10). Format, documented for MTAs and scripts:
// one file per client IP in <work_path>/forward/, named after the IP (IPv6 with ':' as is), whose
// mtime is the last login and whose content is one line `<ip>\t<user>\t<unix time>\t<program>`.
// Each update is write-to-temp + rename, so readers never see a torn record. A record is live while
// now - mtime < forward_window; `dmailctl forward list` prints live ones and removes expired ones.

import { readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { normaliseIp } from '../auth/wildcard.js';
import { replaceFileSync } from '../store/safe-file.js';

export const forwardDir = (workPath: string) => join(workPath, 'forward');

export interface ForwardRecord { ip: string; user: string; time: Date; program: string }

/** Record a successful login from `ip`. Returns false (never throws) when it could not be written. */
export function recordForward(workPath: string, ipRaw: string, user: string, program: string, now = new Date()): boolean {
  const ip = normaliseIp(ipRaw);
  if (!isIP(ip)) return false;
  const dir = forwardDir(workPath);
  try {
    const safeUser = user.replace(/[\t\r\n]/g, '_');
    // Written as root before the uid switch: random temporary name, O_EXCL|O_NOFOLLOW, in a directory
    // checked to be ours and not writable by others (store/safe-file).
    replaceFileSync(dir, ip, `${ip}\t${safeUser}\t${Math.floor(now.getTime() / 1000)}\t${program}\n`, { mkdirMode: 0o755, mode: 0o644, mtime: now, sync: false, owners: [process.geteuid?.() ?? 0] });
    return true;
  } catch {
    return false;
  }
}

/** Live records (newest first); expired ones are deleted when `expire` is set. */
export function listForward(workPath: string, windowSec: number, opts: { expire?: boolean; now?: Date } = {}): ForwardRecord[] {
  const dir = forwardDir(workPath);
  const now = (opts.now ?? new Date()).getTime();
  let names: string[];
  try { names = readdirSync(dir); } catch { return []; }
  const out: ForwardRecord[] = [];
  for (const name of names) {
    if (name.startsWith('.') || !isIP(name)) continue;
    const file = join(dir, name);
    try {
      const st = statSync(file);
      if (now - st.mtimeMs >= windowSec * 1000) {
        if (opts.expire) {
          // Re-check right before unlinking so a login that just renewed the record keeps it.
          try { if (now - statSync(file).mtimeMs >= windowSec * 1000) unlinkSync(file); } catch { /* gone or not ours */ }
        }
        continue;
      }
      const [ip, user = '', , program = ''] = readFileSync(file, 'utf8').trim().split('\t');
      out.push({ ip: ip && isIP(ip) ? ip : name, user, time: st.mtime, program });
    } catch { /* removed meanwhile */ }
  }
  return out.sort((a, b) => b.time.getTime() - a.time.getTime());
}
