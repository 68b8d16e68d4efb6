// Messages for the administrator on stderr, which systemd and a terminal show. Classic inetd points fd 2
// at the client socket too; then stderr is the client and nothing but protocol may go there, so the
// message is dropped (the log file, when it works, has it).

import { fstatSync } from 'node:fs';

let cached: boolean | undefined;

/** True when fd 2 is the same socket as fd 1 (inetd's dup2 of the connection onto 0, 1 and 2). */
export function stderrIsClient(): boolean {
  if (cached !== undefined) return cached;
  try {
    const err = fstatSync(2);
    const out = fstatSync(1);
    cached = err.isSocket() && out.isSocket() && err.ino === out.ino && err.dev === out.dev;
  } catch {
    cached = false;
  }
  return cached;
}

export function adminMessage(text: string): void {
  if (stderrIsClient()) return;
  try {
    process.stderr.write(text.endsWith('\n') ? text : text + '\n');
  } catch {
    // stderr closed: nobody to tell
  }
}
