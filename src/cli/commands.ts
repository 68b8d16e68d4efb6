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
  { name: 'whois', description: 'show how a login name resolves (domain, drop file, folders, uid, quota)', load: () => import('./cmd-whois.js') },
  { name: 'forward', description: 'POP-before-SMTP records (forward_user), e.g. as a Postfix access map', load: () => import('./cmd-forward.js') },
  { name: 'bulletin', description: 'add and list bulletins', load: () => import('./cmd-bulletin.js') },
  { name: 'quota', description: "print a user's mail usage and quota", load: () => import('./cmd-quota.js') },
  { name: 'serve', description: 'serve IMAP and POP3 on loopback ports, one process per connection', load: () => import('./cmd-serve.js') },
  { name: 'demo', description: 'build a demo site under ./demo and serve it (npm start)', load: () => import('./cmd-demo.js') },
  { name: 'who', description: 'live sessions: user, protocol, client, mailbox, since, idle (like doveadm who)', load: () => import('./cmd-who.js') },
  { name: 'sessions', description: 'list live IMAP/POP3 sessions', load: () => import('./cmd-sessions.js') },
  { name: 'convert', description: 'move one user\'s mail between mbox and maildir (flags, UIDs, subscriptions kept)', load: () => import('./cmd-convert.js') },
  { name: 'path', description: "print a user's INBOX, folder directory and index directory", load: () => import('./cmd-path.js') },
  { name: 'man', description: 'print the manual pages (generated from the programs\' help and dmail.conf.example)', load: () => import('./cmd-man.js') },
  { name: 'spool', description: 'inspect a drop-file spool (spool detect DIR: which hash_spool scheme it follows)', load: () => import('./cmd-spool.js') },
];
