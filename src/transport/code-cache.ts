// What src/launcher.cjs found of the bundle's V8 code cache, told to the log: once per process, at debug
// level, only when the cache was not used (missing, untrusted, stale, damaged or rejected by V8). The
// launcher leaves its note on globalThis under this symbol because it runs before any configuration or
// logger exists; the note is the process's own start-up fact, not session state.
import type { Logger } from '../log/types.js';

interface CodeCacheNote {
  file: string;
  used: boolean;
  reason?: string;
  logged?: boolean;
}

const NOTE = Symbol.for('dmail.codeCache');

export function logCodeCache(log: Logger): void {
  const note = (globalThis as Record<symbol, CodeCacheNote | undefined>)[NOTE];
  if (!note || note.used || note.logged) return;
  note.logged = true;
  log.debug({ file: note.file, reason: note.reason }, 'V8 code cache not used');
}
