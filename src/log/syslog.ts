// The syslog destination: each log line goes to the local syslog daemon through libc's syslog(3) (the
// `posix` addon: openlog/syslog; the message is passed as "%s", never as a format), which writes to
// /dev/log — rsyslog's socket, or journald's under systemd. Used when `log_to` says so, and as the
// fallback when the log file cannot be opened: under inetd stderr is the client's socket, so without it a
// broken log_path would mean no log at all.
//
// pino hands us one JSON line per event; syslog adds its own time, host and pid, so the line sent is the
// message followed by the remaining fields as JSON (`login ok {"user":"bob","remote":"10.0.0.7"}`), at
// the priority of the pino level. Credentials never get here: pino's formatters redact them first.

import { createRequire } from 'node:module';

interface PosixSyslog {
  openlog(ident: string, options: Record<string, boolean>, facility: string): void;
  syslog(priority: string, message: string): void;
}

/** Facilities an administrator may name in `syslog_facility`. */
export const SYSLOG_FACILITIES = ['mail', 'daemon', 'user', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'] as const;

/** pino's numeric levels onto syslog priorities. */
function priorityOf(level: unknown): string {
  const n = typeof level === 'number' ? level : 30;
  return n >= 60 ? 'crit' : n >= 50 ? 'err' : n >= 40 ? 'warning' : n >= 30 ? 'info' : 'debug';
}

/** Fields syslog already shows (time, pid, ident) or that are the message itself. */
const OMIT = new Set(['level', 'time', 'pid', 'program', 'msg', 'hostname']);

/** The text sent for one pino JSON line; lines that are not JSON are sent as they are. */
export function syslogText(line: string): { priority: string; text: string } {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return { priority: 'info', text: line.replace(/\n+$/, '') };
  }
  const rest: Record<string, unknown> = {};
  let any = false;
  for (const [k, v] of Object.entries(o)) if (!OMIT.has(k)) { rest[k] = v; any = true; }
  const msg = typeof o.msg === 'string' ? o.msg : '';
  return { priority: priorityOf(o.level), text: any ? `${msg} ${JSON.stringify(rest)}`.trim() : msg };
}

export class SyslogDestination {
  private readonly posix: PosixSyslog;

  /** Throws when the addon cannot be loaded (the caller then has no log, and says so on stderr). */
  constructor(ident: string, facility: string) {
    this.posix = createRequire(import.meta.url)('posix') as PosixSyslog;
    // ndelay: connect now, while the process may still reach /dev/log (before any chroot or uid change).
    this.posix.openlog(ident, { pid: true, ndelay: true }, facility);
  }

  write(line: string): void {
    for (const one of line.split('\n')) {
      if (!one) continue;
      const { priority, text } = syslogText(one);
      try { this.posix.syslog(priority, text); } catch { /* syslog(3) reports nothing; neither do we */ }
    }
  }
}
