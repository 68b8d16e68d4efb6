// dmailctl who: the live sessions with what they are doing — user, protocol, client address, mailbox,
// since when, idle for how long — like `doveadm who` and DMail's tellpop status. From the records under
// <work_path>/sessions (src/log/sessions.ts): written at login, updated on mailbox changes and at most every
// ACTIVITY_GRAIN_MS of activity, checked against /proc so a dead or reused pid is never shown.

import type { Command } from 'commander';
import { ACTIVITY_GRAIN_MS, type SessionInfo } from '../log/sessions.js';
import { liveSessions, printColumns } from './live-sessions.js';

const PROTOCOL: Record<string, string> = { imapd: 'imap', dpop: 'pop3' };

/** Seconds as a short duration: 45s, 12m, 3h05m, 2d04h. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

export interface WhoRow {
  user: string;
  protocol: string;
  client: string;
  mailbox: string | null;
  since: string;
  /** Seconds since the last command (to within ACTIVITY_GRAIN_MS), or since login. */
  idleSeconds: number;
  pid: number;
}

export function whoRows(sessions: SessionInfo[], now = Date.now()): WhoRow[] {
  return sessions.map((s) => ({
    user: s.user,
    protocol: PROTOCOL[s.program] ?? s.program,
    client: s.remoteAddress,
    mailbox: s.mailbox ?? null,
    since: s.since,
    idleSeconds: Math.max(0, Math.round((now - Date.parse(s.active ?? s.since)) / 1000)),
    pid: s.pid,
  }));
}

export function register(program: Command): void {
  program
    .command('who')
    .description('live sessions: user, protocol, client, mailbox, since, idle (like doveadm who)')
    .option('-i, --config <file>', 'dmail.conf (for work_path)', '/etc/dmail.conf')
    .option('--json', 'one JSON object per line')
    .option('-u, --user <name>', 'only this user\'s sessions')
    .action((opts: { config: string; json?: boolean; user?: string }) => {
      const rows = whoRows(liveSessions(opts.config)).filter((r) => !opts.user || r.user === opts.user);
      if (opts.json) {
        for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
        return;
      }
      if (!rows.length) {
        process.stdout.write('no live sessions\n');
        return;
      }
      printColumns([['USER', 'PROTO', 'CLIENT', 'MAILBOX', 'SINCE', 'IDLE', 'PID'],
        ...rows.map((r) => [r.user, r.protocol, r.client, r.mailbox ?? '-', r.since.replace(/\.\d+Z$/, 'Z'), duration(r.idleSeconds), String(r.pid)])]);
      process.stdout.write(`${rows.length} session(s); idle times to within ${ACTIVITY_GRAIN_MS / 1000} s\n`);
    });
}
