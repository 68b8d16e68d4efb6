// Diagnostic (not a bench row, not a test): how a warm resident worker's cost per session depends on the
// pause before the session. One `bin/imapd --daemon` master on a throw-away site (default /tmp/rg-site:
// users lister, 200 folders of 3 messages as the list-status row, and m2k, the 2k corpus), warm-up
// sessions back to back, then blocks of 5 sessions per gap, gaps taking turns (so load drifts hit all
// alike). Per session: the worker's CPU from /proc/<pid>/task/*/schedstat (ns; main thread and the other
// threads — V8's compile and GC helpers — apart), during the session and during the gap before it, its
// minor page faults, and the command's wall time. Kinds `ctl-flat` and `ctl-alloc` run the same pattern
// against a plain node process (resident-gap-control.mjs) to tell the machine's share from ours.
//
//   npm run build; node test/bench/resident-gap.mjs --kinds=list,ctl-flat --gaps=0,1000,3000 --n=10 --warm=60
//   options: --kinds=list,sort,thread,envelope,ctl-flat,ctl-alloc  --n=<sessions per gap, multiple of 5>
//   --warm=<back-to-back sessions first>  --env='K=V;K2=V2' (master's environment, e.g. GLIBC_TUNABLES)
//   --ctlflags='<node flags for the control>'  --trimwait=<ms: idle RSS/PSS again after that>  --raw=<json>
// Findings it gave (src/resident/README.md, "Between sessions").
import { spawn } from 'node:child_process';
import net from 'node:net';
import { readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync, openSync, closeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeOurSite, placeSpool } from './site.mjs';

const ROOT = resolve(new URL('../..', import.meta.url).pathname);
const HERE = resolve(new URL('.', import.meta.url).pathname);
const args = Object.fromEntries(process.argv.slice(2).map((a) => { const b = a.replace(/^--/, ''); const i = b.indexOf('='); return i < 0 ? [b, '1'] : [b.slice(0, i), b.slice(i + 1)]; }));
const DIR = args.dir ?? '/tmp/rg-site';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const users = { lister: 'pw-lister', m2k: 'pw-m2k' };

const byComm = (pid) => { const o = {}; for (const t of readdirSync(`/proc/${pid}/task`)) { try { const c = readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim() + (Number(t) === pid ? '*' : ''); o[c] = (o[c] ?? 0) + Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]); } catch { /* gone */ } } return o; };
const commAcc = {};
const addComm = (key, a, b) => { const o = (commAcc[key] ??= {}); for (const k of Object.keys(b)) o[k] = (o[k] ?? 0) + (b[k] - (a[k] ?? 0)) / 1e6; };
const minflt = (pid) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[7]);
function threadsNs(pid) {
  let main = 0, other = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const ns = Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
      if (Number(t) === pid) main += ns; else other += ns;
    } catch { /* gone */ }
  }
  return { main, other };
}
function rssPss(pid) {
  const r = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const g = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(r)?.[1] ?? 0);
  return { rss: g('Rss'), pss: g('Pss') };
}
const childrenOf = (pid) => { try { return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number); } catch { return []; } };
const title = (pid) => { try { return readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0+$/, '').replace(/\0/g, ' '); } catch { return ''; } };

class Client {
  constructor(port) { this.port = port; this.buf = ''; this.n = 0; this.waiters = []; }
  async open() {
    this.s = net.connect(this.port, '127.0.0.1'); this.s.setNoDelay(true);
    this.s.on('data', (d) => { this.buf += d.toString('latin1'); this.pump(); });
    await new Promise((r) => { this.greet = r; });
  }
  pump() {
    if (this.greet) { const i = this.buf.indexOf('\r\n'); if (i >= 0) { this.buf = this.buf.slice(i + 2); const g = this.greet; this.greet = null; g(); } return; }
    const w = this.waiters[0]; if (!w) return;
    const m = new RegExp(`^${w.tag} (OK|NO|BAD)[^\\r]*\\r\\n`, 'm').exec(this.buf);
    if (!m) return;
    const body = this.buf.slice(0, m.index + m[0].length); this.buf = this.buf.slice(m.index + m[0].length);
    this.waiters.shift(); w.res({ ok: m[1] === 'OK', ms: performance.now() - w.t0, body });
  }
  cmd(c) { const tag = `a${++this.n}`; return new Promise((res) => { this.waiters.push({ tag, res, t0: performance.now() }); this.s.write(`${tag} ${c}\r\n`); }); }
  async close() { const p = new Promise((r) => this.s.once('close', r)); await this.cmd('LOGOUT'); this.s.end(); await p; }
}

