// Entry of a process forked by the resident-mode master: DMAIL_RESIDENT_ROLE (ipc.ts ROLE_ENV) names it.

import { adminMessage } from '../log/stderr.js';

export async function runRole(role: string, program: 'imapd' | 'dpop'): Promise<void> {
  const fatal = (what: string) => (e: unknown) => {
    adminMessage(`${program} ${role}: ${what}: ${(e as Error)?.stack ?? String(e)}`);
    process.exit(1);
  };
  process.on('uncaughtException', fatal('uncaught exception'));
  process.on('unhandledRejection', fatal('unhandled rejection'));
  if (role === 'prelogin') {
    const { runPrelogin } = await import('./prelogin.js');
    return runPrelogin(program);
  }
  if (role === 'worker') {
    const { runWorker } = await import('./worker.js');
    return runWorker(program);
  }
  adminMessage(`${program}: unknown resident role ${role}`);
  process.exit(2);
}
