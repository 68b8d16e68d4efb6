// Issue 12: the resident mode (src/resident/) beside the Dovecot daemon. "ours" in these rows is a
// resident master (`bin/imapd --daemon`) on the same site, corpora and users as the per-connection rows,
// started on first use; Dovecot is the same daemon as in the other rows (one imap-login and one imap
// process per connection, its defaults). Memory is PSS summed over every process of the server (master,
// pre-login, workers, auth module children; Dovecot: master, auth, anvil, log, config, login and imap
// processes), read from /proc/PID/smaps_rollup, so shared pages are counted once across the tree.
import { mkdirSync, readFileSync, writeFileSync, chownSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openClient } from './client.mjs';
import { corpusPlan } from './corpus.mjs';
import { freePort, startDovecotDaemon, childrenOf } from './servers.mjs';
import { startResidentMaster } from './resident-master.mjs';
import { stress } from './stress.mjs';
import { placeSpool, writeShellAuthd } from './site.mjs';
import { dovecotMissing, ensureBenchUser, writeDovecotConfig } from './dovecot.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BENCH = join(ROOT, '.bench');
const quick = process.argv.includes('--quick');
const plan = corpusPlan(quick);
const PASS = (u) => `pw-${u}`;
const WARM = `m${plan.medium.label}`;
const FIVE = Array.from({ length: 5 }, (_, i) => `c${String(i).padStart(2, '0')}`);
const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const stressSeconds = (() => { const i = process.argv.indexOf('--stress-seconds'); return i > 0 ? Number(process.argv[i + 1]) : quick ? 10 : 20; })();

class Skip extends Error {}

// ---------------------------------------------------------------- process trees and PSS
function tree(pid) {
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...childrenOf(out[i]));
  return out;
}
function pssKB(pid) {
  try { return Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0); } catch { return 0; }
}
const treePssMB = (root) => tree(root).reduce((a, p) => a + pssKB(p), 0) / 1024;

// ---------------------------------------------------------------- servers of these rows
// Our masters come from resident-master.mjs (the bench's limits: 1,000 sessions from one address, every
// other setting the site's; stopped at the bench's exit at the latest). Dovecot's second daemon is ours
// to stop.
const started = [];
process.on('exit', () => { for (const c of started) { try { c.kill('SIGTERM'); } catch { /* gone */ } } });
const startResident = (name, siteConf, dir, extra = []) => startResidentMaster({ name, siteConf, dir, extra });

/** A fresh master's first login (connect -> LOGIN answered), once its processes are up: with a spare
 *  worker (the default) the login binds it; without, it forks the worker. */
async function firstLogin(t, spares) {
  if (!t.site) throw new Skip('ours not built');
  const r = await startResident(`ours-resident-first-${spares}`, t.site.conf, t.site.dir, [`resident_spare_workers ${spares}`]);
  try {
    // Up: a pre-login process and, when asked for, the spare (its title says so).
    for (let i = 0; i < 200; i++) {
      const kids = tree(r.pid).slice(1).map((p) => { try { return readFileSync(`/proc/${p}/cmdline`, 'latin1'); } catch { return ''; } });
      if (kids.length >= 1 + spares && (spares === 0 || kids.some((k) => k.includes('(spare)')))) break;
      await sleep(50);
    }
    await sleep(300);
    const t0 = now();
    const { client } = await openClient(r.port, { timeoutMs: 60_000 });
    try {
      await ok(client, `LOGIN ${WARM} ${PASS(WARM)}`);
      return now() - t0;
    } finally { client.close(); }
  } finally {
    await r.stop();
  }
}

/** The server a row talks to: ours → the resident master on the bench site (started once). */
const residents = new WeakMap();
async function server(t) {
  if (t.kind === 'dovecot') return { port: t.imap.port, pid: t.handle.pid };
  if (!t.site) throw new Skip('ours not built');
  let r = residents.get(t);
  if (!r) { r = startResident('resident-rows', t.site.conf, t.site.dir); residents.set(t, r); }
  return r;
}

