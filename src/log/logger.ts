// The logger every module receives: pino writing synchronously to <log_path or work_path>/<program>.log,
// to syslog, or both (`log_to`). Never stdout (that is the client socket). A log file that cannot be
// opened falls back to syslog (src/log/syslog.ts).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import type { Program, Settings } from '../config/settings.js';
import type { Logger } from './types.js';
import { RotatingFile } from './rotating-file.js';
import { adminMessage } from './stderr.js';
import { SyslogDestination } from './syslog.js';

/** Field names whose values are never written, at any nesting depth we look at. */
const SECRET_KEYS = /^(pass|passwd|password|secret|pw|credentials?)$/i;
const REDACTED = '[redacted]';
const MAX_REDACT_DEPTH = 4;

/** Protocol command lines that carry a credential: IMAP `tag LOGIN user pass`, `tag AUTHENTICATE mech
 *  initial-response`; POP3 `PASS pass`, `APOP user digest`, `AUTH mech initial-response`. A last line of
 *  defence in case a raw command line reaches the log; protocol code does not log them in the first
 *  place. Precise, so that the server's own messages stay readable: "auth module timed out; killing it"
 *  is not `AUTH <mech> <base64>` (one base64 token, length a multiple of 4, must end the line), and
 *  "login failed for bob" has no tag before LOGIN (tagged lines are scrubbed whatever follows). */
