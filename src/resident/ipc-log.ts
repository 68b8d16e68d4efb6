// The logger of a pre-login process: it runs unprivileged and cannot open the server's log file, so each
// line goes to the master over the IPC channel and the master writes it (with the same redaction as every
// other line). Fire and forget: a line is never worth stalling a connection for.

import type { Logger } from '../log/types.js';
import type { FromPrelogin, LogLevel } from './ipc.js';

export class IpcLogger implements Logger {
  constructor(private readonly bindings: Record<string, unknown> = {}) {}

  private send(level: LogLevel, obj: object | string, msg?: string): void {
    if (!process.send || !process.connected) return;
    const plain = typeof obj === 'string' ? obj : JSON.parse(JSON.stringify(obj, errorsAsText)) as unknown;
    const m: FromPrelogin = { t: 'log', level, bindings: this.bindings, obj: plain, ...(msg !== undefined ? { msg } : {}) };
    try { process.send(m); } catch { /* master gone: nothing to log to */ }
  }

  error(obj: object | string, msg?: string): void { this.send('error', obj, msg); }
  warn(obj: object | string, msg?: string): void { this.send('warn', obj, msg); }
  info(obj: object | string, msg?: string): void { this.send('info', obj, msg); }
  debug(obj: object | string, msg?: string): void { this.send('debug', obj, msg); }
  child(bindings: Record<string, unknown>): Logger { return new IpcLogger({ ...this.bindings, ...bindings }); }
}

function errorsAsText(_key: string, value: unknown): unknown {
  return value instanceof Error ? { message: value.message, stack: value.stack } : value;
}

/** Master side: write a line a pre-login process sent. */
export function writeForwarded(log: Logger, m: Extract<FromPrelogin, { t: 'log' }>, pid: number | undefined): void {
  const l = log.child({ ...m.bindings, prelogin: pid });
  const obj = (typeof m.obj === 'string' || (m.obj !== null && typeof m.obj === 'object')) ? m.obj as object | string : String(m.obj);
  switch (m.level) {
    case 'error': l.error(obj, m.msg); break;
    case 'warn': l.warn(obj, m.msg); break;
    case 'debug': l.debug(obj, m.msg); break;
    default: l.info(obj, m.msg);
  }
}
