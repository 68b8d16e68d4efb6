// dmailctl sessions: who is connected right now, from <work_path>/sessions (written at login).

import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../config/parse.js';
import { listSessions } from '../log/sessions.js';

export function register(program: Command): void {
  program
    .command('sessions')
    .description('list live IMAP/POP3 sessions')
    .option('-i, --config <file>', 'dmail.conf (for work_path)', '/etc/dmail.conf')
    .option('--json', 'one JSON object per line')
    .action((opts: { config: string; json?: boolean }) => {
      let workPath: string;
      try {
        workPath = loadConfig(opts.config, 'dmailctl').settings.work_path;
      } catch (e) {
        process.stderr.write(`dmailctl: ${e instanceof ConfigError ? e.message : (e as Error).message}\n`);
        process.exit(1);
      }
      const sessions = listSessions(workPath);
      if (opts.json) {
        for (const s of sessions) process.stdout.write(JSON.stringify(s) + '\n');
        return;
      }
      if (!sessions.length) {
        process.stdout.write('no live sessions\n');
        return;
      }
      const rows = [['PID', 'PROGRAM', 'USER', 'CLIENT', 'SINCE'], ...sessions.map((s) => [String(s.pid), s.program, s.user, s.remoteAddress, s.since])];
      const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
      for (const r of rows) process.stdout.write(r.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd() + '\n');
    });
}
