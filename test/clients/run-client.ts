// Shared by the real-client tests (fetchmail, mbsync, getmail6 ... per connection and on the resident mode).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/** Runs a client program with a clean environment and its own HOME; its output (stdout and stderr
 *  together) and exit status. Asynchronous on purpose: the server these clients talk to may be started
 *  by this process's event loop (a listener), which must not be blocked. Killed after 50 s. */
export function runClient(cmd: string, args: string[], home: string): Promise<{ status: number | null; log: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C' } });
    let log = '';
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
    child.on('close', (status) => { clearTimeout(timer); resolve({ status, log }); });
  });
}

/** The Subject lines of an mbox file a client delivered into (none when it does not exist). */
export const mboxSubjects = (file: string): string[] =>
  (existsSync(file) ? [...readFileSync(file, 'latin1').matchAll(/^Subject: (.*)$/gm)].map((m) => m[1]!) : []);
