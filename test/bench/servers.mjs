// How each server under test is started, and how its per-session CPU time and peak RSS are read.
// Per-connection servers (ours, the bare-node floor) run under `systemd-socket-activate --inetd --accept`
// exactly as inetd would start them, each wrapped in GNU time, whose record gives the whole process's
// user+sys CPU and peak RSS (including children it waited for, such as the auth module). Dovecot's daemon
// forks its own processes; for it we sample /proc of its `imap`/`pop3` child just before LOGOUT/QUIT.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';

export const SSA = '/usr/bin/systemd-socket-activate';
export const GNU_TIME = '/usr/bin/time';
const TICK_MS = 10; // USER_HZ is 100 on Linux

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

export async function waitForPort(port, ms = 10_000) {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((r) => { const s = connect(port, '127.0.0.1'); s.once('connect', () => { s.destroy(); r(true); }); s.once('error', () => r(false)); });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on port ${port}`);
    await sleep(50);
  }
}

export function launcherMissing() {
  if (!existsSync(SSA)) return `${SSA} missing (Debian package systemd)`;
  if (!existsSync(GNU_TIME)) return `${GNU_TIME} missing (Debian package time)`;
  return null;
}

/** Parse GNU time records appended by our wrapper. */
function readRecords(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('BENCHREC ')).map((l) => {
    const [, e, u, s, m, x] = l.split(' ');
    return { wallMs: Number(e) * 1000, cpuMs: (Number(u) + Number(s)) * 1000, rssKB: Number(m), exit: Number(x) };
  });
}

/**
 * A per-connection server behind systemd-socket-activate. argv: the server command line.
 * Returns { name, port, stop(), mark(), collect(mark, n) } where collect waits for n GNU time records
 * written after mark (the processes of those sessions have exited) and returns them.
 */
export async function startPerConnection(name, argv, { logFile, cwd, env = {} }) {
  const port = await freePort();
  const timeFile = `${logFile}.time`;
  writeFileSync(timeFile, '');
  const errFd = openSync(logFile, 'a');
  const envArgs = Object.entries(env).flatMap(([k, v]) => ['-E', `${k}=${v}`]);
  const child = spawn(SSA, ['--inetd', '--accept', '-l', `127.0.0.1:${port}`, ...envArgs,
    GNU_TIME, '-a', '-o', timeFile, '-f', 'BENCHREC %e %U %S %M %x', ...argv],
  { cwd, stdio: ['ignore', 'ignore', errFd], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' } });
  closeSync(errFd);
  let exited = false;
  child.once('exit', () => { exited = true; });
  live.add(child);
  await waitForListen(logFile, port);
  return {
    name, port, kind: 'per-connection', pid: child.pid,
    mark: () => readRecords(timeFile).length,
    async collect(mark, n = 1, ms = 30_000) {
      const end = Date.now() + ms;
      for (;;) {
        const recs = readRecords(timeFile);
        if (recs.length >= mark + n) return recs.slice(mark, mark + n);
        if (Date.now() > end) throw new Error(`${name}: no GNU time record after ${ms} ms (process still running?)`);
        await sleep(5);
      }
    },
    /** Per-connection servers need no sampling: the time record has everything. */
    sample: async () => null,
    async stop() {
      if (!exited) { child.kill('SIGTERM'); await new Promise((r) => (exited ? r() : child.once('exit', r))); }
      live.delete(child);
    },
  };
}

async function waitForListen(logFile, port) {
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    if (readFileSync(logFile, 'utf8').includes(`Listening on 127.0.0.1:${port}`)) return;
    await sleep(20);
  }
  throw new Error(`systemd-socket-activate did not listen on ${port}; see ${logFile}`);
}

/** /proc facts of one process: CPU ms so far and peak RSS (VmHWM) in kB. */
function procFacts(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuMs = (Number(f[11]) + Number(f[12])) * TICK_MS; // utime, stime
    const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { pid, comm: readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), cpuMs, rssKB: hwm ? Number(hwm[1]) : 0 };
  } catch { return null; }
}

/** CPU ms of a daemon's whole process tree so far: live processes plus children it has reaped. */
export function treeCpuMs(root) {
  let total = 0;
  const walk = (pid, isRoot) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(f[11]) + Number(f[12]) + (isRoot ? Number(f[13]) + Number(f[14]) : 0)) * TICK_MS;
    } catch { return; }
    for (const c of childrenOf(pid)) walk(c, false);
  };
  walk(root, true);
  return total;
}

export function childrenOf(pid) {
  try { return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number); } catch { return []; }
}

/**
 * Dovecot's normal daemon (`dovecot -F -c conf`). Its default service settings start a new imap-login
 * and a new imap (or pop3) process for every connection. sample(comm) reads the session processes
 * (direct children of the master named comm) before the client logs out.
 */
export async function startDovecotDaemon(name, conf, { logFile, imapPort, pop3Port }) {
  const errFd = openSync(logFile, 'a');
  const child = spawn('/usr/sbin/dovecot', ['-F', '-c', conf], { stdio: ['ignore', 'ignore', errFd], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' } });
  closeSync(errFd);
  let exited = false;
  child.once('exit', () => { exited = true; });
  live.add(child);
  await waitForPort(imapPort);
  await waitForPort(pop3Port);
  if (exited) throw new Error(`dovecot exited; see ${logFile}`);
  return {
    name, kind: 'daemon', pid: child.pid, imapPort, pop3Port,
    mark: () => 0,
    collect: async () => [],
    /** Facts of the master's children called comm (e.g. 'imap', 'pop3'). */
    sample: async (comm) => childrenOf(child.pid).map(procFacts).filter((p) => p && p.comm === comm),
    /** CPU of every Dovecot process (master, auth, login, imap, ...) including exited, reaped ones. */
    treeCpuMs: () => treeCpuMs(child.pid),
    /** Wait until the master has reaped the given session processes, so their CPU is counted. */
    async reaped(pids, ms = 5000) {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        const live = new Set(childrenOf(child.pid));
        if (!pids.some((p) => live.has(p))) return;
        await sleep(5);
      }
    },
    async stop() {
      if (!exited) { child.kill('SIGTERM'); await new Promise((r) => (exited ? r() : child.once('exit', r))); }
      live.delete(child);
    },
  };
}

/** Launchers still running; killed by pid (never by name) if the harness is interrupted. */
const live = new Set();
export function killAll() { for (const c of live) { try { c.kill('SIGTERM'); } catch { /* gone */ } } }
