// What every maildir module needs from the store that created it.
import type { Settings } from '../../config/settings.js';
import type { Logger } from '../../log/types.js';
import type { DotlockOptions } from './dotlock.js';

export interface MaildirEnv {
  /** The user's maildir root (INBOX), holding the Maildir++ folders. */
  root: string;
  settings: Settings;
  log: Logger;
  lock: DotlockOptions;
}