const CREDENTIAL_LINE = /^\S*\s*(LOGIN|PASS|APOP|AUTHENTICATE|AUTH)\s/i;
const BASE64 = /^(?:=|(?:[A-Za-z0-9+/]{4})+|(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=))$/;
/** SASL mechanism names are upper case (RFC 4422 §3.1); the usual ones are also recognised in lower case. */
const KNOWN_MECHS = /^(PLAIN|LOGIN|XOAUTH2|OAUTHBEARER|EXTERNAL|ANONYMOUS|CRAM-MD5|DIGEST-MD5|GSSAPI|NTLM|SCRAM-[A-Z0-9-]+)$/i;
const POP_AUTH = /^(AUTH\s+(\S+)\s+)(\S+)\s*$/i;
const CREDENTIAL_PARTS: [RegExp, string][] = [
  [/^([^\s(){%*"\\\]]+\s+LOGIN\s+(?:"(?:[^"\\\r\n]|\\.)*"|\{\d+\+?\}|[^\s"]+)\s+)\S.*/i, '$1[redacted]'],
  [/^([^\s(){%*"\\\]]+\s+AUTHENTICATE\s+\S+\s+)\S.*/i, '$1[redacted]'],
  [/^(APOP\s+\S+\s+)\S+\s*$/i, '$1[redacted]'],
  [/^(PASS\s+)\S.*/i, '$1[redacted]'],
];

/** `text` with the credential part of a LOGIN / PASS / APOP / AUTHENTICATE / AUTH line replaced. */
export function scrubText(text: string): string {
  if (!CREDENTIAL_LINE.test(text)) return text;
  const auth = POP_AUTH.exec(text);
  if (auth) {
    const mech = auth[2]!;
    if ((/^[A-Z0-9_-]{1,20}$/.test(mech) || KNOWN_MECHS.test(mech)) && BASE64.test(auth[3]!)) return `${auth[1]}[redacted]`;
  }
  for (const [re, to] of CREDENTIAL_PARTS) {
    const out = text.replace(re, to);
    if (out !== text) return out;
  }
  return text;
}

/** A copy of `obj` without secret-named fields or credential-carrying command lines (the same object
 *  when there is nothing to hide). */
export function redact<T>(obj: T, depth = 0): T {
  if (typeof obj === 'string') return scrubText(obj) as T;
  if (obj === null || typeof obj !== 'object' || depth > MAX_REDACT_DEPTH || Buffer.isBuffer(obj) || obj instanceof Error) return obj;
  if (Array.isArray(obj)) {
    let changed = false;
    const out = obj.map((v) => { const r = redact(v, depth + 1); if (r !== v) changed = true; return r; });
    return (changed ? out : obj) as T;
  }
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    const r = SECRET_KEYS.test(k) ? REDACTED : redact(v, depth + 1);
    if (r !== v) {
      out ??= { ...(obj as Record<string, unknown>) };
      out[k] = r;
    }
  }
  return (out ?? obj) as T;
}

export function logFilePath(settings: Pick<Settings, 'log_path' | 'work_path'>, program: Program): string {
  return join(settings.log_path ?? settings.work_path, `${program}.log`);
}

/** DMail's three levels onto pino's: "error" keeps warnings too, so problems are never hidden. */
function pinoLevel(level: Settings['log_level']): pino.Level {
  return level === 'debug' ? 'debug' : level === 'error' ? 'warn' : 'info';
}

interface Destination { write(s: string): void }

const nowhere: Destination = { write() { /* log file unavailable */ } };

/** Both destinations at once (`log_to both`). */
const tee = (a: Destination, b: Destination): Destination => ({ write(s) { a.write(s); b.write(s); } });

/**
 * Where the log goes (`log_to`): the rotating file, syslog, or both. A file that cannot be opened falls
 * back to syslog (under inetd, stderr is the client's socket: without the fallback nobody would hear of
 * it), and the reason is the first line syslog gets. Only when neither works does the server run without
 * a log, and says so on stderr where that is not the client.
 */
export function openDestination(settings: Settings, program: Program): Destination {
  const to = settings.log_to ?? 'file';
  let file: Destination | undefined;
  let fileProblem: string | undefined;
  if (to !== 'syslog') {
    const path = logFilePath(settings, program);
    try {
      try { mkdirSync(join(path, '..'), { recursive: true }); } catch { /* open reports it */ }
      file = new RotatingFile(path, { maxSize: settings.max_log_size, keep: settings.rotated_logs });
    } catch (e) {
      fileProblem = `cannot open log file ${path} (${(e as NodeJS.ErrnoException).code ?? e})`;
    }
  }
  let sys: Destination | undefined;
  if (to !== 'file' || fileProblem) {
    try {
      sys = new SyslogDestination(program, settings.syslog_facility ?? 'mail');
    } catch (e) {
      adminMessage(`${program}: cannot log to syslog (${(e as Error).message})`);
    }
  }
  if (fileProblem) {
    if (sys) sys.write(JSON.stringify({ level: 40, msg: `${fileProblem}; logging to syslog instead` }));
    else adminMessage(`${program}: ${fileProblem}; serving without a log`);
  }
  return file && sys ? tee(file, sys) : file ?? sys ?? nowhere;
}

/**
 * Make the process logger. `bindings` typically carries { protocol, remote }; pid is always added.
 * After login, use `log.child({ user })`.
 */
export function createLogger(settings: Settings, program: Program, bindings: Record<string, unknown> = {}, dest?: Destination): Logger {
  const maxLen = settings.max_loglen > 0 ? settings.max_loglen : Infinity;
  const p = pino(
    {
      level: pinoLevel(settings.log_level),
      base: { pid: process.pid, program },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        bindings: (b) => redact(b),
        log: (o) => redact(o),
      },
      hooks: {
        // max_loglen: a client's overlong line must not fill the disk through the log.
        logMethod(args, method) {
          const a = args as unknown[];
          for (let i = 0; i < a.length; i++) {
            const v = a[i];
            if (typeof v === 'string') a[i] = scrubText(v.length > maxLen ? v.slice(0, maxLen) + '...' : v);
          }
          return method.apply(this, args);
        },
      },
    },
    dest ?? openDestination(settings, program),
  );
  return wrap(p.child(redact(bindings)));
}

/** Our Logger over pino, so child bindings pass through redact() too (pino formats only log objects). */
function wrap(p: pino.Logger): Logger {
  return {
    error: p.error.bind(p),
    warn: p.warn.bind(p),
    info: p.info.bind(p),
    debug: p.debug.bind(p),
    child: (b) => wrap(p.child(redact(b))),
  };
}
