// A ServerContext for dmailctl commands that act for one user (whois, quota, bulletin, forward): the
// same settings the servers read and a logger that writes to dmailctl.log, never to stdout.

import { hostname } from 'node:os';
import { ConfigError, loadConfig } from '../config/parse.js';
import { createLogger } from '../log/logger.js';
import type { ServerContext } from './context.js';

export const DEFAULT_CONFIG = '/etc/dmail.conf';

export function cliContext(configPath: string): ServerContext {
  let loaded;
  try {
    loaded = loadConfig(configPath, 'dmailctl');
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`dmailctl: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  for (const m of loaded.errors) process.stderr.write(`dmailctl: ${m}\n`);
  const settings = loaded.settings;
  const log = createLogger(settings, 'dmailctl', { command: process.argv[2] });
  return { program: 'dmailctl', settings, log, hostname: settings.dpop_host ?? hostname(), configPath };
}
