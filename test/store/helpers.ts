// Shared fixtures for the mbox store tests: a temp spool with one user and a quiet logger.
import { mkdtempSync, rmSync, appendFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../src/log/types.js';
import type { Settings } from '../../src/config/settings.js';
import { SETTINGS } from '../../src/config/settings.js';
import { MboxStore } from '../../src/store/mbox/store.js';
import { resolveMboxPaths } from '../../src/store/paths.js';
import type { UserPaths } from '../../src/store/types.js';
import { fromLineDate } from '../helpers/site.js';

export const quietLog: Logger = {
  error() {}, warn() {}, info() {}, debug() {},
  child() { return quietLog; },
};

export function defaultSettings(over: Partial<Settings> = {}): Settings {
  const s: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(SETTINGS)) s[k] = (spec as { def?: unknown }).def;
  return { ...(s as Settings), ...over };
}

export interface TempUser {
  dir: string;
  spool: string;
  settings: Settings;
  paths: UserPaths;
  store(): MboxStore;
  deliver(raw: string, date?: Date): void;
  cleanup(): void;
}

export function tempUser(over: Partial<Settings> = {}): TempUser {
  const dir = mkdtempSync(join(tmpdir(), 'store-mbox-'));
  const spool = join(dir, 'spool');
  mkdirSync(spool);
  const settings = defaultSettings({ drop_path: spool, lock_timeout: 20, lock_stale: 30, ...over });
  const paths = resolveMboxPaths(settings, { login: 'bob', user: 'bob', dropName: 'bob', info: {} });
  return {
    dir, spool, settings, paths,
    store: () => new MboxStore(paths, settings, quietLog),
    deliver(raw, date = new Date('2024-01-02T03:04:05Z')) {
      const body = raw.replace(/\r\n/g, '\n').replace(/^(>*From )/gm, '>$1');
      appendFileSync(paths.inbox, `From sender@example.com ${fromLineDate(date)}\n${body}${body.endsWith('\n') ? '' : '\n'}\n`);
    },
    cleanup() { rmSync(dir, { recursive: true, force: true }); },
  };
}
