// The dmailctl subcommands. Each module is loaded only when its command runs (start-up stays cheap);
// each owner adds one line here for their own cmd-<name>.ts, which exports register(program).

import type { Command } from 'commander';

export interface CommandModule {
  register(program: Command): void;
}

export interface CommandEntry {
  name: string;
  description: string;
  load: () => Promise<CommandModule>;
}

export const COMMANDS: CommandEntry[] = [
  { name: 'config', description: 'check dmail.conf and show the effective settings', load: () => import('./cmd-config.js') },
  { name: 'authd', description: 'external authentication module (DMail protocol) and its user database', load: () => import('./cmd-authd.js') },



];
