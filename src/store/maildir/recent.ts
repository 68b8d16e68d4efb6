// \Recent for messages that go straight to cur/: an APPEND or COPY with flags puts the file in cur/
// (as Dovecot does, so that other programs see its flags: files in new/ carry none), which takes it
// past the new/ → cur/ move by which a session claims \Recent. Their base names wait in
// <mailbox>/dmail-recent (ours; Dovecot and MUAs ignore it) until the first \Recent-claiming session
// takes them; until then every other view counts them as \Recent, like files in new/ (RFC 3501 6.3.11:
// "In either case, the Recent flag is also set"). Losing the file (a kill) loses only \Recent.
import { constants, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { MaildirEnv } from './env.js';
import { lockedUidList } from './uidlist-sync.js';

export const RECENT_FILE = 'dmail-recent';

/** Note bases delivered to cur/. The caller holds the dovecot-uidlist lock. */
export async function addRecent(dir: string, bases: readonly string[]): Promise<void> {
  if (bases.length === 0) return;
  const fh = await fsp.open(join(dir, RECENT_FILE), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  try {
    // Only a plain file of our own with one link is appended to (a planted hard link or device is not).
    const st = await fh.stat();
    if (!st.isFile() || st.nlink !== 1 || st.uid !== (process.geteuid?.() ?? st.uid)) return; // \Recent is advisory: skip
    await fh.write(bases.map((b) => `${b}\n`).join(''));
  } finally {
    await fh.close();
  }
}

async function readNames(path: string): Promise<Set<string>> {
  let text: string;
  try {
    const fh = await fsp.open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try { text = await fh.readFile('latin1'); } finally { await fh.close(); }
  } catch {
    return new Set();
  }
  return new Set(text.split('\n').filter((l) => l !== '' && !l.includes('/')));
}

/** Bases still waiting to be claimed (no lock: a view that only counts). */
export function pendingRecent(dir: string): Promise<Set<string>> {
  return readNames(join(dir, RECENT_FILE));
}

/** Take every waiting base for this session, under the dovecot-uidlist lock (one claimer wins). */
export async function claimRecentBases(dir: string, env: MaildirEnv): Promise<Set<string>> {
  const path = join(dir, RECENT_FILE);
  try { await fsp.lstat(path); } catch { return new Set(); }
  let taken = new Set<string>();
  await lockedUidList(dir, env, async () => {
    taken = await readNames(path);
    await fsp.unlink(path).catch(() => undefined);
    return false;
  });
  return taken;
}
