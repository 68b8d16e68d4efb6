// The one starter of our resident master (src/resident/: `bin/imapd --daemon`, `bin/dpop --daemon`) for the
// bench: run.mjs's system "ours-resident", the issue 12 rows (scenarios-resident.mjs) and the stall rows
// (scenarios-stall.mjs). A master serves the bench site's dmail.conf plus the lines a caller adds (a conf
// file of its own beside the site's), listens on a free loopback port (`--listen 127.0.0.1:0`: it prints
// the port), and is stopped by stop() or, at the latest, when the bench exits (its exit handler; the IPC
// channel also stops the master if the bench dies without running it).
//
// The handle also gives what the harness's accounting needs: the CPU of the master's whole process tree
// (master, pre-login processes, workers, auth module children) and the worker processes (pid, VmRSS).
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childrenOf, treeCpuMs } from './servers.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BENCH = join(ROOT, '.bench');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Limits high enough for every bench row (1,000 sessions from one address, 20 at once per user), and a
 *  worker that stays for the whole run: resident_worker_idle is the only thing that retires a worker
 *  (resident_worker_sessions caps the sessions it serves at once, not in its life). */
export const BENCH_LIMITS = [
  'resident_max_connections 5000', 'resident_max_connections_per_ip 5000', 'resident_max_connections_per_user 1000',
  'resident_worker_sessions 2000', 'resident_worker_idle 3600',
];

const started = new Set();
process.on('exit', () => { for (const c of started) { try { c.kill('SIGTERM'); } catch { /* gone */ } } });

/** VmRSS (kB) and the title of one process. */
function procInfo(pid) {
  try {
    const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { pid, title: readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0+$/, '').replace(/\0/g, ' '), rssKB: rss ? Number(rss[1]) : 0 };
  } catch { return null; }
}

/**
 * Start a resident master.
 * @param {object} o
 * @param {string} o.name        names its conf file (<dir>/<name>.conf) and stderr log (<logDir>/<name>.log)
 * @param {string} o.siteConf    the site's dmail.conf (every setting of it is kept)
 * @param {string} o.dir         where the conf file goes (the site's directory)
 * @param {'imapd'|'dpop'} [o.program]
 * @param {string} [o.logDir]    default .bench/work
 * @param {string[]} [o.extra]   dmail.conf lines of the caller (one naming a setting of BENCH_LIMITS replaces it)
 * @returns {Promise<{ name, program, port, pid, child, kind: 'resident', conf, workers, sample, treeCpuMs,
 *   reaped, mark, collect, stop }>}
 */
export async function startResidentMaster({ name, siteConf, dir, program = 'imapd', extra = [], logDir = join(BENCH, 'work') }) {
  const conf = join(dir, `${name}.conf`);
  // A setting in extra replaces the bench's line (a repeated setting would be warned about).
  const own = new Set(extra.map((l) => l.trim().split(/\s+/)[0]));
  const lines = [...BENCH_LIMITS.filter((l) => !own.has(l.split(' ')[0])), ...extra];
  writeFileSync(conf, `${readFileSync(siteConf, 'utf8')}${lines.join('\n')}\n`);
  mkdirSync(logDir, { recursive: true });
  const errLog = join(logDir, `${name}.log`);
  const errFd = openSync(errLog, 'a');
  const child = spawn(join(ROOT, 'bin', program), ['-c', conf, '--daemon', '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', errFd, 'ipc'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' },
  });
  closeSync(errFd);
  started.add(child);
  let exited = false;
  child.once('exit', () => { exited = true; started.delete(child); });
  const port = await new Promise((res, rej) => {
    let out = '';
    const timer = setTimeout(() => rej(new Error(`${name}: ${program} --daemon did not listen within 30 s; see ${errLog}`)), 30_000);
    child.once('exit', (code, sig) => { clearTimeout(timer); rej(new Error(`${name}: ${program} --daemon exited (${code ?? sig}) before listening; see ${errLog}`)); });
    child.stdout.on('data', (d) => {
      out += d.toString();
      const m = new RegExp(`^${program} listening on 127\\.0\\.0\\.1:(\\d+)$`, 'm').exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout.removeAllListeners('data');
      child.stdout.resume();
      res(Number(m[1]));
    });
  });
  // Not a reason for the bench to stay up: its exit stops the master (handler above, or the IPC channel).
  child.unref();
  child.channel?.unref();
  child.stdout.unref?.();
  const workers = () => childrenOf(child.pid).map(procInfo).filter((p) => p && /\bworker\b/.test(p.title) && !p.title.includes('(spare)'));
  return {
    name, program, port, pid: child.pid, child, kind: 'resident', conf,
    /** The bound workers now (pid, title, rssKB). */
    workers,
    /** Per-session sampling (run.mjs's account()): the workers, whatever comm is asked for. */
    sample: async () => workers(),
    treeCpuMs: () => treeCpuMs(child.pid),
    /** Workers outlive sessions: nothing to wait for. */
    reaped: async () => {},
    mark: () => 0,
    collect: async () => [],
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      // The master stops its children and exits within about half a second; SIGKILL after 10 s.
      for (let i = 0; i < 200 && !exited; i++) await sleep(50);
      if (!exited) { try { child.kill('SIGKILL'); } catch { /* gone */ } }
    },
  };
}
