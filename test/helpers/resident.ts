// The resident-mode run of the protocol suites (vitest project "resident": DMAIL_TEST_MODE=resident).
// Every connection a test makes through inetdConnect (and every listen()) goes to a resident master of its
// site — `bin/imapd|dpop -i <site>/dmail.conf --daemon --listen 127.0.0.1:0`, one per site, program and
// environment — started at the site's first connection and stopped (and waited for, with its pre-login
// processes and workers) when the site is removed (removeSite) or the test process exits. The client
// connects over TCP; the session runs in a worker as it would for a real client.
//
// What a per-connection process's exit tells a test (`Client.exited()`: the session is over, its cleanup
// is done, and whether it failed) comes here from the master's debug log line "connection ended" for the
// client's port, written once every process let go of the connection: 0 when it ended normally, 1 when
// the session failed or the process serving it died (as inetd mode's exit status 1 or a signal would).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { connect, type Socket } from 'node:net';

export type TestMode = 'inetd' | 'resident';
export const TEST_MODE: TestMode = process.env.DMAIL_TEST_MODE === 'resident' ? 'resident' : 'inetd';
export const RESIDENT = TEST_MODE === 'resident';

export interface Master {
  key: string;
  program: 'imapd' | 'dpop';
  conf: string;
  proc: ChildProcess;
  port: number;
  stderr(): string;
  /** Resolves with the master's exit code (null when a signal ended it). */
  exit: Promise<number | null>;
}

const masters = new Map<string, Master>();
const starting = new Map<string, Promise<Master>>();
/** Every master process started and not yet stopped, listening or not yet (a test may end meanwhile). */
const spawned = new Map<ChildProcess, string>();

/** The masters running now (for tests of this fixture). */
export function residentMasters(): Master[] {
  return [...masters.values()];
}

function configOf(args: string[]): string {
  const i = args.indexOf('-i');
  const conf = i >= 0 ? args[i + 1] : undefined;
  if (!conf) throw new Error(`resident test mode: the server arguments name no -i dmail.conf (${args.join(' ')})`);
  return resolve(conf);
}

/** The last value of `key` in a dmail.conf (the test sites write one setting per line). */
function setting(conf: string, key: string): string | undefined {
  let v: string | undefined;
  for (const line of readFileSync(conf, 'latin1').split('\n')) {
    const m = /^\s*(\S+)\s+(.*?)\s*$/.exec(line);
    if (m && m[1] === key) v = m[2];
  }
  return v;
}

/** The master of (bin, args, env), started on first use. */
export function residentMaster(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<Master> {
  const conf = configOf(args);
  const key = JSON.stringify([bin, args, env]);
  const m = masters.get(key);
  if (m && m.proc.exitCode === null && m.proc.signalCode === null) return Promise.resolve(m);
  const pending = starting.get(key);
  if (pending) return pending;
  const program = bin.endsWith('dpop') ? 'dpop' : 'imapd';
  const p = new Promise<Master>((res, rej) => {
    // The IPC channel only ties the master's life to this process (it stops when the channel closes).
    const proc = spawn(bin, [...args, '--daemon', '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env });
    spawned.set(proc, conf);
    let err = '';
    let out = '';
    proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    const exit = new Promise<number | null>((r) => proc.once('exit', (code) => { spawned.delete(proc); r(code); }));
    void exit.then((code) => rej(new Error(`${program} --daemon exited (${code ?? proc.signalCode}) before listening: ${err.slice(0, 800)}`)));
    proc.once('error', (e) => rej(e));
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const found = new RegExp(`^${program} listening on 127\\.0\\.0\\.1:(\\d+)$`, 'm').exec(out);
      if (!found) return;
      proc.stdout!.removeAllListeners('data');
      proc.stdout!.resume();
      const master: Master = { key, program, conf, proc, port: Number(found[1]), stderr: () => err, exit };
      masters.set(key, master);
      res(master);
    });
  });
  starting.set(key, p);
  const done = () => { starting.delete(key); };
  p.then(done, done);
  return p;
}

/** Where the master of `conf` logs, and how much of it there is now. */
function logFile(conf: string, program: string): string {
  const dir = setting(conf, 'log_path') ?? setting(conf, 'work_path') ?? '/var/log/dmail';
  return join(dir, `${program}.log`);
}

function sizeOf(file: string): number {
  try {
    const fd = openSync(file, 'r');
    try { return fstatSync(fd).size; } finally { closeSync(fd); }
  } catch {
    return 0;
  }
}

/** Reads a log file from an offset on, a line at a time, as it grows. */
class LogTail {
  private offset: number;
  private rest = '';
  constructor(private readonly file: string) { this.offset = sizeOf(file); }
  lines(): string[] {
    let fd: number;
    try { fd = openSync(this.file, 'r'); } catch { return []; }
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        this.rest += buf.subarray(0, n).toString('utf8');
      }
    } finally {
      closeSync(fd);
    }
    const parts = this.rest.split('\n');
    this.rest = parts.pop()!;
    return parts;
  }
}

