// The logger every module receives. Backed by pino writing to <log_path>/<program>.log (log/logger.ts).
// Bindings carry pid, protocol, client address and, after login, the user. Never pass a password.

export interface Logger {
  error(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
  /** A logger with more bound fields (e.g. { user }). */
  child(bindings: Record<string, unknown>): Logger;
}
