// Where one user's mail lives: the INBOX drop file, the folder directory and the index directory,
// from dmail.conf + the authenticated user (reference §2.2, §2.3, §6.2; Decisions 2 and 3).

import { join, isAbsolute } from 'node:path';
import type { Settings } from '../config/settings.js';
import type { AuthUser } from '../auth/types.js';
import type { UserPaths } from './types.js';
import { StoreError } from './types.js';
import { hashDirs } from './hash-schemes.js';
import { checkDropName, splitDropPrefix } from './drop-name.js';

export { HASH_SCHEMES, hashScheme, hashDirs } from './hash-schemes.js';
export type { HashScheme } from './hash-schemes.js';


type MboxSettings = Pick<Settings, 'drop_path' | 'hash_spool' | 'hash_scheme' | 'imapd_enable_new_hashing'
  | 'drop_prefix' | 'vdomain_separator' | 'imapd_mailbox_name' | 'index_path' | 'invalid_chars' | 'lock_id'>;

/** The mbox layout (always synchronous; no maildir involved). */
export function resolveMboxPaths(settings: MboxSettings, user: AuthUser): UserPaths {
  let inbox: string;
  let dropName = user.dropName;
  if (user.dropPath) {
    if (!isAbsolute(user.dropPath) || user.dropPath.split('/').includes('..') || user.dropPath.includes('\0')) {
      throw new StoreError('NOPERM', 'external authentication returned an unsafe drop path');
    }
    inbox = user.dropPath;
  } else {
    checkDropName(dropName, settings);
    let base = user.dropDir ?? settings.drop_path ?? '/var/spool/mail';
    // drop_prefix: the vdomain prefix becomes a directory of the drop path instead of a name prefix.
    if (settings.drop_prefix && user.prefix && !user.dropDir) {
      const split = splitDropPrefix(dropName, user.prefix, settings);
      dropName = split.name;
      base = join(base, split.dir);
    }
    inbox = join(base, ...hashDirs(dropName, settings.hash_spool ?? 0, settings), dropName);
  }
  let folders: string;
  const mailboxName = settings.imapd_mailbox_name;
  if (mailboxName && user.home && !user.dropPath && !user.dropDir) {
    if (isAbsolute(mailboxName) || mailboxName.split('/').includes('..')) {
      throw new StoreError('NOPERM', 'imapd_mailbox_name must be relative to the home directory');
    }
    folders = join(user.home, mailboxName);
  } else {
    folders = inbox + '.mbx';
  }
  if (settings.index_path) checkDropName(user.dropName, settings);
  const indexDir = settings.index_path
    ? join(settings.index_path, ...hashDirs(user.dropName, 2, settings), user.dropName)
    : join(folders, '.imapd-index');
  return { inbox, folders, indexDir, kind: 'mbox' };
}

/** The maildir back end, loaded only when configured. */
export async function loadMaildir<T>(which: 'paths' | 'index'): Promise<T> {
  // Literal specifiers so esbuild bundles the modules (they are owned by the maildir back end).
  return (which === 'paths' ? await import('./maildir/paths.js') : await import('./maildir/index.js')) as T;
}

/** Resolve a user's paths. Async because the maildir layout module is loaded only when configured. */
export async function resolveUserPaths(settings: Settings, user: AuthUser): Promise<UserPaths> {
  if (settings.use_maildir) {
    const mod = await loadMaildir<{ resolveMaildirPaths(s: Settings, u: AuthUser): UserPaths }>('paths');
    return mod.resolveMaildirPaths(settings, user);
  }
  return resolveMboxPaths(settings, user);
}
