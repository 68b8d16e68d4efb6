#!/usr/bin/env node
// `npm run bench`: our imapd/dpop side by side with Dovecot and with the bare-node floor. See README.md
// in this directory for how to run it and how to read the table. Plain ESM so no TS runtime is needed.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { corpusPlan, ensureCorpora, RARE_WORD } from './corpus.mjs';
import { openClient } from './client.mjs';
import { launcherMissing, startPerConnection, startDovecotDaemon, freePort, killAll } from './servers.mjs';
import { dovecotMissing, dovecotVersion, ensureBenchUser, writeDovecotConfig } from './dovecot.mjs';
import { writeOurSite, placeSpool, wipeOurIndex } from './site.mjs';
import { summary, fmtNum, fmtSummary, table } from './stats.mjs';
import { stress } from './stress.mjs';
import { SCENARIOS as RESIDENT_SCENARIOS } from './scenarios-resident.mjs';
import { multihostBench, multihostSoak } from './multihost.mjs';
import { listScenarios, LIST_USERS } from './scenarios-list.mjs';
import { appendScenarios } from './scenarios-append.mjs';
import { modernScenarios } from './scenarios-modern.mjs';
import { searchScenarios } from './scenarios-search.mjs';
import { cacheScenarios } from './scenarios-cache.mjs';
import { contextScenarios } from './scenarios-context.mjs';
import { snapshotDerived } from './scenarios-snapshot.mjs';
import { stallScenarios } from './scenarios-stall.mjs';
import { startResidentMaster } from './resident-master.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BENCH = join(ROOT, '.bench');
const now = () => performance.now();
const say = (...a) => console.log(...a);

// ---------------------------------------------------------------- options
const HELP = `usage: node test/bench/run.mjs [options]   (npm run bench -- [options])
  --quick          CI-sized: small corpora (200/2k/10k messages, 5 MB attachment), fewer runs
  --runs N         measured runs per scenario (default 5; heavy scenarios 3)
  --warmup N       warm-up runs per scenario (default 1)
  --only REGEX     run only scenarios whose id matches
  --no-reference   skip Dovecot even when installed
  --no-resident    skip the system ours-resident (resident masters)
  --stress-seconds N  run the stress-5x20s scenario for N seconds (a soak)
  --multihost-soak N  run the several-hosts GlusterFS workload for N seconds (issue 16 soak)
  --authd sh|node  external auth module for our servers: generated sh script (default) or
                   test/helpers/static-authd.mjs (adds a node start-up to every login)
  --help`;
function parseArgs(argv) {
  const o = { quick: false, runs: null, warmup: 1, only: null, reference: true, resident: true, authd: 'sh', stressSeconds: null, multihostSoak: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--runs') o.runs = Math.max(1, Number(argv[++i]));
    else if (a === '--warmup') o.warmup = Math.max(0, Number(argv[++i]));
    else if (a === '--only') o.only = new RegExp(argv[++i]);
    else if (a === '--no-reference') o.reference = false;
    else if (a === '--no-resident') o.resident = false;
    else if (a === '--stress-seconds') o.stressSeconds = Math.max(1, Number(argv[++i]));
    else if (a === '--multihost-soak') o.multihostSoak = Math.max(1, Number(argv[++i]));
    else if (a === '--authd') o.authd = argv[++i] === 'node' ? 'node' : 'sh';
    else if (a === '--help' || a === '-h') { console.log(HELP); process.exit(0); }
    else { console.error(`unknown option ${a}\n${HELP}`); process.exit(2); }
  }
  return o;
}
const opt = parseArgs(process.argv.slice(2));
const CMD_MS = opt.quick ? 60_000 : 180_000;

// ---------------------------------------------------------------- users and corpora
const plan = corpusPlan(opt.quick);
const U = {
  warm: `m${plan.medium.label}`,
  cold: `cold${plan.medium.label}`,
  large: `l${plan.large.label}`,
  big: 'bigmsg',
  exp: `exp${plan.large.label}`,
  conc: Array.from({ length: 20 }, (_, i) => `c${String(i).padStart(2, '0')}`),
  stress: 'stress',
  idle: 'idler',
};
const PASS = (u) => `pw-${u}`;
const allUsers = [U.warm, U.cold, U.large, U.big, U.exp, ...U.conc, U.stress, U.idle, ...LIST_USERS];

// ---------------------------------------------------------------- sessions
class Skip extends Error {}

async function ok(client, cmd, ms, key) {
  const r = await client.imap(cmd, { ms: CMD_MS, collect: /SEARCH/i.test(cmd) });
  if (!r.ok) throw new Skip(`${cmd.split(' ').slice(0, 2).join(' ')} failed: ${r.status.slice(0, 100)}`);
  if (key) ms[key] = r.ms;
  return r;
}
async function popOk(client, cmd, ms, key, multi = false) {
  const r = await client.pop(cmd, { ms: CMD_MS, multi });
  if (!r.ok) throw new Skip(`${cmd.split(' ')[0]} failed: ${r.status.slice(0, 100)}`);
  if (key) ms[key] = r.ms;
  return r;
}

const newest = (procs) => (procs && procs.length ? procs.reduce((a, b) => (b.pid > a.pid ? b : a)) : null);

/**
 * Server-side cost of n sessions. Per-connection servers: the GNU time records of their processes.
 * Daemons (Dovecot, our resident master: handles with treeCpuMs): CPU delta of the whole process tree
 * (master, auth, login and session processes, once Dovecot's session processes are reaped); RSS from the
 * session processes sampled before logout (Dovecot: VmHWM of its imap/pop3 process; resident: VmRSS of
 * the worker, which outlives the session).
 */
