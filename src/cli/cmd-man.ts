// dmailctl man [PAGE] [--out DIR]: print one manual page (roff), or write all of them to DIR. The pages are
// generated from the programs' own help and from dmail.conf.example (src/cli/man.ts).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { COMMANDS } from './commands.js';
import { confPage, dmailctlPage, MAN_PAGES, serverPage, type ManPage } from './man.js';
import { repoRoot } from './cmd-serve.js';
import { USAGE } from '../transport/server-main.js';
import { SERVER_VERSION } from '../imap/capabilities.js';

async function page(name: ManPage): Promise<string> {
  switch (name) {
    case 'dmail-imapd.8': return serverPage('imapd', USAGE('imapd'), SERVER_VERSION);
    case 'dmail-dpop.8': return serverPage('dpop', USAGE('dpop'), SERVER_VERSION);
    case 'dmail.conf.5': return confPage(readFileSync(join(repoRoot(), 'dmail.conf.example'), 'utf8'), SERVER_VERSION);
    case 'dmailctl.8': {
      const program = new Command('dmailctl').description('administration tool for the DMail-compatible imapd and dpop');
      for (const c of COMMANDS) (await c.load()).register(program);
      return dmailctlPage(program, SERVER_VERSION);
    }
  }
}

export function register(program: Command): void {
  program
    .command('man')
    .description(`print a manual page (${MAN_PAGES.join(', ')}) or write them all with --out`)
    .argument('[page]', 'page name, e.g. dmail.conf.5')
    .option('--out <dir>', 'write every page into this directory')
    .action(async (name: string | undefined, opts: { out?: string }) => {
      if (opts.out) {
        mkdirSync(opts.out, { recursive: true });
        for (const p of MAN_PAGES) writeFileSync(join(opts.out, p), await page(p));
        return;
      }
      const wanted = MAN_PAGES.find((p) => p === name || p.replace(/\.\d$/, '') === name);
      if (!wanted) {
        process.stderr.write(`dmailctl man: pages are ${MAN_PAGES.join(', ')}\n`);
        process.exit(2);
      }
      process.stdout.write(await page(wanted));
    });
}
