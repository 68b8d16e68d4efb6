// Shared helpers for maildir tests: a temp maildir root, a store on it, and MDA-style delivery.
import { mkdtempSync, promises as fsp } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { defaultSettings } from '../../src/config/parse.js';
import type { Settings } from '../../src/config/settings.js';
import type { Logger } from '../../src/log/types.js';
import { createMaildirStore } from '../../src/store/maildir/index.js';
import type { MailStore, UserPaths } from '../../src/store/types.js';

export const quietLog: Logger = {
  error() {}, warn() {}, info() {}, debug() {},
  child() { return quietLog; },
};

export function tempDir(prefix = 'dmail-maildir-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function maildirPaths(root: string): UserPaths {
  return { inbox: root, folders: root, indexDir: root, kind: 'maildir' };
}

export function testSettings(extra: Partial<Settings> = {}): Settings {
  return { ...defaultSettings(), use_maildir: true, lock_timeout: 5, ...extra };
}

export function storeAt(root: string, settings = testSettings()): MailStore {
  return createMaildirStore(maildirPaths(root), settings, quietLog);
}

let seq = 0;
/** Deliver like an MDA (qmail/procmail naming, no S=/W=): write tmp/, then rename into new/. */
export async function mdaDeliver(dir: string, raw: string | Buffer): Promise<string> {
  for (const sub of ['tmp', 'new', 'cur']) await fsp.mkdir(join(dir, sub), { recursive: true });
  seq += 1;
  const name = `${Math.floor(Date.now() / 1000)}.${process.pid}_${seq}.${hostname()}`;
  await fsp.writeFile(join(dir, 'tmp', name), raw);
  await fsp.rename(join(dir, 'tmp', name), join(dir, 'new', name));
  return name;
}
