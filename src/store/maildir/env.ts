// What every maildir module needs from the store that created it.
import type { Settings } from '../../config/settings.js';
import type { Logger } from '../../log/types.js';
import type { DotlockOptions } from './dotlock.js';
import type { ChangeLog } from '../changelog.js';
import type { MailboxBus } from '../bus.js';

export interface MaildirEnv {
  /** The user's maildir root (INBOX), holding the Maildir++ folders. */
  root: string;
  settings: Settings;
  log: Logger;
  lock: DotlockOptions;
  /** This store's change-log readers (changes.ts changeLogOf): per store, not per process, so that no
   *  session's logger or bus lives on in another's. */
  changeLogs: Map<string, ChangeLog>;
  /** In-process change notification among the sessions of this process (store/bus.ts). */
  bus?: MailboxBus;
}
