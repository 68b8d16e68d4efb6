// inetd in miniature for real client programs (imaplib, imapflow, mbsync, fetchmail, mpop, poplib): a TCP port on 127.0.0.1 that
// starts one built server process per connection with the accepted socket as its fd 0 and fd 1 (in the
// resident test mode, test/helpers/resident.ts: the site's resident master listens instead).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { cleanEnv } from './inetd.js';
import { RESIDENT, residentMaster, stopMastersOf } from './resident.js';

export interface Listener {
  port: number;
  /** stderr of every process started so far. */
  stderr(): string;
  /** Stops listening and waits for every started process to exit (killing stragglers). */
  close(): Promise<void>;
}

/** `resident` (default: the test mode) listens through the site's resident master instead. */
export async function listen(bin: string, args: string[], resident = RESIDENT): Promise<Listener> {
  if (resident) {
    // Resident test mode: the site's master is the listener; close() stops it (and waits).
    const m = await residentMaster(bin, args, cleanEnv());
    return { port: m.port, stderr: m.stderr, close: async () => stopMastersOf(m.conf) };
  }
  const children = new Set<ChildProcess>();
  const exits: Promise<unknown>[] = [];
  let err = '';
  const server: Server = createServer({ pauseOnConnect: true }, (socket) => {
    const child = spawn(bin, args, { stdio: [socket, socket, 'pipe'], env: cleanEnv() });
    if (child.pid !== undefined) socket.destroy(); // the child has its own copy of the descriptor
    children.add(child);
    child.stderr!.on('data', (d) => (err += d.toString()));
    // A process that could not be started emits 'error' and never 'exit'.
    exits.push(new Promise((r) => {
      const done = () => { children.delete(child); r(undefined); };
      child.once('exit', done);
      child.once('error', (e) => { err += `spawn ${bin}: ${e.message}\n`; socket.destroy(); done(); });
    }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    stderr: () => err,
    async close() {
      await new Promise((r) => server.close(r));
      const deadline = setTimeout(() => { for (const c of children) c.kill('SIGKILL'); }, 10_000);
      await Promise.all(exits);
      clearTimeout(deadline);
    },
  };
}
