// What every per-connection server (imapd, dpop) is handed by its entry point.

import type { Program, Settings } from '../config/settings.js';
import type { Logger } from '../log/types.js';
import type { HostServices } from './services.js';

export interface ServerContext {
  program: Program;
  settings: Settings;
  log: Logger;
  /** Host name for greetings: dpop_host, else os.hostname(). */
  hostname: string;
  /** Path of the dmail.conf in use (for messages and child processes). */
  configPath: string;
  /** The process serving this session (session/host.ts): auth module child, identity, mailbox bus.
   *  Absent (dmailctl, unit tests): a private set is made for this context object (services.ts). */
  host?: HostServices;
}
