// `dmailctl bulletin add [--domain D] [--subject S]` (text from stdin, ends at EOF or a lone `.`) and
// `dmailctl bulletin list [--domain D]`. Bulletins live in bulletin_path (per-domain: bulletin_path/<domain>).

import type { Command } from 'commander';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function register(program: Command): void {
  const b = program.command('bulletin').description('bulletins delivered to every user at login');
  b.command('add')
    .description('create the next bulletin from standard input')
    .option('-i, --config <file>', 'dmail.conf to read', '/etc/dmail.conf')
    .option('--domain <domain>', 'only for users of this virtual domain')
    .option('--subject <text>', 'Subject header (written to nnn.hdr)')
    .action(async (opts: { config: string; domain?: string; subject?: string }) => {
      const { cliContext } = await import('../session/cli-context.js');
      const { addBulletin, bulletinDir, bulletinText } = await import('../session/bulletin-admin.js');
      const ctx = cliContext(opts.config);
      if (!ctx.settings.bulletin_path) { process.stderr.write('dmailctl: bulletin_path is not set in dmail.conf\n'); process.exitCode = 2; return; }
      if (process.stdin.isTTY) process.stderr.write('Enter text, finish with a line holding a single "."\n');
      const text = bulletinText(await readStdin());
      if (text.trim() === '') { process.stderr.write('dmailctl: empty bulletin, nothing created\n'); process.exitCode = 1; return; }
      const subject = opts.subject?.replace(/[\r\n]/g, ' ');
      const id = await addBulletin(bulletinDir(ctx.settings.bulletin_path, opts.domain), text, subject ? `Subject: ${subject}` : undefined);
      process.stdout.write(`Created bulletin ${id}\n`);
    });
  b.command('list')
    .description('list bulletins')
    .option('-i, --config <file>', 'dmail.conf to read', '/etc/dmail.conf')
    .option('--domain <domain>', 'the bulletins of this virtual domain')
    .action(async (opts: { config: string; domain?: string }) => {
      const { readFile } = await import('node:fs/promises');
      const { cliContext } = await import('../session/cli-context.js');
      const { bulletinDir } = await import('../session/bulletin-admin.js');
      const { listBulletins } = await import('../session/bulletins.js');
      const ctx = cliContext(opts.config);
      if (!ctx.settings.bulletin_path) { process.stderr.write('dmailctl: bulletin_path is not set in dmail.conf\n'); process.exitCode = 2; return; }
      for (const item of await listBulletins(bulletinDir(ctx.settings.bulletin_path, opts.domain))) {
        const text = await readFile(item.txt, 'utf8').catch(() => '');
        const first = text.split('\n').find((l) => l.trim() !== '') ?? '';
        process.stdout.write(`${item.id}\t${text.length}\t${first.slice(0, 60)}\n`);
      }
    });
}
