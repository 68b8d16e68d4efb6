// `dmailctl spool detect DIR`: which hash_spool scheme and level the drop files under DIR follow
// (Decision 2: DMail's own hash function is unknown, so existing spools are inspected, not guessed).

import type { Command } from 'commander';

export function register(program: Command): void {
  const spool = program.command('spool').description('inspect a drop-file spool');
  spool
    .command('detect')
    .description('report which hash_spool scheme the drop files in DIR follow')
    .argument('<dir>', 'the drop_path directory')
    .option('--json', 'machine-readable output')
    .action(async (dir: string, opts: { json?: boolean }) => {
      const { detectSpool, formatDetection } = await import('../store/spool-detect.js');
      try {
        const r = detectSpool(dir);
        process.stdout.write(opts.json ? JSON.stringify(r, null, 2) + '\n' : formatDetection(r));
        if (!r.files) process.exitCode = 1;
      } catch (e) {
        process.stderr.write(`dmailctl: ${(e as Error).message}\n`);
        process.exitCode = 2;
      }
    });
}
