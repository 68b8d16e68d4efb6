// DMail's external authentication protocol (dmail-reference §4.2-4.3, Decisions 11): one module child
// per connection, started on first need; one request line, one reply line (`+DATA` lines precede a
// final `+OK` for search). Every request has authent_timeout; a module that is slow, dies, or prints
// garbage is killed and reaped and the request is a temporary failure, never a hang.
//
// The module runs in a process group (and session) of its own, and "killing it" means SIGKILL to the whole
// group: a module that started helpers (a shell script's `sleep`, a daemonised lookup) must not leave them
// running as root orphans. The answer after a timeout does not wait for those helpers either: the child's
// exit (not the close of its pipes, which a helper may hold) is what we wait for.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Logger } from '../log/types.js';

export type ModuleReply =
  | { kind: 'ok'; name: string; dropPath: string; uid: number; info: Record<string, string>; data: string[] }
  | { kind: 'err'; reason: string }
  | { kind: 'dead'; reason: string };

/** Longest reply line we accept; more is garbage, not a reason to buffer without bound. */
const MAX_REPLY = 16 * 1024;
const MAX_DATA_LINES = 100_000;

/** Parse `label="value" label2="value 2"` info fields. Values may not contain quotes (DMail rule). */
export function parseInfo(text: string): Record<string, string> {
  const info: Record<string, string> = {};
  const re = /([^\s="]+)="([^"]*)"/g;
  for (let m = re.exec(text); m; m = re.exec(text)) info[m[1]!.toLowerCase()] = m[2]!;
  return info;
}

/** Parse one final reply line; undefined when it is not a protocol reply at all. */
export function parseReply(line: string, data: string[] = []): ModuleReply | undefined {
  const t = line.replace(/\r$/, '');
  if (t.startsWith('+OK')) {
    const rest = t.slice(3).trim();
    // +OK username drop_file_path [uid [info...]]
    const m = /^(\S+)(?:\s+(\S+))?(?:\s+(\d+))?(?:\s+(.*))?$/.exec(rest);
    if (!m) return { kind: 'ok', name: '', dropPath: '', uid: 0, info: {}, data };
    // Without a numeric uid the rest is still read for info fields (some modules omit the uid).
    const infoText = m[4] ?? '';
    return { kind: 'ok', name: m[1]!, dropPath: m[2] ?? '', uid: m[3] ? Number(m[3]) : 0, info: parseInfo(infoText), data };
  }
  if (t.startsWith('-ERR')) return { kind: 'err', reason: t.slice(4).trim().slice(0, 200) };
  if (t.startsWith('-DEAD')) return { kind: 'dead', reason: t.slice(5).trim().slice(0, 200) || 'module unavailable' };
  return undefined;
}

/** SIGKILL to the module's whole process group (its pid is the group id: it was started detached).
 *  ESRCH (nothing left) is fine. Falls back to the child alone if the group cannot be signalled. */
function killGroup(child: ChildProcessWithoutNullStreams): void {
  const pid = child.pid;
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    if (child.exitCode === null && child.signalCode === null) {
      try { child.kill('SIGKILL'); } catch { /* already gone */ }
    }
  }
}

export class ExternalModule {
  private child?: ChildProcessWithoutNullStreams;
  private exited?: Promise<void>;
  private buf = '';
  private pending?: { resolve: (r: ModuleReply) => void; data: string[]; timer: NodeJS.Timeout; child: ChildProcessWithoutNullStreams };
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly command: string,
    private readonly timeoutSec: number,
    private readonly log: Logger,
  ) {}

  /** Send one request (`check user pass ip` / `lookup user` / `search x`) and wait for its reply.
   *  `what` is what may be logged in place of the line (the line itself may hold a password). */
  request(line: string, what: string): Promise<ModuleReply> {
    const run = this.queue.then(() => this.requestNow(line, what));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private start(): ChildProcessWithoutNullStreams | undefined {
    const argv = this.command.trim().split(/\s+/).filter(Boolean);
    if (argv.length === 0) return undefined;
    // stderr goes nowhere: under inetd our own fd 2 may be the client socket, and a module's debug
    // output may contain passwords.
    // detached: setsid(), so the module leads a new process group that we can end as a whole.
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'ignore'], detached: true }) as unknown as ChildProcessWithoutNullStreams;
    this.exited = new Promise((r) => {
      child.once('exit', () => r());
      child.once('error', () => r());
    });
    child.on('error', (e) => {
      this.log.error({ err: e.message, module: argv[0] }, 'auth module failed to start');
      if (this.child === child) this.child = undefined;
      if (this.pending?.child === child) this.finish({ kind: 'dead', reason: 'module failed to start' });
    });
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.pending?.child === child) {
        this.log.error({ code, signal, module: argv[0] }, 'auth module exited during a request');
        this.finish({ kind: 'dead', reason: 'module exited' });
      }
    });
    child.stdin.on('error', () => { /* EPIPE when the module died: the exit handler answers */ });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => { if (this.child === child) this.onData(d); });
    // If the server exits without close() (a failed login, then LOGOUT or a dropped client), a module
    // that ignores the end of its input must not outlive us.
    const onExit = () => killGroup(child);
    process.once('exit', onExit);
    child.once('exit', () => process.removeListener('exit', onExit));
    this.child = child;
    this.buf = '';
    return child;
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    for (;;) {
      const nl = this.buf.indexOf('\n');
      if (nl < 0) break;
      const line = this.buf.slice(0, nl).replace(/\r$/, '');
      this.buf = this.buf.slice(nl + 1);
      if (!this.pending) {
        this.log.error('auth module wrote without a request; restarting it');
        this.kill();
        return;
      }
      if (line.startsWith('+DATA')) {
        if (this.pending.data.length >= MAX_DATA_LINES) { this.garbage('too many +DATA lines'); return; }
        this.pending.data.push(line.slice(5).trim());
        continue;
      }
      const reply = parseReply(line, this.pending.data);
      if (!reply) { this.garbage('unreadable reply'); return; }
      this.finish(reply);
    }
    if (this.buf.length > MAX_REPLY) this.garbage('reply line too long');
  }

  private garbage(why: string): void {
    this.log.error({ why }, 'auth module sent garbage; killing it');
    this.finish({ kind: 'dead', reason: `module sent garbage (${why})` });
    this.kill();
  }

  private finish(reply: ModuleReply): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    p.resolve(reply);
  }

  private kill(): void {
    const c = this.child;
    this.child = undefined;
    this.buf = '';
    if (c) killGroup(c);
  }

  private async requestNow(line: string, what: string): Promise<ModuleReply> {
    if (/[\r\n]/.test(line)) return { kind: 'err', reason: 'line break in request' };
    const child = this.child ?? this.start();
    if (!child) return { kind: 'dead', reason: 'no authent_process configured' };
    const reply = await new Promise<ModuleReply>((resolve) => {
      const timer = setTimeout(() => {
        this.log.error({ request: what, seconds: this.timeoutSec }, 'auth module timed out; killing it');
        this.finish({ kind: 'dead', reason: 'module timed out' });
        this.kill();
      }, Math.min(this.timeoutSec > 0 ? this.timeoutSec : 10, 3600) * 1000); // never "forever", never past setTimeout's range
      this.pending = { resolve, data: [], timer, child };
      child.stdin.write(`${line}\n`);
    });
    if (reply.kind === 'dead' && !this.child) await this.reap();
    return reply;
  }

  /** Wait (bounded) until a killed child has really exited, so no zombie outlives us. SIGKILL is
   *  immediate; the bound only covers a process stuck in the kernel (uninterruptible I/O). */
  private async reap(): Promise<void> {
    if (!this.exited) return;
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 2000).unref())]);
  }

  /** Send `exit` and make sure the child is gone (killed if it does not leave within a second). */
  async close(): Promise<void> {
    await this.queue;
    const c = this.child;
    if (!c) { await this.reap(); return; }
    this.child = undefined;
    try { c.stdin.end('exit\n'); } catch { /* already gone */ }
    const gone = await Promise.race([
      this.exited!.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 1000).unref()),
    ]);
    // Whatever the module left behind in its group goes too (the group outlives its leader's exit).
    killGroup(c);
    if (!gone) await this.reap();
  }

  get pid(): number | undefined { return this.child?.pid; }
}