async function session(port, kind) {
  const c = new Client(port); await c.open();
  const u = kind === 'list' ? 'lister' : 'm2k';
  const r0 = await c.cmd(`LOGIN ${u} ${users[u]}`); if (!r0.ok) throw new Error(r0.body);
  let r;
  if (kind === 'list') r = await c.cmd('LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN))');
  else {
    await c.cmd('SELECT INBOX');
    r = await c.cmd(kind === 'sort' ? 'SORT (DATE) UTF-8 ALL' : kind === 'thread' ? 'THREAD REFERENCES UTF-8 ALL' : 'FETCH 1:* ENVELOPE');
  }
  if (!r.ok) throw new Error(r.body.slice(-200));
  await c.close();
  return r.ms;
}

const ctlExtra = [];
async function controlReq(port, w) {
  return new Promise((res, rej) => {
    const s = net.connect(port, '127.0.0.1', () => { s.setNoDelay(true); s.write(`${w}\n`); });
    let b = ''; s.on('data', (d) => { b += d; }); s.on('error', rej);
    s.on('close', () => { const f = b.trim().split(' ').map(Number); ctlExtra.push({ minors: f[2], gcMs: f[3], nsK: f[4], others: f[5] }); res(f[0]); });
  });
}
async function startControl() {
  const child = spawn(process.execPath, [...(args.ctlflags ? args.ctlflags.split(' ') : []), join(HERE, 'resident-gap-control.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((r) => child.stdout.once('data', (d) => r(Number(/port (\d+)/.exec(d.toString())[1]))));
  return { child, port };
}

async function setup() {
  if (existsSync(join(DIR, 'ready'))) return { conf: join(DIR, 'dmail.conf') };
  mkdirSync(DIR, { recursive: true });
  const site = writeOurSite(DIR, { users, authd: 'sh', root: ROOT });
  placeSpool(site.spool, 'm2k', join(ROOT, '.bench/corpus/mbox-2k'));
  placeSpool(site.spool, 'lister', join(ROOT, '.bench/corpus/mbox-200'));
  const m = await startMaster(site.conf, 'setup');
  const c = new Client(m.port); await c.open();
  await c.cmd('LOGIN lister pw-lister');
  for (let f = 1; f <= 200; f++) {
    const name = `Folder${String(f).padStart(3, '0')}`;
    await c.cmd(`CREATE ${name}`);
    for (let i = 1; i <= 3; i++) {
      const msg = `From: list${i}@example.com\r\nTo: lister@example.com\r\nSubject: folder ${f} message ${i}\r\nMessage-ID: <list-${f}-${i}@bench>\r\n\r\nbody ${i}\r\n`;
      const r = await c.cmd(`APPEND ${name}${i === 1 ? ' (\\Seen)' : ''} {${Buffer.byteLength(msg)}+}\r\n${msg}`);
      if (!r.ok) throw new Error(r.body);
    }
  }
  await c.close();
  m.child.kill('SIGTERM'); await sleep(1000);
  writeFileSync(join(DIR, 'ready'), '');
  return { conf: site.conf };
}

async function startMaster(conf, name, env = {}) {
  const extra = ['resident_max_connections 5000', 'resident_max_connections_per_ip 5000', 'resident_max_connections_per_user 1000', 'resident_worker_sessions 2000', 'resident_worker_idle 3600', ...(args.conf ? args.conf.split(';') : [])];
  const c2 = join(DIR, `${name}.conf`);
  writeFileSync(c2, readFileSync(conf, 'utf8') + extra.join('\n') + '\n');
  const out = join(DIR, `${name}.out`);
  const fd = openSync(out, 'w');
  const child = spawn(join(ROOT, 'bin/imapd'), ['-c', c2, '--daemon', '--listen', '127.0.0.1:0'], { stdio: ['ignore', fd, fd, 'ipc'], env: { PATH: process.env.PATH, LANG: 'C', ...env } });
  closeSync(fd);
  for (let i = 0; i < 300; i++) {
    await sleep(100);
    const m = /imapd listening on 127\.0\.0\.1:(\d+)/.exec(readFileSync(out, 'utf8'));
    if (m) return { child, port: Number(m[1]), out };
  }
  throw new Error('no port');
}

const { conf } = await setup();
const env = {};
if (args.env) for (const kv of args.env.split(';')) { const i = kv.indexOf('='); env[kv.slice(0, i)] = kv.slice(i + 1); }
const m = await startMaster(conf, args.name ?? 'run', env);
const kinds = (args.kinds ?? 'list').split(',');
const ctl = kinds.some((k) => k.startsWith('ctl-')) ? await startControl() : null;
const run = (k) => (k.startsWith('ctl-') ? controlReq(ctl.port, k.slice(4)) : session(m.port, k));
const pidOf = (k) => (k.startsWith('ctl-') ? ctl.child.pid : worker);
const gaps = (args.gaps ?? '0,300,1000,3000').split(',').map(Number);
const n = Number(args.n ?? 20);
try {
  // warm: 30 sessions back to back of every kind
  for (let i = 0; i < Number(args.warm ?? 30); i++) for (const k of kinds) await (k.startsWith('ctl-') ? controlReq(ctl.port, k.slice(4)) : session(m.port, k));
  var worker = childrenOf(m.child.pid).find((p) => / worker$/.test(title(p)));
  if (worker) console.log('worker', worker, 'idle mem', rssPss(worker));
  const res = {};
  // Interleave gaps round-robin (blocks of 5 sessions per gap) so machine load drifts hit all alike.
  for (let round = 0; round < n / 5; round++) {
    for (const gap of gaps) {
      for (const k of kinds) {
        for (let j = 0; j < 5; j++) {
          const P = pidOf(k);
          const ca = byComm(P);
          const a = threadsNs(P);
          await sleep(gap);
          const b = threadsNs(P);
          const cb = byComm(P);
          ctlExtra.length = 0;
          const f0 = minflt(P);
          const ms = await run(k);
          const ex = ctlExtra[0];
          await sleep(5);
          const c = threadsNs(P);
          const flt = minflt(P) - f0;
          const cc = byComm(P);
          addComm(`${k}@${gap} gap`, ca, cb); addComm(`${k}@${gap} sess`, cb, cc);
          (res[`${k}@${gap}`] ??= []).push({ ms, sMain: (c.main - b.main) / 1e6, sOther: (c.other - b.other) / 1e6, gMain: (b.main - a.main) / 1e6, gOther: (b.other - a.other) / 1e6, ex, flt });
        }
      }
    }
  }
  const med = (xs) => { const s = [...xs].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log('key            n  cmdMed  sessMainMean sessMainMed sessOtherMean gapMainMean gapOtherMean');
  for (const [k, v] of Object.entries(res)) {
    console.log(k.padEnd(14), String(v.length).padStart(2), med(v.map((x) => x.ms)).toFixed(2).padStart(7), mean(v.map((x) => x.sMain)).toFixed(2).padStart(12), med(v.map((x) => x.sMain)).toFixed(2).padStart(11), mean(v.map((x) => x.sOther)).toFixed(2).padStart(13), mean(v.map((x) => x.gMain)).toFixed(2).padStart(11), mean(v.map((x) => x.gOther)).toFixed(2).padStart(12));
  }
  if (worker) console.log('idle mem after', rssPss(worker));
  for (const [k, v] of Object.entries(res)) console.log(k.padEnd(16), `minflt/session=${mean(v.map((x) => x.flt)).toFixed(0)}`);
  for (const [k, v] of Object.entries(res)) if (v[0].ex) console.log(k.padEnd(16), `minors/req=${mean(v.map((x) => x.ex.minors)).toFixed(2)} gcMs/req=${mean(v.map((x) => x.ex.gcMs)).toFixed(2)} newSpaceK=${mean(v.map((x) => x.ex.nsK)).toFixed(0)} otherGC/req=${mean(v.map((x) => x.ex.others)).toFixed(2)}`);
  for (const [k, o] of Object.entries(commAcc)) console.log(k.padEnd(20), Object.entries(o).filter(([, v]) => v > 0.05).map(([c, v]) => `${c}=${(v / (n)).toFixed(2)}`).join(' '));
  if (worker && args.trimwait) { await sleep(Number(args.trimwait)); console.log('idle mem after trim wait', rssPss(worker)); }
  if (args.raw) writeFileSync(args.raw, JSON.stringify(res));
} finally {
  m.child.kill('SIGTERM'); ctl?.child.kill('SIGTERM'); await sleep(800);
}
