// `dmailctl whois NAME [--local-ip IP] [-i FILE]`: how a login name resolves (domain, drop file,
// folders, uid, quota), asking the auth module's `lookup` for external users. Never needs a password.

import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('whois')
    .description('show how a login name resolves: domain, drop file, folders, uid, quota')
    .argument('<name>', 'login name as a client would type it')
    .option('-i, --config <file>', 'dmail.conf to read', '/etc/dmail.conf')
    .option('--local-ip <ip>', 'server address the client connected to (selects IP vdomains)', '')
    .action(async (name: string, opts: { config: string; localIp: string }) => {
      const { cliContext } = await import('../session/cli-context.js');
      const { lookupUser, closeAuth } = await import('../auth/index.js');
      const { resolveUserPaths } = await import('../store/paths.js');
      const { quotaFor } = await import('../session/quota.js');
      const { formatInfo } = await import('../auth/authd/db.js');
      const ctx = cliContext(opts.config);
      try {
        const r = await lookupUser(ctx, name, { remoteAddress: '127.0.0.1', localAddress: opts.localIp, tls: false });
        if (!r.ok) {
          process.stderr.write(`dmailctl: ${name}: ${r.temporary ? 'lookup unavailable' : 'no such user'} (${r.reason})\n`);
          process.exitCode = r.temporary ? 75 : 1;
          return;
        }
        const u = r.user;
        const paths = await resolveUserPaths(ctx.settings, u);
        const q = quotaFor(ctx.settings, u);
        const rows: [string, string][] = [
          ['login', u.login],
          ['user', u.user],
          ['domain', u.domain ? `${u.domain}${u.prefix ? ` (prefix ${u.prefix})` : ''}` : '(main domain)'],
          ['method', ctx.settings.authent_method],
          ['drop name', u.dropName],
          ['drop file', paths.inbox],
          ['folders', paths.folders],
          ['index dir', paths.indexDir],
          ['storage', paths.kind],
          ['uid', u.uid !== undefined ? `${u.uid}${u.gid !== undefined ? ` (gid ${u.gid})` : ''}` : `(none${ctx.settings.mail_user ? `; runs as mail_user ${ctx.settings.mail_user}` : ''})`],
          ['home', u.home ?? '-'],
          ['quota', q === undefined ? 'none' : `${q} KB`],
        ];
        if (Object.keys(u.info).length) rows.push(['info', formatInfo(u.info)]);
        process.stdout.write(rows.map(([k, v]) => `${(k + ':').padEnd(11)} ${v}\n`).join(''));
      } finally {
        await closeAuth(ctx);
      }
    });
}