/** The processes the master forked (pre-login processes, workers, the auth module), by /proc. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A pid that no longer runs (gone, or a zombie nobody reaped yet). */
export function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Stop a master the way an administrator does (SIGTERM) and wait (synchronously, bounded) until it and
 *  every process it started are gone; SIGKILL what is left after 10 s. */
function stopSync(proc: ChildProcess): void {
  for (const [k, m] of masters) if (m.proc === proc) masters.delete(k);
  spawned.delete(proc);
  const pid = proc.pid;
  if (pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  const all = [pid, ...childrenOf(pid)];
  proc.kill('SIGTERM');
  for (const [limit, then] of [[10_000, 'SIGKILL'], [5_000, '']] as const) {
    const deadline = Date.now() + limit;
    while (all.some((p) => !gone(p)) && Date.now() < deadline) sleep(5);
    if (!then) break;
    for (const p of all) if (!gone(p)) try { process.kill(p, then); } catch { /* gone */ }
  }
}

/** Stop the masters serving sites under `dir` (removeSite calls this before removing the tree). */
export function stopResidentMasters(dir: string): void {
  const root = resolve(dir) + '/';
  for (const [proc, conf] of [...spawned]) if (conf.startsWith(root)) stopSync(proc);
}

/** Stop every master (the resident project's setup file, after each test file). */
export function stopAllResidentMasters(): void {
  for (const proc of [...spawned.keys()]) stopSync(proc);
}

/** Stop the masters of one dmail.conf (listen().close()). */
export function stopMastersOf(conf: string): void {
  const c = resolve(conf);
  for (const [proc, f] of [...spawned]) if (f === c) stopSync(proc);
}

process.on('exit', () => { for (const proc of spawned.keys()) try { proc.kill('SIGTERM'); } catch { /* gone */ } });

/** The inode of the server's end of a loopback TCP connection (server port, client port). */
function serverSocketInode(serverPort: number, clientPort: number): string | undefined {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try { text = readFileSync(table, 'latin1'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      if (f[1]!.endsWith(`:${hex(serverPort)}`) && f[2]!.endsWith(`:${hex(clientPort)}`)) return f[9];
    }
  }
  return undefined;
}

function roleOf(pid: number): string {
  try {
    return /(?:^|\0)DMAIL_RESIDENT_ROLE=([a-z]+)/.exec(readFileSync(`/proc/${pid}/environ`, 'latin1'))?.[1] ?? 'master';
  } catch {
    return 'gone';
  }
}

/** The process of `m` serving the connection whose client end is `clientPort`: the worker once logged
 *  in, the pre-login process before (and for TLS, which it keeps). */
export function servingPid(m: Master, clientPort: number): number {
  const inode = serverSocketInode(m.port, clientPort);
  if (!inode) throw new Error(`no server socket for client port ${clientPort}`);
  const holders: number[] = [];
  for (const pid of childrenOf(m.proc.pid!)) {
    let fds: string[];
    try { fds = readdirSync(`/proc/${pid}/fd`); } catch { continue; }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`) { holders.push(pid); break; }
      } catch { /* closed meanwhile */ }
    }
  }
  const pick = holders.find((p) => roleOf(p) === 'worker') ?? holders.find((p) => roleOf(p) === 'prelogin');
  if (pick === undefined) throw new Error(`no process of the master holds the connection of client port ${clientPort}`);
  return pick;
}

export interface ResidentConnection {
  socket: Socket;
  master: Master;
  /** Resolves once the master logged the end of the connection (every process let go of it): 0 normal,
   *  1 failed or its process died; the master's exit code if it went first. */
  ended(): Promise<number | null>;
}

/** A TCP connection to the site's master; `ended` as described above. */
export async function residentConnect(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<ResidentConnection> {
  const master = await residentMaster(bin, args, env);
  if (setting(master.conf, 'log_level') !== 'debug') throw new Error('resident test mode needs log_level debug (the "connection ended" line)');
  const tail = new LogTail(logFile(master.conf, master.program));
  const socket = connect(master.port, '127.0.0.1');
  await new Promise<void>((res, rej) => { socket.once('connect', res); socket.once('error', rej); });
  const port = socket.localPort!;
  // Not the client socket's close: a client that stopped reading never sees the FIN.
  let endedOnce: Promise<number | null> | undefined;
  const ended = () => (endedOnce ??= new Promise<number | null>((res) => {
    const look = () => {
      for (const line of tail.lines()) {
        if (!line.includes('"connection ended"')) continue;
        let rec: { msg?: string; port?: number; ended?: string };
        try { rec = JSON.parse(line) as typeof rec; } catch { continue; }
        if (rec.msg === 'connection ended' && rec.port === port) return res(rec.ended === 'closed' ? 0 : 1);
      }
      if (master.proc.exitCode !== null || master.proc.signalCode !== null || !masters.has(master.key)) {
        return void master.exit.then(res);
      }
      setTimeout(look, 10);
    };
    look();
  }));
  return { socket, master, ended };
}
