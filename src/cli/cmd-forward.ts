// `dmailctl forward list [--postfix] [-i FILE]`: client IPs with a live POP-before-SMTP record
// (forward_user). `--postfix` prints a Postfix access map (`1.2.3.4 OK`); expired records are removed.
// Postfix: run from cron `dmailctl forward list --postfix > /etc/postfix/pop-before-smtp && postmap
// /etc/postfix/pop-before-smtp`, and add `check_client_access hash:/etc/postfix/pop-before-smtp` to
// smtpd_recipient_restrictions before reject_unauth_destination.

import type { Command } from 'commander';

export function register(program: Command): void {
  const fwd = program.command('forward').description('POP-before-SMTP records (forward_user)');
  fwd
    .command('list')
    .description('print client IPs whose login is within forward_window')
    .option('-i, --config <file>', 'dmail.conf to read', '/etc/dmail.conf')
    .option('--postfix', 'print a Postfix access map: "<ip> OK"')
    .action(async (opts: { config: string; postfix?: boolean }) => {
      const { cliContext } = await import('../session/cli-context.js');
      const { listForward } = await import('../session/forward.js');
      const ctx = cliContext(opts.config);
      const live = listForward(ctx.settings.work_path, ctx.settings.forward_window, { expire: true });
      const lines = opts.postfix
        ? live.map((r) => `${r.ip} OK`)
        : live.map((r) => `${r.ip}\t${r.user}\t${r.time.toISOString()}\t${r.program}`);
      process.stdout.write(lines.map((l) => l + '\n').join(''));
    });
}
