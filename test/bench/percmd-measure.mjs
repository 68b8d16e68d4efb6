// Per-command cost in a fresh per-connection imapd (issue 14): one process per session (LOGIN, SELECT,
// the command, LOGOUT) on pipes, as inetd runs it, and for the command alone: the client's wall time, the
// CPU time of all the process's threads (/proc/<pid>/task/*/schedstat, ns: V8's background compiler and
// GC helpers included) and the page faults it took (/proc/<pid>/stat minflt; in a VM each costs ~10 µs).
// Several builds can be compared side by side, their runs interleaved so that a load change hits them alike.
//
// usage: node test/bench/percmd-measure.mjs [--runs N] [--user small|big] [--only sort,thread,env,from]
//          [--builds name=/path/to/dist/imapd-launch.cjs,...]
//   needs `npm run build` and the corpora in .bench/corpus (mbox-2k = small, mbox-10k = big; made by
//   `npm run bench -- --only greeting --quick` and the full bench). Without --builds: this checkout's
//   dist/imapd-launch.cjs. The site (indexes, facts) is built by one warm-up session per user first.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { placeSpool, writeOurSite } from './site.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const runs = Number(opt('runs', 5));
const corpusDir = join(ROOT, '.bench/corpus');
const users = { small: 'pw-small', big: 'pw-big' };
const corpora = { small: 'mbox-2k', big: 'mbox-10k' };
const user = opt('user', 'small');
if (!users[user]) { console.error('--user small|big'); process.exit(2); }
if (!existsSync(join(corpusDir, corpora[user]))) { console.error(`${corpora[user]} missing in ${corpusDir}`); process.exit(2); }
const COMMANDS = {
  sort: 'SORT (DATE) UTF-8 ALL', thread: 'THREAD REFERENCES UTF-8 ALL', env: 'FETCH 1:* ENVELOPE', from: 'UID SEARCH FROM "Victor"',
};
const only = opt('only', Object.keys(COMMANDS).join(',')).split(',');
const builds = Object.fromEntries(opt('builds', `this=${join(ROOT, 'dist/imapd-launch.cjs')}`).split(',').map((b) => b.split('=')));

const work = mkdtempSync(join(tmpdir(), 'dmail-percmd-'));
const site = writeOurSite(join(work, 'site'), { users, authd: 'sh', root: ROOT });
placeSpool(site.spool, user, join(corpusDir, corpora[user]));

const minflt = (pid) => { try { return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[7]); } catch { return NaN; } };
const cpuNs = (pid) => {
  let t = 0;
  try {
    for (const d of readdirSync(`/proc/${pid}/task`)) {
      try { t += Number(readFileSync(`/proc/${pid}/task/${d}/schedstat`, 'utf8').split(' ')[0]); } catch { /* thread gone */ }
    }
  } catch { return NaN; }
  return t;
};

/** One session in a fresh server process; the figures of its command number `at`. */
function session(launcher, cmds, at) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [launcher, '-c', site.conf], { stdio: ['pipe', 'pipe', 'inherit'], env: { PATH: process.env.PATH, LANG: 'C' } });
    let buf = '';
    let step = -1; // waiting for the greeting
    let t0 = 0;
    let c0 = 0;
    let f0 = 0;
    let got = null;
    const next = () => {
      step++;
      if (step >= cmds.length) { child.stdin.end(); return; }
      if (step === at) { f0 = minflt(child.pid); c0 = cpuNs(child.pid); t0 = performance.now(); }
      child.stdin.write(`a${step} ${cmds[step]}\r\n`);
    };
    child.stdout.on('data', (d) => {
      buf += d.toString('latin1');
      for (let i; (i = buf.indexOf('\r\n')) >= 0;) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (!line.startsWith(step < 0 ? '* OK' : `a${step} `)) continue;
        if (step >= 0 && !line.startsWith(`a${step} OK`)) { reject(new Error(`${cmds[step]}: ${line}`)); return; }
        if (step === at) got = { ms: performance.now() - t0, cpu: (cpuNs(child.pid) - c0) / 1e6, faults: minflt(child.pid) - f0 };
        next();
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(got) : reject(new Error(`exit ${code}`))));
  });
}

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
const login = `LOGIN ${user} ${users[user]}`;
try {
  // Warm-up: the index and the facts/keys files of every command, as the bench's warm rows have them.
  await session(Object.values(builds)[0], [login, 'SELECT INBOX', ...only.map((k) => COMMANDS[k]), 'LOGOUT'], -1);
  console.log(`node ${process.version}, ${corpora[user]}, ${runs} runs, load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  for (const k of only) {
    const res = Object.fromEntries(Object.keys(builds).map((b) => [b, []]));
    for (let r = 0; r < runs; r++) {
      for (const [b, launcher] of Object.entries(builds)) res[b].push(await session(launcher, [login, 'SELECT INBOX', COMMANDS[k], 'LOGOUT'], 2));
    }
    for (const [b, xs] of Object.entries(res)) {
      const f = (key, d) => median(xs.map((x) => x[key])).toFixed(d);
      console.log(`${COMMANDS[k].padEnd(28)} ${b.padEnd(10)} wall ${f('ms', 1).padStart(6)} ms  cpu ${f('cpu', 1).padStart(6)} ms  faults ${f('faults', 0).padStart(5)}`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
