// Open one authenticated user's mail store: mbox (drop file + folders) or maildir when configured.

import type { Settings } from '../config/settings.js';
import type { AuthUser } from '../auth/types.js';
import type { Logger } from '../log/types.js';
import type { MailStore, UserPaths } from './types.js';
import { resolveUserPaths, loadMaildir } from './paths.js';
import { MboxStore } from './mbox/store.js';
import { checkIndexDir } from './trust.js';
import type { MailboxBus } from './bus.js';

/** `bus`: the in-process change notification of the process serving the session (store/bus.ts). */
export async function openUserStore(settings: Settings, user: AuthUser, log: Logger, bus?: MailboxBus): Promise<{ store: MailStore; paths: UserPaths }> {
  const paths = await resolveUserPaths(settings, user);
  log.debug({ inbox: paths.inbox, folders: paths.folders, index: paths.indexDir, kind: paths.kind }, 'mail store paths');
  checkIndexDir(settings, paths);
  if (paths.kind === 'maildir') {
    const mod = await loadMaildir<{ createMaildirStore(p: UserPaths, s: Settings, l: Logger, b?: MailboxBus): MailStore | Promise<MailStore> }>('index');
    return { store: await mod.createMaildirStore(paths, settings, log, bus), paths };
  }
  return { store: new MboxStore(paths, settings, log, bus), paths };
}
