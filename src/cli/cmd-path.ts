// `dmailctl path USER [-i FILE]`: where a user's mail lives — INBOX drop file, folder directory and
// index directory — from dmail.conf (hash_spool, vdomains, drop_prefix, imapd_mailbox_name, index_path,
// use_maildir) and, for external authentication, the module's `lookup` answer.

import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('path')
    .description("print a user's INBOX, folder directory and index directory")
    .argument('<user>', 'login name as a client would type it')
    .option('-i, --config <file>', 'dmail.conf to read', '/etc/dmail.conf')
    .option('--local-ip <ip>', 'server address the client connected to (selects IP vdomains)', '')
    .action(async (name: string, opts: { config: string; localIp: string }) => {
      const { cliContext } = await import('../session/cli-context.js');
      const { lookupUser, closeAuth } = await import('../auth/index.js');
      const { resolveUserPaths } = await import('../store/paths.js');
      const { dropNameFor } = await import('../store/drop-name.js');
      const ctx = cliContext(opts.config);
      try {
        const r = await lookupUser(ctx, name, { remoteAddress: '127.0.0.1', localAddress: opts.localIp, tls: false });
        let user;
        if (r.ok) user = r.user;
        else {
          // Still useful for a user the module does not know yet: compute from the name alone.
          process.stderr.write(`dmailctl: ${name}: ${r.reason}; computing the path from the name\n`);
          const n = ctx.settings.lowercase_username ? name.toLowerCase() : name;
          const mapped = dropNameFor(n, ctx.settings);
          if (!mapped.ok) throw new Error(`${name}: ${mapped.reason}`);
          user = { login: name, user: n, dropName: mapped.dropName, info: {} };
        }
        const p = await resolveUserPaths(ctx.settings, user);
        process.stdout.write(`inbox:   ${p.inbox}\nfolders: ${p.folders}\nindex:   ${p.indexDir}\nkind:    ${p.kind}\n`);
      } catch (e) {
        process.stderr.write(`dmailctl: ${(e as Error).message}\n`);
        process.exitCode = 1;
      } finally {
        await closeAuth(ctx);
      }
    });
}
