// Per-connection start-up study (issue 12/14): the CPU time of one fresh imapd process per session, for a
// few ways of starting it, measured with `perf stat --no-inherit -e task-clock` (the server process only,
// not its auth module), several runs each, the variants interleaved so a load change hits them alike.
//
// usage: node test/bench/codecache-measure.mjs [--runs N] [--only a,b] [--variants x,y] [--quick]
//   needs `npm run build` (and the bench corpora: `npm run bench -- --only greeting --quick` makes them).
// Variants: direct = `node dist/imapd.cjs` (no cache); launcher = bin/imapd as shipped (dist/imapd-launch.cjs,
// whatever cache dist/ holds); nocache = the launcher with the cache file hidden.
// Prints, per scenario and variant: median task-clock ms (min-max) and median page faults.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeOurSite, placeSpool } from './site.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const runs = Number(opt('runs', args.includes('--quick') ? 5 : 9));
const corpusDir = join(ROOT, '.bench/corpus');
const big = args.includes('--quick') ? 'mbox-2k' : 'mbox-10k';
for (const c of ['mbox-2k', big]) {
  if (!existsSync(join(corpusDir, c))) { console.error(`${c} missing: run npm run bench -- --only greeting --quick first`); process.exit(2); }
}

const work = mkdtempSync(join(tmpdir(), 'dmail-ccm-'));
const users = { small: 'pw-small', big: 'pw-big' };
const site = writeOurSite(join(work, 'site'), { users, authd: 'sh', root: ROOT });
placeSpool(site.spool, 'small', join(corpusDir, 'mbox-2k'));
placeSpool(site.spool, 'big', join(corpusDir, big));

const login = (u) => `LOGIN ${u} ${users[u]}`;
const SCENARIOS = {
  greeting: [],
  'session-2k': [login('small'), 'SELECT INBOX', 'FETCH 1:* FLAGS', 'LOGOUT'],
  [`session-${big.slice(5)}`]: [login('big'), 'SELECT INBOX', 'FETCH 1:* FLAGS', 'LOGOUT'],
  [`sort-date-${big.slice(5)}`]: [login('big'), 'SELECT INBOX', 'SORT (DATE) US-ASCII ALL', 'LOGOUT'],
  'envelope-2k': [login('small'), 'SELECT INBOX', 'FETCH 1:* ENVELOPE', 'LOGOUT'],
};
const cache = join(ROOT, 'dist/imapd.cjs.v8cache');
const VARIANTS = {
  direct: { argv: [process.execPath, join(ROOT, 'dist/imapd.cjs')] },
  nocache: { argv: [process.execPath, join(ROOT, 'dist/imapd-launch.cjs')], hideCache: true },
  launcher: { argv: [process.execPath, join(ROOT, 'dist/imapd-launch.cjs')] },
  // test/bench/codecache-loader.cjs with a cache it wrote after one training session (below).
  loader: { argv: [process.execPath, join(ROOT, 'test/bench/codecache-loader.cjs'), join(work, 'v8cache'), join(ROOT, 'dist/imapd.cjs')] },
};
// --extra NAME=FILE,...: more variants, `node FILE` (another build's launcher or bundle, e.g. the main
// branch's, or an experimental build with its own cache); name them in --variants.
for (const e of opt('extra', '').split(',').filter(Boolean)) {
  const [name, file] = e.split('=');
  VARIANTS[name] = { argv: [process.execPath, file] };
}
const TRAINING = [login('small'), 'SELECT INBOX', 'FETCH 1:* FLAGS', 'SORT (DATE) US-ASCII ALL', 'FETCH 1:* ENVELOPE', 'LOGOUT'];
// --callgrind: instructions (millions, in the "cpu ms" column) from one valgrind run each instead.
const callgrind = args.includes('--callgrind');
const only = opt('only', '').split(',').filter(Boolean);
const variants = opt('variants', Object.keys(VARIANTS).join(',')).split(',');

/** One session in a fresh server process on pipes; resolves to { ms, faults }. */
function session(argv, cmds) {
  const out = join(work, `perf-${process.pid}-${Math.random().toString(36).slice(2)}`);
  return new Promise((resolve, reject) => {
    const wrap = callgrind
      ? ['valgrind', '--tool=callgrind', '--trace-children=no', `--callgrind-out-file=${out}`, '--', ...argv, '-c', site.conf]
      : ['perf', 'stat', '-x,', '--no-inherit', '-e', 'task-clock,page-faults', '-o', out, '--', ...argv, '-c', site.conf];
    const child = spawn(wrap[0], wrap.slice(1),
      { stdio: ['pipe', 'pipe', callgrind ? 'ignore' : 'inherit'], env: { PATH: process.env.PATH, LANG: 'C' } });
    let buf = '';
    let step = -1; // -1: waiting for the greeting
    const next = () => {
      step++;
      if (step >= cmds.length) { child.stdin.end(); return; }
      child.stdin.write(`a${step} ${cmds[step]}\r\n`);
    };
    child.stdout.on('data', (d) => {
      buf += d.toString('latin1');
      for (;;) {
        const want = step < 0 ? '* OK' : `a${step} `;
        const i = buf.indexOf('\r\n');
        if (i < 0) return;
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (line.startsWith(want)) {
          if (step >= 0 && !line.startsWith(`a${step} OK`)) reject(new Error(`${cmds[step]}: ${line}`));
          next();
        }
      }
    });
    child.stderr?.resume();
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`exit ${code}`));
      const text = readFileSync(out, 'utf8');
      rmSync(out, { force: true });
      if (callgrind) return resolve({ ms: Number(/^totals: (\d+)/m.exec(text)[1]) / 1e6, faults: 0 });
      const val = (ev) => Number(text.split('\n').find((l) => l.includes(`,${ev}`))?.split(',')[0]);
      resolve({ ms: val('task-clock'), faults: val('page-faults') });
    });
  });
}

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
const fmt = (a) => `${median(a).toFixed(1)} (${Math.min(...a).toFixed(1)}-${Math.max(...a).toFixed(1)})`;

async function withVariant(v, fn) {
  const hide = VARIANTS[v].hideCache && existsSync(cache);
  if (hide) renameSync(cache, `${cache}.hidden`);
  try { return await fn(); } finally { if (hide) renameSync(`${cache}.hidden`, cache); }
}

try {
  // Index warm-up: every mailbox opened once, so each measured run finds a valid index.
  for (const u of Object.keys(users)) await session(VARIANTS.direct.argv, [login(u), 'SELECT INBOX', 'LOGOUT']);
  if (variants.includes('loader')) await session(VARIANTS.loader.argv, args.includes('--train-greeting') ? [] : TRAINING);
  console.log(`node ${process.version}, ${runs} runs, load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  console.log(`cache: ${existsSync(cache) ? `${cache} (${readFileSync(cache).length} bytes)` : 'none'}`);
  for (const [name, cmds] of Object.entries(SCENARIOS)) {
    if (only.length && !only.includes(name)) continue;
    const res = Object.fromEntries(variants.map((v) => [v, []]));
    for (let r = 0; r < runs; r++) {
      for (const v of variants) res[v].push(await withVariant(v, () => session(VARIANTS[v].argv, cmds)));
    }
    for (const v of variants) {
      console.log(`${name.padEnd(16)} ${v.padEnd(9)} cpu ms ${fmt(res[v].map((x) => x.ms)).padEnd(22)} faults ${median(res[v].map((x) => x.faults))}`);
    }
  }
  console.log(`load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
