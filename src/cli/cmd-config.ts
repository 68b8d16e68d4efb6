// dmailctl config check [-i FILE] [--program P] [--dump]: the same parser the servers use, with its
// warnings and errors shown; non-zero exit when there are errors (or the file cannot be read).

import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../config/parse.js';
import { SETTINGS, type Program, type Settings } from '../config/settings.js';
import { riskWarnings } from './config-risks.js';
import { sharedStorageWarnings } from './shared-storage.js';

const PROGRAMS: Program[] = ['imapd', 'dpop', 'dmailctl'];

/** Effective settings in dmail.conf syntax (unset ones as comments), so the output can be reused. */
export function dumpSettings(settings: Settings): string {
  const lines: string[] = [];
  for (const name of Object.keys(SETTINGS) as (keyof Settings)[]) {
    const v = settings[name] as unknown;
    if (v === undefined) lines.push(`# ${name} (unset)`);
    else if (Array.isArray(v)) {
      if (v.length === 0) lines.push(`# ${name} (none)`);
      for (const one of v) lines.push(`${name} ${one}`);
    } else lines.push(`${name} ${String(v)}`);
  }
  return lines.join('\n') + '\n';
}

export function register(program: Command): void {
  const config = program.command('config').description('dmail.conf tools');
  config
    .command('check')
    .description('parse dmail.conf as a server would; print warnings and errors')
    .option('-i, --config <file>', 'dmail.conf to read', '/etc/dmail.conf')
    .option('-p, --program <name>', `read it as this program sees it (${PROGRAMS.join(', ')})`, 'dpop')
    .option('--dump', 'print the effective settings')
    .action((opts: { config: string; program: string; dump?: boolean }) => {
      if (!PROGRAMS.includes(opts.program as Program)) {
        process.stderr.write(`dmailctl: --program must be one of ${PROGRAMS.join(', ')}\n`);
        process.exit(2);
      }
      let loaded;
      try {
        loaded = loadConfig(opts.config, opts.program as Program);
      } catch (e) {
        process.stderr.write(`dmailctl: ${e instanceof ConfigError ? e.message : (e as Error).message}\n`);
        process.exit(1);
      }
      // Settings that parse but are risky (root among users' files; several hosts on a shared file system):
      // warnings, not errors.
      const warnings = [...loaded.warnings, ...riskWarnings(loaded.settings), ...sharedStorageWarnings(loaded.settings)];
      for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
      for (const e of loaded.errors) process.stderr.write(`error: ${e}\n`);
      if (opts.dump) process.stdout.write(dumpSettings(loaded.settings));
      process.stderr.write(`${loaded.files.length} file(s) read as ${opts.program}: ${warnings.length} warning(s), ${loaded.errors.length} error(s)\n`);
      process.exitCode = loaded.errors.length ? 1 : 0;
    });
}
