// Entry point of bin/dmailctl, the administration tool. Only the module of the command being run is
// loaded; `dmailctl --help` (or an unknown command) loads them all to list them.
import { COMMANDS } from './cli/commands.js';

async function main(argv: string[]): Promise<void> {
  const { Command } = await import('commander');
  const program = new Command('dmailctl')
    .description('administration tool for the DMail-compatible imapd and dpop')
    .showHelpAfterError()
    .exitOverride((err) => process.exit(err.exitCode));
  const name = argv.slice(2).find((a) => !a.startsWith('-'));
  const chosen = COMMANDS.filter((c) => c.name === name);
  for (const c of chosen.length ? chosen : COMMANDS) {
    try {
      (await c.load()).register(program);
    } catch (e) {
      process.stderr.write(`dmailctl: command "${c.name}" is unavailable: ${(e as Error).message}\n`);
    }
  }
  await program.parseAsync(argv);
}

main(process.argv).catch((e: unknown) => {
  process.stderr.write(`dmailctl: ${(e as Error)?.message ?? e}\n`);
  process.exit(1);
});
