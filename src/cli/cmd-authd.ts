// `dmailctl authd [--db FILE] [WORDS...]`: the shipped external authentication module.
// Without words it speaks DMail's protocol on stdin/stdout (use it as authent_process:
// `authent_process /usr/local/bin/dmailctl authd --db /var/lib/dmail/authd.db`). With words it runs one
// admin request and prints the reply: `set USER PASS [label="value" ...]`, `del USER`,
// `search PATTERN`, `check USER PASS`, `lookup USER`. Exit status 0 on +OK, 1 otherwise.

import type { Command } from 'commander';

export const DEFAULT_DB = '/var/lib/dmail/authd.db';

export function register(program: Command): void {
  program
    .command('authd')
    .description('external authentication module (DMail protocol on stdin/stdout) and its admin commands')
    .option('--db <file>', 'user database file', DEFAULT_DB)
    .argument('[words...]', 'one admin request: set USER PASS [label="value" ...] | del USER | search PATTERN | check USER PASS | lookup USER')
    .allowUnknownOption()
    .action(async (words: string[], opts: { db: string }) => {
      const { UserDb } = await import('../auth/authd/db.js');
      const { handleRequest, runAuthd } = await import('../auth/authd/protocol.js');
      const db = new UserDb(opts.db);
      if (words.length === 0) {
        await runAuthd(db, process.stdin, process.stdout);
        return;
      }
      // The shell already split the words: keep them (a password may hold spaces). Info fields lost
      // their quotes to the shell (`quota=100`); put them back. Only after `set USER PASS`: a password
      // may itself contain '='.
      const [cmd = '', ...args] = words;
      const fixed = args.map((w, i) => (cmd === 'set' && i >= 2 && /^[^\s="]+=/.test(w) && !/="/.test(w) ? w.replace(/=(.*)$/, '="$1"') : w));
      const r = await handleRequest(db, cmd.toLowerCase(), fixed);
      process.stdout.write(r.lines.map((l) => l + '\n').join(''));
      process.exitCode = r.ok ? 0 : 1;
    });
}