function account(h, kind) {
  if (h.treeCpuMs) {
    const cpu0 = h.treeCpuMs();
    const seen = [];
    return {
      note: (procs) => { for (const p of procs ?? []) if (p) seen.push(p); },
      async end() {
        await h.reaped(seen.map((p) => p.pid));
        return { cpuMs: h.treeCpuMs() - cpu0, rssKB: seen.length ? Math.max(...seen.map((p) => p.rssKB)) : undefined };
      },
    };
  }
  const mark = h.mark();
  return {
    note: () => {},
    async end(n = 1) {
      const recs = await h.collect(mark, n);
      return { cpuMs: recs.reduce((a, r) => a + r.cpuMs, 0), rssKB: Math.max(...recs.map((r) => r.rssKB)) };
    },
  };
}

/** One IMAP session: connect, LOGIN, body(client, ms), LOGOUT; with the server process's CPU and RSS. */
async function imapSession(t, user, body, acct = account(t.imap, t.kind)) {
  const h = t.imap;
  const own = arguments.length < 4;
  const t0 = now();
  const { client, greetingMs } = await openClient(h.port, { timeoutMs: CMD_MS });
  const ms = { greeting: greetingMs };
  try {
    await ok(client, `LOGIN ${user} ${PASS(user)}`, ms, 'login');
    await body(client, ms);
    if (h.treeCpuMs) acct.note(await h.sample('imap'));
    await ok(client, 'LOGOUT', ms, 'logout');
    await client.closed();
    ms.wall = now() - t0;
    const rec = own ? await acct.end() : {};
    return { ms, cpuMs: rec.cpuMs, rssKB: rec.rssKB };
  } finally { client.close(); }
}

async function popSession(t, user, body) {
  const h = t.pop;
  const acct = account(h, t.kind);
  const t0 = now();
  const { client, greetingMs } = await openClient(h.port, { timeoutMs: CMD_MS });
  client.mode = 'pop3';
  const ms = { greeting: greetingMs };
  try {
    await popOk(client, `USER ${user}`, ms, 'user');
    await popOk(client, `PASS ${PASS(user)}`, ms, 'pass');
    await body(client, ms);
    if (h.treeCpuMs) acct.note(await h.sample('pop3'));
    await popOk(client, 'QUIT', ms, 'quit');
    await client.closed();
    ms.wall = now() - t0;
    const rec = await acct.end();
    return { ms, cpuMs: rec.cpuMs, rssKB: rec.rssKB };
  } finally { client.close(); }
}

/** Connect, read the greeting, hang up (the idle session). */
async function greetOnly(h, kind, comm) {
  const acct = account(h, kind);
  const { client, greeting, greetingMs } = await openClient(h.port, { timeoutMs: 20_000 });
  if (!/^(\* OK|\+OK)/.test(greeting)) { client.close(); throw new Skip(`bad greeting: ${greeting.slice(0, 80)}`); }
  if (h.treeCpuMs) acct.note([newest(await h.sample(comm))]);
  client.close();
  const rec = await acct.end();
  return { value: greetingMs, wallMs: greetingMs, cpuMs: rec.cpuMs, rssKB: rec.rssKB };
}

const mbps = (bytes, ms) => bytes / 1e6 / (ms / 1000);

/** SELECT then FETCH 1:* (FLAGS), checking that every message was listed (a figure for less is no figure). */
async function selectAndFetchFlags(c, ms, n) {
  await ok(c, 'SELECT INBOX', ms, 'select');
  const r = await ok(c, 'FETCH 1:* (FLAGS)', ms, 'fetch');
  if (r.untagged < n) throw new Skip(`FETCH 1:* (FLAGS) listed ${r.untagged} messages, want ${n}`);
}

// ---------------------------------------------------------------- issue 11: sessions that meet
// --stress-seconds N: the same stress as a soak of minutes (issue 11: zero protocol errors for minutes).
const STRESS_MS = opt.stressSeconds ? opt.stressSeconds * 1000 : opt.quick ? 10_000 : 20_000;
const haveProcmail = () => spawnSync('procmail', ['-v']).status === 0;

