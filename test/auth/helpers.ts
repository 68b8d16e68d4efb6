// Shared bits for auth/session tests: settings from the real defaults, a logger that keeps every
// entry (to prove what was and was not logged), and temp dirs that are removed afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultSettings } from '../../src/config/parse.js';
import type { Settings } from '../../src/config/settings.js';
import type { Logger } from '../../src/log/types.js';
import type { ServerContext } from '../../src/session/context.js';

export function settingsWith(over: Partial<Settings> = {}): Settings {
  return { ...defaultSettings(), ...over };
}

export interface MemLogger extends Logger { entries: unknown[]; text(): string }

export function memLogger(entries: unknown[] = [], bound: Record<string, unknown> = {}): MemLogger {
  const put = (level: string) => (obj: object | string, msg?: string) => { entries.push({ level, ...bound, ...(typeof obj === 'string' ? { msg: obj } : obj), ...(msg ? { msg } : {}) }); };
  return {
    entries,
    error: put('error'), warn: put('warn'), info: put('info'), debug: put('debug'),
    child: (b) => memLogger(entries, { ...bound, ...b }),
    text: () => JSON.stringify(entries),
  };
}

export function context(over: Partial<Settings> = {}, program: ServerContext['program'] = 'imapd'): ServerContext & { log: MemLogger } {
  return { program, settings: settingsWith(over), log: memLogger(), hostname: 'test.example', configPath: '/dev/null' };
}

const dirs: string[] = [];
export function tempDir(prefix = 'dmail-auth-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
export function cleanupTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}
