// dmailctl sessions: who is connected right now, from <work_path>/sessions (written at login). The shorter,
// older listing; `dmailctl who` adds protocol, mailbox and idle time.

import type { Command } from 'commander';
import { liveSessions, printColumns } from './live-sessions.js';

export function register(program: Command): void {
  program
    .command('sessions')
    .description('list live IMAP/POP3 sessions')
    .option('-i, --config <file>', 'dmail.conf (for work_path)', '/etc/dmail.conf')
    .option('--json', 'one JSON object per line')
    .action((opts: { config: string; json?: boolean }) => {
      const sessions = liveSessions(opts.config);
      if (opts.json) {
        for (const s of sessions) process.stdout.write(JSON.stringify(s) + '\n');
        return;
      }
      if (!sessions.length) {
        process.stdout.write('no live sessions\n');
        return;
      }
      printColumns([['PID', 'PROGRAM', 'USER', 'CLIENT', 'SINCE'], ...sessions.map((s) => [String(s.pid), s.program, s.user, s.remoteAddress, s.since])]);
    });
}
