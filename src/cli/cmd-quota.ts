// `dmailctl quota USER [-i FILE]`: the user's usage (INBOX + folders) and limit. Runs as the user, like a
// session, so that reading never creates root-owned index files in their mail area.

import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('quota')
    .description("print a user's mail usage and quota")
    .argument('<user>', 'login name')
    .option('-i, --config <file>', 'dmail.conf to read', '/etc/dmail.conf')
    .option('--local-ip <ip>', 'server address (selects IP vdomains)', '')
    .action(async (name: string, opts: { config: string; localIp: string }) => {
      const { cliContext } = await import('../session/cli-context.js');
      const { lookupUser, closeAuth } = await import('../auth/index.js');
      const { planIdentity, switchTo } = await import('../session/become-user.js');
      const { quotaFor } = await import('../session/quota.js');
      const { openUserStore } = await import('../store/open.js');
      const ctx = cliContext(opts.config);
      const r = await lookupUser(ctx, name, { remoteAddress: '127.0.0.1', localAddress: opts.localIp, tls: false });
      await closeAuth(ctx);
      if (!r.ok) {
        process.stderr.write(`dmailctl: ${name}: ${r.temporary ? 'lookup unavailable' : 'no such user'} (${r.reason})\n`);
        process.exitCode = r.temporary ? 75 : 1;
        return;
      }
      const plan = await planIdentity(ctx.settings, r.user);
      if (plan.kind === 'refuse') { process.stderr.write(`dmailctl: ${name}: ${plan.why}\n`); process.exitCode = 1; return; }
      if (plan.kind === 'switch') await switchTo(plan.to, ctx.log);
      const { store } = await openUserStore(ctx.settings, r.user, ctx.log);
      const usedKb = Math.ceil((await store.usage()) / 1024);
      const limit = quotaFor(ctx.settings, r.user);
      process.stdout.write(`user:  ${name}\nusage: ${usedKb} KB\nlimit: ${limit === undefined ? 'none' : `${limit} KB (${Math.round((usedKb / limit) * 100)}%)`}\n`);
    });
}