/** One procmail delivery (`:0:` dot-lock + fcntl, as a site's MDA does) into an mbox spool. */
function procmailDeliver(spool, rcDir, n) {
  const rc = join(rcDir, 'procmailrc');
  writeFileSync(rc, `LOGFILE=/dev/null\nVERBOSE=off\n:0:\n${spool}\n`);
  return new Promise((resolve, reject) => {
    const p = spawn('procmail', ['-m', rc], { stdio: ['pipe', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => (code === 0 ? resolve(now()) : reject(new Skip(`procmail exit ${code}: ${err.slice(0, 100)}`))));
    p.stdin.end(`From mda@example.com Tue Jan  2 03:04:05 2024\nFrom: mda@example.com\nTo: ${U.idle}@example.com\nSubject: idle ${n}\nMessage-ID: <idle-${n}-${Date.now()}@x>\n\nnew mail ${n}\n`);
  });
}

/** How long after `from` the IDLE session heard of it (0 when the news came before `from` was known). */
const latency = (heard, from) => Math.max(0, heard - from);
let idleRuns = 0;

// ---------------------------------------------------------------- scenarios
// who: which systems run it. value: the figure the target is judged on. lower: smaller is better.
const heavy = (n) => opt.runs ?? (opt.quick ? 2 : n);
const light = (n) => opt.runs ?? (opt.quick ? 3 : n);

const SCENARIOS = [
  {
    id: 'greeting-imap', title: 'IMAP connect -> greeting', unit: 'ms', lower: true, runs: light(10),
    who: ['floor', 'ours', 'ours-direct', 'ours-codecache', 'dovecot'],
    once: (t) => greetOnly(t.imap, t.kind, 'imap-login'),
    target: { text: '<= 1.3x floor', vs: 'floor', max: 1.3 },
  },
  {
    id: 'greeting-pop3', title: 'POP3 connect -> greeting', unit: 'ms', lower: true, runs: light(10),
    who: ['floor', 'ours', 'dovecot'],
    once: (t) => greetOnly(t.pop, t.kind, 'pop3-login'),
    target: { text: '<= 1.3x floor', vs: 'floor', max: 1.3 },
  },
  {
    id: 'select-cold-10k', title: `SELECT ${plan.medium.label}, index cold (fresh spool)`, unit: 'ms', lower: true, runs: heavy(3),
    who: ['ours', 'ours-resident', 'dovecot'],
    prepare: (t) => { t.place(U.cold, plan.medium, true); t.wipeIndex(U.cold); },
    once: async (t) => {
      const s = await imapSession(t, U.cold, (c, ms) => selectAndFetchFlags(c, ms, plan.medium.n));
      return { value: s.ms.select, wallMs: s.ms.wall, cpuMs: s.cpuMs, rssKB: s.rssKB };
    },
    target: { text: '< dovecot cold SELECT', vs: 'dovecot', max: 1.0, strict: true },
  },
  {
    id: 'session-warm-10k', title: `LOGIN/SELECT/FETCH 1:* (FLAGS)/LOGOUT ${plan.medium.label} warm`, unit: 'ms', lower: true, runs: light(5),
    who: ['ours', 'ours-resident', 'dovecot'],
    once: async (t) => {
      const s = await imapSession(t, U.warm, (c, ms) => selectAndFetchFlags(c, ms, plan.medium.n));
      return { value: s.ms.wall, wallMs: s.ms.wall, cpuMs: s.cpuMs, rssKB: s.rssKB, extra: { selectMs: s.ms.select } };
    },
    target: { text: '<= 1.5x dovecot', vs: 'dovecot', max: 1.5 },
  },
  {
    id: 'select-warm-100k', title: `SELECT ${plan.large.label} warm (session as above)`, unit: 'ms', lower: true, runs: heavy(3),
    who: ['ours', 'ours-resident', 'dovecot'],
    once: async (t) => {
      const s = await imapSession(t, U.large, (c, ms) => selectAndFetchFlags(c, ms, plan.large.n));
      return { value: s.ms.select, wallMs: s.ms.wall, cpuMs: s.cpuMs, rssKB: s.rssKB, extra: { sessionMs: s.ms.wall } };
    },
    target: { text: '< 150 ms', abs: 150 },
  },
  {
    id: 'uid-fetch-100k', title: `UID FETCH 1:* (UID RFC822.SIZE FLAGS) ${plan.large.label}`, unit: 'ms', lower: true, runs: heavy(3),
    who: ['ours', 'ours-resident', 'dovecot'],
    once: async (t) => {
      const s = await imapSession(t, U.large, async (c, ms) => { await ok(c, 'SELECT INBOX', ms, 'select'); const r = await ok(c, 'UID FETCH 1:* (UID RFC822.SIZE FLAGS)', ms, 'fetch'); ms.n = r.untagged; });
      if (s.ms.n < plan.large.n) throw new Skip(`UID FETCH listed ${s.ms.n} messages, want ${plan.large.n}`);
      return { value: s.ms.fetch, wallMs: s.ms.wall, cpuMs: s.cpuMs, rssKB: s.rssKB, extra: { lines: s.ms.n } };
    },
  },
  {
    id: 'fetch-body-big', title: `FETCH ${plan.big.at + 1} BODY[] (${plan.big.label} attachment)`, unit: 'MB/s', lower: false, runs: heavy(3),
    who: ['ours', 'ours-resident', 'dovecot'],
    once: async (t) => {
      const s = await imapSession(t, U.big, async (c, ms) => { await ok(c, 'SELECT INBOX', ms, 'select'); const r = await ok(c, `FETCH ${plan.big.at + 1} BODY[]`, ms, 'fetch'); ms.bytes = r.bytes; });
      if (s.ms.bytes < plan.big.bytes) throw new Skip(`short BODY[]: ${s.ms.bytes} bytes`);
      return { value: mbps(s.ms.bytes, s.ms.fetch), wallMs: s.ms.wall, cpuMs: s.cpuMs, rssKB: s.rssKB, extra: { bytes: s.ms.bytes, fetchMs: s.ms.fetch } };
    },
    target: { text: '>= dovecot, constant memory', vs: 'dovecot', min: 1.0 },
  },
  {
    id: 'pop3-retr-big', title: `POP3 RETR ${plan.big.at + 1} (${plan.big.label} attachment)`, unit: 'MB/s', lower: false, runs: heavy(3),
    who: ['ours', 'ours-resident', 'dovecot'],
    once: async (t) => {
      const s = await popSession(t, U.big, async (c, ms) => { const r = await popOk(c, `RETR ${plan.big.at + 1}`, ms, 'retr', true); ms.bytes = r.bytes; });
      if (s.ms.bytes < plan.big.bytes) throw new Skip(`short RETR: ${s.ms.bytes} bytes`);
      return { value: mbps(s.ms.bytes, s.ms.retr), wallMs: s.ms.wall, cpuMs: s.cpuMs, rssKB: s.rssKB, extra: { bytes: s.ms.bytes } };
    },
    target: { text: '>= dovecot, constant memory', vs: 'dovecot', min: 1.0 },
  },
  {
    id: 'search-rare-10k', title: `UID SEARCH TEXT ${RARE_WORD} (${plan.medium.label})`, unit: 'ms', lower: true, runs: heavy(3),
    who: ['ours', 'ours-resident', 'dovecot'],
    once: async (t) => {
      let hits = [];
      const s = await imapSession(t, U.warm, async (c, ms) => {
        await ok(c, 'SELECT INBOX', ms, 'select');
        const r = await ok(c, `UID SEARCH TEXT ${RARE_WORD}`, ms, 'search');
        hits = r.lines.filter((l) => l.startsWith('* SEARCH')).flatMap((l) => l.slice(8).trim().split(/\s+/).filter(Boolean));
      });
      if (hits.length !== 3) throw new Skip(`wrong SEARCH result: ${hits.length} hits, want 3`);
      return { value: s.ms.search, wallMs: s.ms.wall, cpuMs: s.cpuMs, rssKB: s.rssKB };
    },
  },
  {
    id: 'expunge-1pct-100k', title: `STORE \\Deleted + EXPUNGE 1% of ${plan.large.label} (fresh copy)`, unit: 'ms', lower: true, runs: heavy(3),
    // Every run starts from the same fresh copy, so a warm-up run would only repeat the work.
    warmup: 0,
    who: ['ours', 'ours-resident', 'dovecot'],
    prepare: (t) => t.place(U.exp, plan.large, true),
    once: async (t) => {
      const n = plan.large.n;
      const set = Array.from({ length: Math.floor(n / 100) }, (_, i) => (i + 1) * 100).join(',');
      let expunged = 0;
      const s = await imapSession(t, U.exp, async (c, ms) => {
        await ok(c, 'SELECT INBOX', ms, 'select');
        await ok(c, `STORE ${set} +FLAGS.SILENT (\\Deleted)`, ms, 'store');
        const r = await ok(c, 'EXPUNGE', ms, 'expunge');
        expunged = r.untagged;
      });
      if (expunged < n / 100) throw new Skip(`EXPUNGE reported ${expunged} untagged lines, want >= ${n / 100}`);
      return { value: s.ms.expunge, wallMs: s.ms.wall, cpuMs: s.cpuMs, rssKB: s.rssKB, extra: { storeMs: s.ms.store, selectMs: s.ms.select } };
    },
  },
  {
    id: 'pop3-session-10k', title: `POP3 USER/PASS/STAT/UIDL/QUIT ${plan.medium.label}`, unit: 'ms', lower: true, runs: light(5),
    who: ['ours', 'ours-resident', 'dovecot'],
    once: async (t) => {
      let n = 0;
      const s = await popSession(t, U.warm, async (c, ms) => { await popOk(c, 'STAT', ms, 'stat'); const r = await popOk(c, 'UIDL', ms, 'uidl', true); n = r.lines; });
      if (n !== plan.medium.n) throw new Skip(`UIDL listed ${n} messages, want ${plan.medium.n}`);
      return { value: s.ms.wall, wallMs: s.ms.wall, cpuMs: s.cpuMs, rssKB: s.rssKB };
    },
  },
  {
    id: 'concurrent-20', title: `20 concurrent sessions, 20 users x ${plan.small.label}`, unit: 'ms', lower: true, runs: light(3),
    who: ['ours', 'ours-resident', 'dovecot'],
    once: async (t) => {
      const acct = account(t.imap, t.kind);
      const t0 = now();
      const all = await Promise.all(U.conc.map((u) => imapSession(t, u, (c, ms) => selectAndFetchFlags(c, ms, plan.small.n), acct)));
      const wall = now() - t0;
      const rec = await acct.end(U.conc.length);
      const sessions = all.map((s) => s.ms.wall).sort((a, b) => a - b);
      // CPU: all 20 sessions together; RSS: the largest single session process.
      return { value: wall, wallMs: wall, cpuMs: rec.cpuMs, rssKB: rec.rssKB, extra: { medianSessionMs: sessions[10] } };
    },
  },
  {
    // Issue 11: 5 connections on one account, random commands (test/bench/stress.mjs), LOGOUT or hang-up,
    // reconnect. The figure is logins served; protocol errors are the derived row below (target: zero).
    id: 'stress-5x20s', title: `stress: 5 connections on one account, random commands, ${STRESS_MS / 1000} s (logins)`, unit: 'logins', lower: false,
    runs: opt.runs ?? 1, warmup: 0,
    who: ['ours', 'dovecot'],
    prepare: (t) => t.place(U.stress, plan.small, true),
    once: async (t) => {
      const r = await stress({ port: t.imap.port, user: U.stress, pass: PASS(U.stress), connections: 5, durationMs: STRESS_MS, seed: 11, cmdTimeoutMs: CMD_MS });
      if (r.errors.length) say(`    first protocol errors: ${r.errors.slice(0, 3).map((e) => `${e.cmd} -> ${e.got}`).join(' | ')}`);
      return { value: r.logins, wallMs: STRESS_MS, extra: { errors: r.errorCount, commands: r.commands, byCommand: r.byCommand, firstErrors: r.errors.slice(0, 10) } };
    },
  },
  {
    id: 'idle-delivery', title: 'IDLE: * EXISTS after a procmail delivery', unit: 'ms', lower: true, runs: light(5),
    who: ['ours', 'ours-resident', 'dovecot'],
    once: async (t) => {
      if (!haveProcmail()) throw new Skip('procmail not installed');
      const n = ++idleRuns;
      const s = await imapSession(t, U.idle, async (c, ms) => {
        await ok(c, 'SELECT INBOX', ms, 'select');
        const idle = await c.startIdle(CMD_MS);
        const heard = idle.until(/^\* \d+ EXISTS/, 45_000).catch(() => { throw new Skip('no * EXISTS within 45 s'); });
        heard.catch(() => {}); // awaited below; a failure before that must not be an unhandled rejection
        const delivered = await procmailDeliver(t.spoolOf(U.idle), t.rcDir, n);
        ms.latency = latency((await heard).at, delivered);
        await idle.done();
      });
      return { value: s.ms.latency, wallMs: s.ms.wall, cpuMs: s.cpuMs, rssKB: s.rssKB };
    },
    target: { text: '< 100 ms', abs: 100 },
  },
  {
    id: 'idle-store', title: "IDLE: * FETCH after another session's STORE", unit: 'ms', lower: true, runs: light(3),
    who: ['ours', 'ours-resident', 'dovecot'],
    once: async (t) => {
      const s = await imapSession(t, U.idle, async (c, ms) => {
        await ok(c, 'SELECT INBOX', ms, 'select');
        const idle = await c.startIdle(CMD_MS);
        // Dovecot checks an mbox only every mailbox_idle_check_interval (30 s) for index-only changes.
        const heard = idle.until(/^\* 1 FETCH /, 45_000).catch(() => { throw new Skip('no * FETCH within 45 s'); });
        heard.catch(() => {}); // awaited below; a failure before that must not be an unhandled rejection
        const { client: other } = await openClient(t.imap.port, { timeoutMs: CMD_MS });
        try {
          await ok(other, `LOGIN ${U.idle} ${PASS(U.idle)}`, {});
          await ok(other, 'SELECT INBOX', {});
          // A change it must hear of: the opposite of message 1's current \Flagged.
          const f = await other.imap('FETCH 1 (FLAGS)', { collect: true, ms: CMD_MS });
          const flagged = f.lines.some((l) => /^\* 1 FETCH .*\\Flagged/.test(l));
          await ok(other, `STORE 1 ${flagged ? '-' : '+'}FLAGS (\\Flagged)`, {});
          const stored = now();
          ms.latency = latency((await heard).at, stored);
          await ok(other, 'LOGOUT', {});
        } finally { other.close(); }
        await idle.done();
      });
      return { value: s.ms.latency, wallMs: s.ms.wall, cpuMs: s.cpuMs, rssKB: s.rssKB };
    },
    target: { text: '< 100 ms', abs: 100 },
  },
  ...RESIDENT_SCENARIOS,
  ...listScenarios({ imapSession, ok, Skip, light, plan, CMD_MS }),
  ...appendScenarios({ U, Skip, light, imapSession, ok }),
  ...modernScenarios({ plan, U, PASS, account, Skip, heavy, cmdMs: CMD_MS }),
  ...searchScenarios({ imapSession, Skip, U, plan, heavy, CMD_MS }),
  ...cacheScenarios({ imapSession, Skip, U, plan, heavy, CMD_MS }),
  ...contextScenarios({ imapSession, openClient, ok, PASS, Skip, U, plan, light, CMD_MS }),
  ...stallScenarios({ U, PASS, Skip, plan, heavy }),
];

// ---------------------------------------------------------------- systems
async function startSystems(log) {
  const systems = {};
  const notes = [];
  const work = join(BENCH, 'work');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const corpora = ensureCorpora(join(BENCH, 'corpus'), plan, log);
  const corpusOf = (c) => corpora[Object.keys(plan).find((k) => plan[k] === c)];
  const users = Object.fromEntries(allUsers.map((u) => [u, PASS(u)]));
  const standing = [[U.warm, plan.medium], [U.large, plan.large], [U.big, plan.big], ...U.conc.map((u) => [u, plan.small]), [U.idle, plan.small]];

  const floorJs = "require('fs').writeSync(1,'* OK floor ready\\r\\n');process.stdin.on('data',()=>{});process.stdin.on('end',()=>process.exit(0));process.stdin.on('error',()=>process.exit(0))";
  systems.floor = { kind: 'floor', label: 'floor (bare node)' };
  systems.floor.imap = systems.floor.pop = await startPerConnection('floor', [process.execPath, '-e', floorJs], { logFile: join(work, 'floor.log') });

  const built = existsSync(join(ROOT, 'dist/imapd.cjs')) && existsSync(join(ROOT, 'bin/imapd'));
  if (!built) notes.push('ours: dist/imapd.cjs or bin/imapd missing (run `node src/build.mjs`)');
  else {
    const site = writeOurSite(join(work, 'ours'), { users, authd: opt.authd, root: ROOT });
    const ours = { kind: 'ours', label: 'ours', site };
    ours.imap = await startPerConnection('ours-imapd', [join(ROOT, 'bin/imapd'), '-c', site.conf], { logFile: join(work, 'ours-imapd.log') });
    if (existsSync(join(ROOT, 'bin/dpop')) && existsSync(join(ROOT, 'dist/dpop.cjs'))) {
      ours.pop = await startPerConnection('ours-dpop', [join(ROOT, 'bin/dpop'), '-c', site.conf], { logFile: join(work, 'ours-dpop.log') });
    }
    ours.place = (user, c, fresh = false) => placeSpool(site.spool, user, corpusOf(c).path, { fresh });
    ours.spoolOf = (user) => join(site.spool, user);
    ours.rcDir = join(work, 'ours');
    ours.wipeIndex = (user) => wipeOurIndex(site, user);
    for (const [u, c] of standing) ours.place(u, c);
    systems.ours = ours;
    // The same site (spools, indexes, users, auth) served by resident masters (src/resident/): one
    // `bin/imapd --daemon` and one `bin/dpop --daemon`, each started on the first row that uses it and
    // stopped at the end. The bench users are virtual (imapd_become_user false): one worker serves them all,
    // and it stays for the whole run (resident-master.mjs: resident_worker_idle 3600).
    const res = {
      kind: 'resident', label: 'ours-resident (bin/imapd --daemon)', site,
      place: ours.place, spoolOf: ours.spoolOf, rcDir: ours.rcDir, wipeIndex: ours.wipeIndex,
    };
    const masters = {};
    res.start = (proto) => {
      const program = proto === 'pop' ? 'dpop' : 'imapd';
      if (!existsSync(join(ROOT, 'bin', program)) || !existsSync(join(ROOT, 'dist', `${program}.cjs`))) return Promise.reject(new Error('server not built'));
      masters[proto] ??= startResidentMaster({ name: `ours-resident-${program}`, siteConf: site.conf, dir: site.dir, program })
        .then(async (h) => {
          // One login and out, so the worker is up before the first row's runs (as it is in service).
          const { client } = await openClient(h.port, { timeoutMs: CMD_MS });
          try {
            if (proto === 'pop') { client.mode = 'pop3'; await client.pop(`USER ${U.warm}`); await client.pop(`PASS ${PASS(U.warm)}`); await client.pop('QUIT'); }
            else { await client.imap(`LOGIN ${U.warm} ${PASS(U.warm)}`); await client.imap('LOGOUT'); }
            await client.closed();
          } finally { client.close(); }
          res[proto] = h;
          log(`ours-resident: ${program} --daemon (pid ${h.pid}) listening on 127.0.0.1:${h.port}, worker ${h.workers().map((w) => w.pid).join(',') || 'none'}`);
          return h;
        });
      return masters[proto];
    };
    if (opt.resident) systems['ours-resident'] = res;
    // The same server without the bin/ wrapper: node runs the bundle directly (start-up comparison).
    systems['ours-direct'] = {
      kind: 'ours', label: 'ours (node dist/imapd.cjs)', site,
      imap: await startPerConnection('ours-direct', [process.execPath, join(ROOT, 'dist/imapd.cjs'), '-c', site.conf], { logFile: join(work, 'ours-direct.log') }),
    };
    // Experiment: the bundle run from a V8 code cache (see codecache-loader.cjs), to price compilation.
    systems['ours-codecache'] = {
      kind: 'ours', label: 'ours (V8 code cache)', site,
      imap: await startPerConnection('ours-codecache', [process.execPath, join(ROOT, 'test/bench/codecache-loader.cjs'), join(work, 'v8cache'), join(ROOT, 'dist/imapd.cjs'), '-c', site.conf], { logFile: join(work, 'ours-codecache.log') }),
    };
  }

  const missing = opt.reference ? dovecotMissing() : 'reference skipped (--no-reference)';
  if (missing) notes.push(`reference missing: ${missing}`);
  else {
    const owner = ensureBenchUser(log);
    const dir = join(work, 'dovecot');
    const spool = join(dir, 'spool');
    mkdirSync(spool, { recursive: true });
    // Dovecot dot-locks the spool from the mail user's uid: the spool directory must be theirs.
    const { chownSync } = await import('node:fs');
    chownSync(spool, owner.uid, owner.gid);
    const imapPort = await freePort();
    const pop3Port = await freePort();
    const conf = writeDovecotConfig(join(dir, 'etc'), { users, spoolDir: spool, imapPort, pop3Port, ...owner });
    const d = await startDovecotDaemon('dovecot', conf, { logFile: join(work, 'dovecot.log'), imapPort, pop3Port });
    const dv = { kind: 'dovecot', label: `dovecot ${dovecotVersion().split(' ')[0]} daemon`, handle: d };
    dv.imap = { port: imapPort, sample: d.sample, treeCpuMs: d.treeCpuMs, reaped: d.reaped };
    dv.pop = { port: pop3Port, sample: d.sample, treeCpuMs: d.treeCpuMs, reaped: d.reaped };
    dv.place = (user, c, fresh = false) => placeSpool(spool, user, corpusOf(c).path, { fresh, owner });
    dv.spoolOf = (user) => join(spool, user);
    dv.rcDir = dir;
    dv.wipeIndex = (user) => rmSync(join(dir, 'etc', 'index', user), { recursive: true, force: true });
    for (const [u, c] of standing) dv.place(u, c);
    systems.dovecot = dv;
  }
  return { systems, notes, corpora };
}

// ---------------------------------------------------------------- running
async function runScenario(sc, systems) {
  const res = { id: sc.id, title: sc.title, unit: sc.unit, lower: sc.lower, target: sc.target?.text ?? null, systems: {} };
  const active = [];
  const proto = /^(greeting-)?pop3-/.test(sc.id) ? 'pop' : 'imap';
  for (const who of sc.who) {
    const t = systems[who];
    if (who === 'ours-resident' && !opt.resident) continue; // --no-resident: not a column at all
    const r = { runs: [], error: null };
    res.systems[who] = r;
    if (!t) { r.error = 'not running'; continue; }
    // A server started on first use (ours-resident's masters).
    if (t.start && !t[proto]) await t.start(proto).catch((e) => { r.error = e.message; });
    if (r.error) continue;
    if (!t[proto]) r.error = 'server not built';
    else active.push([who, t, r]);
  }
  // Systems take turns run by run, so a load spike from elsewhere on the machine hits all of them alike.
  const warmup = sc.warmup ?? opt.warmup;
  for (let i = 0; i < warmup + sc.runs; i++) {
    for (const [, t, r] of active) {
      if (r.error) continue;
      try {
        await sc.prepare?.(t, i);
        const one = await sc.once(t);
        if (i >= warmup) r.runs.push(one);
        // Resident: which workers served it (warm means the warm-up run's worker serves the measured runs).
        if (t[proto]?.workers) (r.workers ??= []).push(t[proto].workers().map((w) => w.pid).sort((a, b) => a - b).join(','));
      } catch (e) {
        r.error = e instanceof Skip ? e.message : `error: ${e.message}`;
      }
    }
  }
  for (const who of Object.keys(res.systems)) {
    const r = res.systems[who];
    r.value = summary(r.runs.map((x) => x.value));
    r.wall = summary(r.runs.map((x) => x.wallMs));
    r.cpu = summary(r.runs.map((x) => x.cpuMs));
    r.rss = summary(r.runs.map((x) => (x.rssKB ? x.rssKB / 1024 : NaN)));
    const wk = r.workers ? [...new Set(r.workers)] : null;
    if (wk) r.workerChanged = wk.length > 1;
    const wkText = !wk ? '' : wk.length === 1 ? `  worker pid ${wk[0]} (every run)` : `  WORKER CHANGED between runs: ${r.workers.join(' / ')}`;
    say(`  ${sc.id} / ${who}: ${r.error ? `n/a (${r.error})` : `${fmtSummary(r.value, sc.unit)}  cpu ${fmtNum(r.cpu?.median, 'ms')}  rss ${fmtNum(r.rss?.median, 'MB')}${wkText}`}`);
  }
  return res;
}

/** Ratio and verdict of one of our systems ('ours', or 'ours-resident') against the row's target. */
function judge(res, who = 'ours') {
  const o = res.systems[who]?.value;
  const tg = SCENARIOS.find((s) => s.id === res.id)?.target;
  if (!tg) {
    const d = res.systems.dovecot?.value;
    return { ratio: o && d ? o.median / d.median : null, met: null };
  }
  if (!o) return { ratio: null, met: null };
  if (tg.abs !== undefined) return { ratio: o.median / tg.abs, met: o.median < tg.abs };
  const base = res.systems[tg.vs]?.value;
  if (!base) return { ratio: null, met: null };
  const ratio = o.median / base.median;
  if (tg.min !== undefined) return { ratio, met: ratio >= tg.min };
  return { ratio, met: tg.strict ? ratio < tg.max : ratio <= tg.max };
}

/** Rows the issue asks for that combine two measurements. */
function derivedRows(results) {
  const get = (id, who) => results.find((r) => r.id === id)?.systems[who];
  const rows = [];
  const idle = get('greeting-imap', 'ours')?.rss;
  const floorRss = get('greeting-imap', 'floor')?.rss;
  const ratioRow = (title, a, b, text, max) => {
    if (!a || !b) return rows.push({ title, unit: 'MB', ours: a, base: b, ratio: null, target: text, met: null });
    const ratio = a.median / b.median;
    rows.push({ title, unit: 'MB', ours: a, base: b, ratio, target: text, met: ratio <= max });
  };
  ratioRow('idle session peak RSS: ours vs floor', idle, floorRss, '<= 1.2x floor', 1.2);
  ratioRow(`${plan.large.label} session peak RSS vs idle`, get('select-warm-100k', 'ours')?.rss, idle, '< 2x idle', 2);
  ratioRow('BODY[] big message peak RSS vs idle', get('fetch-body-big', 'ours')?.rss, idle, 'constant (< 1.5x idle)', 1.5);
  ratioRow('RETR big message peak RSS vs idle dpop', get('pop3-retr-big', 'ours')?.rss, get('greeting-pop3', 'ours')?.rss, 'constant (< 1.5x idle)', 1.5);
  const st = (who) => { const r = get('stress-5x20s', who); return r && !r.error ? summary(r.runs.map((x) => x.extra?.errors)) : null; };
  if (get('stress-5x20s', 'ours')) {
    const o = st('ours');
    rows.push({ title: 'stress: protocol errors (ours; base: dovecot)', unit: 'errors', ours: o, base: st('dovecot'), ratio: null, target: 'zero', met: o ? o.median === 0 && o.max === 0 : null });
  }
  const s100 = get('select-warm-100k', 'ours')?.value, s10 = get('session-warm-10k', 'ours')?.runs;
  const sel10 = s10 ? summary(s10.map((x) => x.extra?.selectMs)) : null;
  rows.push(...snapshotDerived(get, plan.medium.label));
  rows.push({ title: `warm SELECT ${plan.large.label} vs ${plan.medium.label} (flatness)`, unit: 'ms', ours: s100, base: sel10, ratio: s100 && sel10 ? s100.median / sel10.median : null, target: 'info (10x messages)', met: null });
  return rows;
}

function report(results, derived, meta) {
  const cell = (r, unit) => (r?.error ? `n/a (${r.error})` : fmtSummary(r?.value, unit) ?? 'n/a');
  const rows = results.map((res) => {
    const j = judge(res);
    return [res.title, res.unit, cell(res.systems.ours), cell(res.systems.dovecot),
      res.systems.floor ? cell(res.systems.floor) : '', j.ratio === null ? '-' : `${j.ratio.toFixed(2)}x`,
      res.target ?? '-', j.met === null ? '-' : j.met ? 'yes' : 'NO'];
  });
  for (const d of derived) {
    rows.push([d.title, d.unit, fmtSummary(d.ours) ?? 'n/a', '', fmtSummary(d.base) ?? 'n/a', d.ratio === null ? '-' : `${d.ratio.toFixed(2)}x`, d.target, d.met === null ? '-' : d.met ? 'yes' : 'NO']);
  }
  say('\n' + table(['scenario', 'unit', 'ours median (min-max)', `${meta.referenceLabel} median (min-max)`, 'floor, or base of a derived row', 'ratio', 'target', 'met?'], rows));
  const g = results.find((r) => r.id === 'greeting-imap')?.systems;
  const variants = [['ours-direct', 'started as `node dist/imapd.cjs` (no bin/ wrapper)'], ['ours-codecache', 'bundle run from a V8 code cache (experiment)']];
  for (const [k, text] of variants) {
    const v = g?.[k];
    if (v?.value) say(`${k === 'ours-direct' ? '\n' : ''}ours ${text}: greeting ${fmtSummary(v.value, 'ms')}, cpu ${fmtNum(v.cpu?.median, 'ms')}, rss ${fmtNum(v.rss?.median, 'MB')}`);
  }
  // ours-resident beside per-connection ours and Dovecot: both of our systems judged on the row's target.
  const withRes = results.filter((res) => res.systems['ours-resident']);
  if (withRes.length) {
    const ratio = (j) => (j.ratio === null ? '-' : `${j.ratio.toFixed(2)}x`);
    const rrows = withRes.map((res) => {
      const jr = judge(res, 'ours-resident');
      const jo = judge(res, 'ours');
      const r = res.systems['ours-resident'];
      const tg = SCENARIOS.find((s) => s.id === res.id)?.target;
      return [res.title, res.unit, cell(r), cell(res.systems.ours), cell(res.systems.dovecot),
        ratio(jr), ratio(jo), tg ? res.target : `info: vs ${meta.referenceLabel}`, jr.met === null ? '-' : jr.met ? 'yes' : 'NO',
        r && !r.error ? `${fmtNum(r.cpu?.median)} / ${fmtNum(r.rss?.median)}` : '-'];
    });
    say('\nours-resident (a resident master, bin/imapd|dpop --daemon, on the same site): ratios are ours / the target\'s baseline (Dovecot unless the target says otherwise)');
    say(table(['scenario', 'unit', 'ours-resident median (min-max)', 'ours per-connection median (min-max)', `${meta.referenceLabel} median (min-max)`,
      'resident ratio', 'per-connection ratio', 'target', 'resident met?', 'resident CPU ms / RSS MB'], rrows));
    const changed = withRes.filter((res) => res.systems['ours-resident'].workerChanged).map((res) => res.id);
    if (changed.length) say(`WARNING: ours-resident's worker changed between runs of ${changed.join(', ')}: those runs were not all warm`);
  }
  const res2 = results.map((res) => {
    const s = (w) => { const r = res.systems[w]; return r && !r.error ? `${fmtNum(r.wall?.median)} / ${fmtNum(r.cpu?.median)} / ${fmtNum(r.rss?.median)}` : '-'; };
    return [res.id, s('ours'), s('dovecot'), res.systems.floor ? s('floor') : ''];
  });
  say('\nper session (medians): wall ms / server CPU ms / server peak RSS MB');
  say(table(['scenario', 'ours', meta.referenceLabel, 'floor'], res2));
  say(`\nCPU and RSS: ours and floor from GNU time of each per-connection process (its auth module child included).\n${meta.referenceLabel}: CPU = delta over all Dovecot processes (master, auth, login, imap/pop3) per session;\nRSS = VmHWM of its imap/pop3 process (imap-login/pop3-login for greetings) sampled before LOGOUT/QUIT. CPU resolution 10 ms.`);
}

/** The commit measured (with -dirty when the tree has changes), so JSON results compare over time. */
function gitHead() {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${head}-dirty` : head;
  } catch { return null; }
}

async function main() {
  const started = new Date();
  const load0 = loadavg();
  say(`bench: ${opt.quick ? 'quick' : 'full'} run, warm-up ${opt.warmup}, node ${process.version}, ${cpus().length} CPUs, load average ${load0.map((x) => x.toFixed(2)).join(' ')}, ${started.toISOString()}`);
  const lm = launcherMissing();
  if (lm) { say(`cannot run per-connection servers: ${lm}`); process.exit(1); }
  const { systems, notes, corpora } = await startSystems(say);
  for (const n of notes) say(`note: ${n}`);
  const results = [];
  try {
    for (const sc of SCENARIOS) {
      if (opt.only && !opt.only.test(sc.id)) continue;
      say(`scenario ${sc.id} (${sc.warmup ?? opt.warmup} warm-up + ${sc.runs} runs)`);
      results.push(await runScenario(sc, systems));
    }
  } finally {
    const handles = new Set(Object.values(systems).flatMap((s) => [s.imap, s.pop, s.handle]));
    for (const h of handles) await h?.stop?.().catch(() => {});
  }
  const derived = derivedRows(results);
  const referenceLabel = systems.dovecot?.label ?? 'reference missing';
  report(results, derived, { referenceLabel });
  // Issue 16: the spool on a shared GlusterFS volume against local disk (its own rig, after the rest).
  let multihost = null;
  if (!opt.only || opt.only.test('multihost')) {
    try {
      multihost = await multihostBench({ ROOT, BIN: { imapd: join(ROOT, 'bin/imapd') }, quick: opt.quick, say, logDir: BENCH });
      if (multihost.skipped) say(`\nSeveral hosts (issue 16): skipped: ${multihost.skipped}`);
    } catch (e) {
      say(`\nSeveral hosts (issue 16): failed: ${e.message}`);
    }
    if (opt.multihostSoak && !multihost?.skipped) multihost = { ...multihost, soak: multihostSoak({ ROOT, seconds: opt.multihostSoak, say }) };
  }
  const load1 = loadavg();
  say(`\nload average at the end: ${load1.map((x) => x.toFixed(2)).join(' ')}${load1[0] > cpus().length ? '  (the machine was busy: absolute figures are inflated, compare ratios)' : ''}`);
  const out = join(BENCH, `results-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(out, JSON.stringify({
    started: started.toISOString(), seconds: (Date.now() - started.getTime()) / 1000, options: { ...opt, only: opt.only?.source ?? null },
    commit: gitHead(), node: process.version, cpus: cpus().length, loadavg: { start: load0, end: load1 }, reference: referenceLabel, notes,
    corpora: Object.fromEntries(Object.entries(corpora).map(([k, c]) => [k, { messages: c.n, bytes: c.size }])),
    results: results.map((r) => ({ ...r, judged: judge(r), ...(r.systems['ours-resident'] ? { judgedResident: judge(r, 'ours-resident') } : {}) })), derived, multihost,
  }, null, 1));
  say(`\nresults: ${out}  (${((Date.now() - started.getTime()) / 1000).toFixed(0)} s)`);
}

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { killAll(); process.exit(130); });
main().catch((e) => { console.error(e); killAll(); process.exit(1); });