// ---------------------------------------------------------------- 100 users for the 1,000-session row
const MANY = Array.from({ length: 100 }, (_, i) => `v${String(i).padStart(3, '0')}`);
const smallMbox = () => Array.from({ length: 20 }, (_, i) => `From x@example.com Tue Jan  2 03:04:05 2024\nFrom: x@example.com\nSubject: idle ${i}\nMessage-ID: <idle${i}@x>\n\nbody ${i}\n\n`).join('');
const manySites = new Map();
async function manyServer(t) {
  if (manySites.has(t.kind)) return manySites.get(t.kind);
  const p = (async () => {
    const dir = join(BENCH, 'work', `many-${t.kind}`);
    const spool = join(dir, 'spool');
    mkdirSync(spool, { recursive: true });
    const users = Object.fromEntries(MANY.map((u) => [u, PASS(u)]));
    if (t.kind === 'ours') {
      for (const d of ['log', 'work', 'index']) mkdirSync(join(dir, d), { recursive: true });
      for (const u of MANY) writeFileSync(join(spool, u), smallMbox());
      writeShellAuthd(join(dir, 'authd.sh'), users, spool);
      const conf = join(dir, 'dmail.conf');
      writeFileSync(conf, [`drop_path ${spool}`, `log_path ${join(dir, 'log')}`, `work_path ${join(dir, 'work')}`, `index_path ${join(dir, 'index')}`,
        'log_level info', 'authent_method external', `authent_process ${join(dir, 'authd.sh')}`, 'imapd_become_user false',
        'allow_root_login true', 'auth_fail_delay 0', ''].join('\n'));
      return startResident('ours-resident-many', conf, dir);
    }
    if (dovecotMissing()) throw new Skip('dovecot missing');
    const owner = ensureBenchUser(() => {});
    chownSync(spool, owner.uid, owner.gid);
    for (const u of MANY) { writeFileSync(join(spool, u), smallMbox()); chownSync(join(spool, u), owner.uid, owner.gid); }
    const imapPort = await freePort();
    const pop3Port = await freePort();
    const conf = writeDovecotConfig(join(dir, 'etc'), { users, spoolDir: spool, imapPort, pop3Port, ...owner });
    // Its defaults stop at 100 processes per service and 10 connections per user and address.
    writeFileSync(conf, readFileSync(conf, 'utf8') + 'default_process_limit = 1200\ndefault_client_limit = 4000\nmail_max_userip_connections = 100\n');
    const d = await startDovecotDaemon('dovecot-many', conf, { logFile: join(BENCH, 'work', 'dovecot-many.log'), imapPort, pop3Port });
    started.push({ kill: () => d.stop() });
    return { port: imapPort, pid: d.pid };
  })();
  manySites.set(t.kind, p);
  return p;
}

// ---------------------------------------------------------------- sessions
async function ok(c, cmd) {
  const r = await c.imap(cmd, { ms: 120_000 });
  if (!r.ok) throw new Skip(`${cmd.split(' ')[0]} failed: ${r.status.slice(0, 100)}`);
  return r;
}

/** n sessions LOGIN + SELECT + IDLE, users round-robin; returns the clients and the set-up wall time. */
async function idleSessions(port, users, n, parallel = 10) {
  const clients = [];
  const t0 = now();
  let next = 0;
  const one = async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const { client } = await openClient(port, { timeoutMs: 120_000 });
      clients.push(client);
      const u = users[i % users.length];
      await ok(client, `LOGIN ${u} ${PASS(u)}`);
      await ok(client, 'SELECT INBOX');
      await client.startIdle(120_000);
    }
  };
  await Promise.all(Array.from({ length: parallel }, one));
  return { clients, setupMs: now() - t0 };
}

async function closeAll(clients) {
  for (const c of clients) c.close();
  await sleep(500); // let the servers notice before the next run
}

const IDLE_SETTLE_MS = 7000;

async function idleRow(t, users, n, what) {
  // The memory row gets a master of its own: the shared one still holds the workers (and the 10k-message
  // mailboxes) of the rows before it until resident_worker_idle, which Dovecot's per-login imap processes
  // do not (they exited at LOGOUT).
  const own = what === 'pss' && users !== MANY && t.kind === 'ours';
  if (own && !t.site) throw new Skip('ours not built');
  const s = users === MANY ? await manyServer(t) : own ? await startResident('ours-resident-idle', t.site.conf, t.site.dir) : await server(t);
  try {
    return await idleMeasure(s, users, n, what);
  } finally {
    if (own) await s.stop();
  }
}

async function idleMeasure(s, users, n, what) {
  const before = treePssMB(s.pid);
  const { clients, setupMs } = await idleSessions(s.port, users, n);
  // Sampled once the sessions have idled a while, as a server with idle clients spends its time (both
  // servers alike): ours gives the young-generation garbage of the set-up burst back after ~6 s of quiet
  // (src/resident/trim.ts); right after the burst it still holds it.
  await sleep(what === 'pss' ? IDLE_SETTLE_MS : 300);
  const pss = treePssMB(s.pid);
  await closeAll(clients);
  return { value: what === 'pss' ? pss : setupMs, wallMs: setupMs, extra: { pssMB: pss, pssBeforeMB: before, setupMs, perSessionMB: (pss - before) / n } };
}

