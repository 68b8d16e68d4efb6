// Where a user's maildir is (Decisions 13): maildir_home/<hash dirs>/<dropname>[.mdir], or the root
// given for the user's virtual domain by `maildir_althome <domain> <path>`. INBOX is that directory;
// folders are Maildir++ sub-directories of it, and Dovecot-format index files live inside it too.

import { join } from 'node:path';
import type { Settings } from '../../config/settings.js';
import type { AuthUser } from '../../auth/types.js';
import { StoreError, type UserPaths } from '../types.js';
import { hashDirs } from '../hash-schemes.js';
import { checkDropName } from '../drop-name.js';

export const MAILDIR_SUFFIX = '.mdir';

/** The maildir root for a user's domain: the matching maildir_althome line, else maildir_home. */
export function maildirRoot(settings: Pick<Settings, 'maildir_home' | 'maildir_althome'>, domain: string | undefined): string {
  if (domain) {
    for (const line of settings.maildir_althome ?? []) {
      const m = /^\s*(\S+)\s+(.+?)\s*$/.exec(line);
      if (m && m[1].toLowerCase() === domain.toLowerCase()) return m[2];
    }
  }
  if (!settings.maildir_home) throw new StoreError('UNAVAILABLE', 'use_maildir is set but maildir_home is not');
  return settings.maildir_home;
}

export function resolveMaildirPaths(settings: Settings, user: AuthUser): UserPaths {
  const name = user.dropName;
  checkDropName(name, settings);
  const root = maildirRoot(settings, user.domain);
  const dir = join(root, ...hashDirs(name, settings.hash_spool ?? 0, settings), name + (settings.maildir_suffix ? MAILDIR_SUFFIX : ''));
  return { inbox: dir, folders: dir, indexDir: dir, kind: 'maildir' };
}
