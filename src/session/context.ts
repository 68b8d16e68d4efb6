// What every per-connection server (imapd, dpop) is handed by its entry point.

import type { Program, Settings } from '../config/settings.js';
import type { Logger } from '../log/types.js';

export interface ServerContext {
  program: Program;
  settings: Settings;
  log: Logger;
  /** Host name for greetings: dpop_host, else os.hostname(). */
  hostname: string;
  /** Path of the dmail.conf in use (for messages and child processes). */
  configPath: string;
}