export const SCENARIOS = [
  {
    id: 'resident-greeting', title: 'resident: IMAP connect -> greeting', unit: 'ms', lower: true, runs: quick ? 5 : 20,
    who: ['ours', 'dovecot'],
    once: async (t) => {
      const s = await server(t);
      const { client, greeting, greetingMs } = await openClient(s.port, { timeoutMs: 20_000 });
      client.close();
      if (!/^\* OK/.test(greeting)) throw new Skip(`bad greeting: ${greeting.slice(0, 80)}`);
      return { value: greetingMs, wallMs: greetingMs };
    },
    target: { text: '<= 5 ms', abs: 5.0001 },
  },
  {
    id: 'resident-session-warm-10k', title: `resident: LOGIN/SELECT/FETCH 1:* (FLAGS)/LOGOUT ${plan.medium.label} warm`, unit: 'ms', lower: true, runs: quick ? 3 : 5,
    who: ['ours', 'dovecot'],
    once: async (t) => {
      const s = await server(t);
      const t0 = now();
      const { client } = await openClient(s.port, { timeoutMs: 120_000 });
      try {
        await ok(client, `LOGIN ${WARM} ${PASS(WARM)}`);
        await ok(client, 'SELECT INBOX');
        const r = await ok(client, 'FETCH 1:* (FLAGS)');
        if (r.untagged < plan.medium.n) throw new Skip(`FETCH listed ${r.untagged}, want ${plan.medium.n}`);
        await ok(client, 'LOGOUT');
        await client.closed();
      } finally { client.close(); }
      const wall = now() - t0;
      return { value: wall, wallMs: wall };
    },
    target: { text: '<= 1.0x dovecot', vs: 'dovecot', max: 1.0 },
  },
  {
    id: 'resident-first-login', title: 'resident: a fresh master\'s first LOGIN (connect -> OK; with resident_spare_workers 1)', unit: 'ms', lower: true, runs: quick ? 3 : 5, warmup: 0,
    who: ['ours', 'dovecot'],
    once: async (t) => {
      if (t.kind === 'dovecot') {
        const s = await server(t);
        const t0 = now();
        const { client } = await openClient(s.port, { timeoutMs: 60_000 });
        try { await ok(client, `LOGIN ${WARM} ${PASS(WARM)}`); } finally { client.close(); }
        const ms = now() - t0;
        return { value: ms, wallMs: ms };
      }
      const withSpare = await firstLogin(t, 1);
      const noSpare = await firstLogin(t, 0);
      console.log(`    ours: first LOGIN ${withSpare.toFixed(1)} ms with the spare worker, ${noSpare.toFixed(1)} ms with resident_spare_workers 0`);
      return { value: withSpare, wallMs: withSpare + noSpare, extra: { noSpareMs: noSpare } };
    },
  },
  {
    id: 'resident-idle50-pss', title: 'resident: 50 idle sessions (LOGIN, SELECT, IDLE; 5 users): summed PSS', unit: 'MB', lower: true, runs: quick ? 1 : 3,
    who: ['ours', 'dovecot'],
    once: (t) => idleRow(t, FIVE, 50, 'pss'),
    target: { text: '<= 1.5x dovecot', vs: 'dovecot', max: 1.5 },
  },
  {
    id: 'resident-idle50-setup', title: 'resident: 50 idle sessions: set-up time', unit: 'ms', lower: true, runs: quick ? 1 : 3,
    who: ['ours', 'dovecot'],
    once: (t) => idleRow(t, FIVE, 50, 'setup'),
    target: { text: '<= 1.0x dovecot', vs: 'dovecot', max: 1.0 },
  },
  {
    id: 'resident-stress-5x20s', title: `resident: stress, 5 connections on one account, ${stressSeconds} s (logins)`, unit: 'logins', lower: false, runs: 1, warmup: 0,
    who: ['ours', 'dovecot'],
    // A fresh copy of the small corpus (run.mjs's t.place knows only its own plan object).
    prepare: (t) => placeSpool(dirname(t.spoolOf('stress')), 'stress', join(BENCH, 'corpus', plan.small.file),
      { fresh: true, ...(t.kind === 'dovecot' ? { owner: ensureBenchUser(() => {}) } : {}) }),
    once: async (t) => {
      const s = await server(t);
      const r = await stress({ port: s.port, user: 'stress', pass: PASS('stress'), connections: 5, durationMs: stressSeconds * 1000, seed: 12, cmdTimeoutMs: 60_000 });
      console.log(`    ${t.kind}: ${r.errorCount} protocol errors${r.errors.length ? `; first: ${r.errors.slice(0, 3).map((e) => `${e.cmd} -> ${e.got}`).join(' | ')}` : ''}`);
      return { value: r.logins, wallMs: stressSeconds * 1000, extra: { errors: r.errorCount, commands: r.commands, firstErrors: r.errors.slice(0, 10) } };
    },
    target: { text: '>= 1.0x dovecot, zero errors', vs: 'dovecot', min: 1.0 },
  },
  {
    id: 'resident-idle1000-pss', title: 'resident: 1,000 idle sessions across 100 users: summed PSS', unit: 'MB', lower: true, runs: 1, warmup: 0,
    who: ['ours', 'dovecot'],
    once: (t) => idleRow(t, MANY, 1000, 'pss'),
    target: { text: '< 1024 MB', abs: 1024 },
  },
];
