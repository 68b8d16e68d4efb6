// Several hosts, one shared spool (issue 16), on a real GlusterFS volume (test/multihost/rig.ts): hosts 1
// and 2 serve the same users at once through their own FUSE mounts, host 3 delivers with procmail. Every
// server process, MDA and lock works through its own host's mount, so a lock, a change-log record or a
// journal is seen by the other hosts only through the distributed filesystem, as on a real cluster.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, inetdConnect, tcpConnect, type Client } from '../helpers/inetd.js';
import { launch, socketActivate, type Launched } from '../e2e/launchers.js';
import { BIN, mbox, ROOT, simpleMessage, type Site } from '../helpers/site.js';
import { setInbox } from '../maildir/site-store.js';
import { haveGluster, startRig, type Rig } from './rig.js';

let rig: Rig;
let local: string;
const HOSTS = 3;
const USERS = ['bob', 'carol', 'dave', 'erin', 'frank', 'gina'];
type Kind = 'mbox' | 'maildir';
const conf = (i: number, kind: Kind = 'mbox') => join(local, `h${i}`, kind === 'mbox' ? 'dmail.conf' : 'maildir.conf');
const drop = (i: number, user: string) => join(rig.mount(i), 'spool', user);
const open: Client[] = [];

beforeAll(() => {
  if (!haveGluster) return;
  rig = startRig(HOSTS);
  local = mkdtempSync(join(tmpdir(), 'dmail-hosts-'));
  mkdirSync(join(rig.mount(1), 'spool'));
  for (let i = 1; i <= HOSTS; i++) {
    const d = join(local, `h${i}`);
    for (const sub of ['log', 'work']) mkdirSync(join(d, sub), { recursive: true });
    // Each host's auth module answers with the drop file on that host's own mount.
    writeFileSync(join(d, 'users.json'), JSON.stringify(Object.fromEntries(USERS.map((u) => [u, { pass: 'secret', drop: drop(i, u) }]))));
    const lines = [
      `drop_path ${join(rig.mount(i), 'spool')}`,
      `log_path ${join(d, 'log')}`, `work_path ${join(d, 'work')}`, 'log_level info',
      'authent_method external', `authent_process ${join(ROOT, 'test/helpers/static-authd.mjs')} ${join(d, 'users.json')}`,
      'imapd_become_user false', 'allow_root_login true', 'auth_fail_delay 0',
      `lock_id host${i}`,
    ];
    writeFileSync(conf(i), lines.join('\n') + '\n');
    writeFileSync(conf(i, 'maildir'), [...lines, 'use_maildir true', `maildir_home ${join(rig.mount(i), 'maildir')}`, 'maildir_suffix true'].join('\n') + '\n');
  }
}, 180_000);

afterAll(() => {
  for (const c of open) c.close();
  rig?.stop();
  if (local) rmSync(local, { recursive: true, force: true });
}, 60_000);

/** Resident-mode masters serving a host's connections, by `host/program/kind` (issue 12's mode on the
 *  shared spool). The master runs in the test's network namespace: what makes it host i is that it works on
 *  host i's mount, whose FUSE client lives in that host's namespace. */
const resident = new Map<string, Launched>();
async function startResident(i: number, program: 'imapd' | 'dpop', kind: Kind): Promise<void> {
  const l = await launch((port) => spawn(program === 'imapd' ? BIN.imapd : BIN.dpop, ['-i', conf(i, kind), '--daemon', '--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(),
  }));
  resident.set(`${i}/${program}/${kind}`, l);
}
/** systemd-socket-activate --inetd in host i's network namespace, one server process per connection. */
async function startActivated(i: number, program: 'imapd' | 'dpop', kind: Kind): Promise<void> {
  resident.set(`${i}/${program}/${kind}`, await socketActivate('inetd', [...rig.onHost(i), program === 'imapd' ? BIN.imapd : BIN.dpop, '-i', conf(i, kind)]));
}
async function stopResident(): Promise<void> {
  for (const l of resident.values()) await l.stop();
  resident.clear();
}

/** A connection to host i: to its resident master when one runs, else a server process for this one
 *  connection, as inetd would start it there. */
async function connectOn(i: number, program: 'imapd' | 'dpop', env: Record<string, string> = {}, kind: Kind = 'mbox'): Promise<Client> {
  const r = resident.get(`${i}/${program}/${kind}`);
  if (r) {
    const c = await tcpConnect(r.port, r.proc, r.output);
    open.push(c);
    return c;
  }
  const [cmd, ...pre] = rig.onHost(i);
  const c = await inetdConnect(cmd!, [...pre, program === 'imapd' ? BIN.imapd : BIN.dpop, '-i', conf(i, kind)], env);
  open.push(c);
  return c;
}

/** An IMAP session on host i that records every tagged answer that is not OK. */
async function imapOn(i: number, user: string, env: Record<string, string> = {}, kind: Kind = 'mbox') {
  const c = await connectOn(i, 'imapd', env, kind);
  expect(await c.line(30_000)).toMatch(/^\* OK/);
  let n = 0;
  let exists = 0;
  const problems: string[] = [];
  const cmd = async (text: string): Promise<string[]> => {
    const tag = `t${++n}`;
    c.send(`${tag} ${text}\r\n`);
    const lines = await c.until(`${tag} `, 60_000);
    for (const l of lines) {
      const m = /^\* (\d+) (EXISTS|EXPUNGE)$/.exec(l);
      if (m) exists = m[2] === 'EXISTS' ? Number(m[1]) : exists - 1;
    }
    if (!/^t\d+ OK/.test(lines.at(-1)!)) problems.push(`host ${i}: ${text.slice(0, 50)} -> ${lines.at(-1)}`);
    return lines;
  };
  await cmd(`LOGIN ${user} secret`);
  return { c, cmd, problems, exists: () => exists };
}

/** (uid, subject, flags) of every message, as a fresh session on host i sees them. */
async function listing(i: number, user: string, kind: Kind = 'mbox'): Promise<{ uid: number; subject: string; flags: string }[]> {
  const s = await imapOn(i, user, {}, kind);
  await s.cmd('EXAMINE INBOX');
  const out = (await s.cmd('UID FETCH 1:* (UID FLAGS ENVELOPE)')).flatMap((l) => {
    const m = /^\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\) ENVELOPE \((?:"[^"]*"|NIL) "([^"]*)"/.exec(l);
    return m ? [{ uid: Number(m[1]), flags: m[2]!.split(' ').filter((f) => f && f !== '\\Recent').sort().join(' '), subject: m[3]! }] : [];
  });
  await s.cmd('LOGOUT');
  expect(s.problems).toEqual([]);
  return out;
}

/** Host i's view of the mailbox files: the drop file, or the maildir (maildir_suffix, no hashing). */
const inboxOn = (i: number, user: string, kind: Kind) => (kind === 'mbox' ? drop(i, user) : join(rig.mount(i), 'maildir', `${user}.mdir`));

function procmailOn(i: number, user: string, k: number, kind: Kind = 'mbox'): Promise<void> {
  const rc = join(local, `h${i}`, `procmailrc-${kind}`);
  writeFileSync(rc, `LOGFILE=/dev/null\nVERBOSE=off\nLOCKTIMEOUT=60\n${kind === 'mbox' ? ':0:' : ':0'}\n${inboxOn(i, user, kind)}${kind === 'mbox' ? '' : '/'}\n`);
  const [cmd, ...pre] = rig.onHost(i);
  return new Promise((resolve, reject) => {
    const p = spawn(cmd!, [...pre, 'procmail', '-m', rc], { stdio: ['pipe', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '' } });
    let err = '';
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`procmail exit ${code}: ${err}`))));
    p.stdin.end(`From mda${k}@example.com Tue Jan  2 03:04:05 2024\n${simpleMessage(k)}`);
  });
}

const rng = (seed: number) => () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };

/** The several-hosts workload on one user's mailbox: per round, IMAP sessions on hosts 1 and 2
 *  (APPEND/STORE/EXPUNGE/FETCH), POP3 rounds on host 2 and procmail deliveries from host 3, all at once;
 *  then both hosts must show the same mailbox with every delivered and appended message exactly once and
 *  one UID each. Only the original ten messages (UIDs 1..10) are ever deleted. Rounds go on until
 *  `seconds` have passed (at least one). Returns the rounds run. */
async function twoHosts(kind: Kind, user: string, seconds = 0, deliveries = 24): Promise<number> {
  setInbox({ dir: rig.mount(1), drop: (u: string) => drop(1, u) } as Site, user, Array.from({ length: 10 }, (_, k) => ({ text: simpleMessage(k + 1) })), kind);
  await listing(2, user, kind); // the original ten get UIDs 1..10 at the first open
  const appended: string[] = [];
  const delivered: number[] = [];
  const imapWork = async (host: number, seed: number, round: number) => {
    const s = await imapOn(host, user, {}, kind);
    await s.cmd('SELECT INBOX');
    const r = rng(seed);
    for (let op = 0; op < 20; op++) {
      const x = Math.floor(r() * 6);
      const n = s.exists();
      const a = 1 + Math.floor(r() * Math.max(n, 1));
      if (x === 0 || n === 0) {
        const k = 500 + round * 1000 + host * 100 + op;
        const text = simpleMessage(k);
        const ans = await s.cmd(`APPEND INBOX (\\Seen) {${text.length}+}\r\n${text}`);
        if (/^t\d+ OK/.test(ans.at(-1)!)) appended.push(`Test message ${k}`);
      } else if (x === 1) await s.cmd(`STORE ${a}:${Math.min(n, a + 3)} +FLAGS (\\Flagged $Host${host})`);
      else if (x === 2) await s.cmd(`UID STORE ${1 + Math.floor(r() * 10)} +FLAGS.SILENT (\\Deleted)`);
      else if (x === 3) await s.cmd('EXPUNGE');
      else if (x === 4) await s.cmd(`FETCH ${a}:${Math.min(n, a + 2)} (FLAGS BODY.PEEK[])`);
      else await s.cmd('NOOP');
    }
    await s.cmd('LOGOUT');
    return s.problems;
  };
  const popWork = async () => {
    const problems: string[] = [];
    for (let round = 0; round < 3; round++) {
      const p = await connectOn(2, 'dpop', {}, kind);
      const say = async (line: string) => { p.send(`${line}\r\n`); return p.line(60_000); };
      await p.line(30_000);
      await say(`USER ${user}`);
      const pass = await say('PASS secret');
      if (!pass.startsWith('+OK')) { problems.push(`pop: ${pass}`); continue; }
      const n = Number((await say('STAT')).split(' ')[1]);
      for (let m = 1; m <= n; m++) {
        p.send(`TOP ${m} 0\r\n`);
        const lines = await p.until('.', 60_000);
        if (!lines[0]!.startsWith('+OK')) problems.push(`pop TOP: ${lines[0]}`);
        const subj = lines.find((l) => l.startsWith('Subject: '));
        if (subj && /^Subject: Test message ([1-9]|10)$/.test(subj) && m % 2 === round % 2) {
          const d = await say(`DELE ${m}`);
          if (!d.startsWith('+OK')) problems.push(`pop DELE: ${d}`);
        }
      }
      const q = await say('QUIT');
      if (!q.startsWith('+OK')) problems.push(`pop QUIT: ${q}`);
      p.close(); // the maildrop is free once QUIT is answered
    }
    return problems;
  };
  const until = Date.now() + seconds * 1000;
  let round = 0;
  do {
    const batch = Array.from({ length: deliveries }, (_, j) => 100000 + round * 1000 + j);
    const mda = async () => { for (const k of batch) { await procmailOn(3, user, k, kind); delivered.push(k); } };
    const [p1, p2, pp] = await Promise.all([imapWork(1, 11 + round * 7, round), imapWork(2, 22 + round * 7, round), popWork(), mda()]);
    expect([...p1, ...p2, ...pp]).toEqual([]);
    round++;
  } while (Date.now() < until);

  const one = await listing(1, user, kind);
  const two = await listing(2, user, kind);
  expect(two).toEqual(one);
  const uids = one.map((m) => m.uid);
  expect(uids).toEqual([...uids].sort((a, b) => a - b));
  expect(new Set(uids).size).toBe(uids.length);
  const subjects = one.map((m) => m.subject);
  expect(new Set(subjects).size).toBe(subjects.length);
  for (const k of delivered) expect(subjects).toContain(`Test message ${k}`);
  for (const s of appended) expect(subjects).toContain(s);
  expect(subjects.every((s) => /^Test message (\d+)$/.test(s))).toBe(true);
  return round;
}

describe.skipIf(!haveGluster)('two hosts and an MDA host on one GlusterFS spool', () => {
  // Host 1 per connection (as inetd starts it) or resident; host 2 always under systemd-socket-activate.
  // The first case delivers 200 messages from host 3 while the sessions work.
  it.each([['mbox', 'inetd', 200], ['maildir', 'inetd', 24], ['mbox', 'resident', 24]] as const)('%s, host 1 %s: IMAP on both hosts, POP3 and %i procmail deliveries at once: every message exactly once, one UID each, the same mailbox everywhere', async (kind, mode, deliveries) => {
    const user = mode === 'resident' ? 'frank' : kind === 'mbox' ? 'bob' : 'erin';
    if (mode === 'resident') await startResident(1, 'imapd', kind);
    await startActivated(2, 'imapd', kind);
    await startActivated(2, 'dpop', kind);
    try {
      await twoHosts(kind, user, 0, deliveries);
      if (mode === 'resident') {
        // Host 1's sessions were served by its resident master's worker, not by per-connection processes.
        const hostLog = readFileSync(join(local, 'h1', 'log', 'imapd.log'), 'utf8');
        expect(hostLog).toContain('resident mode: listening');
        expect(hostLog).toContain('worker ready');
      }
    } finally {
      await stopResident();
    }
  }, 300_000);

  // The same workload as a soak of minutes: `npm run bench -- --multihost-soak SECONDS` runs it (skipped
  // in the test suite, which keeps its bounded version above).
  const SOAK = Number(process.env.DMAIL_MULTIHOST_SOAK ?? 0);
  it.skipIf(!SOAK)('soak: the workload above, round after round, for DMAIL_MULTIHOST_SOAK seconds', async () => {
    const rounds = await twoHosts('mbox', 'gina', SOAK);
    console.log(`multihost soak: ${rounds} rounds in ${SOAK} s, every message exactly once, both hosts agree`);
  }, (SOAK + 600) * 1000);

  it('kill -9 of imapd on host 1 in the middle of a spool rewrite: host 2 finishes it, nothing lost or resurrected', async () => {
    writeFileSync(drop(1, 'carol'), mbox(Array.from({ length: 30 }, (_, k) => ({ text: simpleMessage(k + 1) }))));
    // The first SELECT numbers the messages (UW status headers) and the \Deleted flags need room in
    // the headers: rewrites of their own, done before the kill point is armed.
    const first = await imapOn(1, 'carol');
    await first.cmd('SELECT INBOX');
    await first.cmd('UID STORE 1:10 +FLAGS.SILENT (\\Deleted)');
    await first.cmd('LOGOUT');
    expect(first.problems).toEqual([]);
    const s = await imapOn(1, 'carol', { DMAIL_STORE_KILLPOINT: 'mid-write' });
    await s.cmd('SELECT INBOX');
    s.c.send('x EXPUNGE\r\ny LOGOUT\r\n');
    // The removal is physical once no handle needs the bytes any more (at the latest when this one
    // closes), and the kill point ends the process in the middle of rewriting the spool: a signal, not
    // an exit code.
    expect(await s.c.exited()).toBeNull();
    const said = await s.c.until('y ', 1000).catch((e: Error) => [e.message]);
    expect(said.join('\n')).toMatch(/x OK/); // EXPUNGE answered before the rewrite was killed
    const after = await listing(2, 'carol');
    expect(after.map((m) => m.subject)).toEqual(Array.from({ length: 20 }, (_, k) => `Test message ${k + 11}`));
    expect(await listing(1, 'carol')).toEqual(after);
  }, 120_000);
});

describe.skipIf(!haveGluster)('a host cut off from the shared storage', () => {
  it('fails its operations cleanly, writes nothing without the lock, and works again once the link is back', async () => {
    writeFileSync(drop(1, 'dave'), mbox(Array.from({ length: 6 }, (_, k) => ({ text: simpleMessage(k + 1) }))));
    const warm = await imapOn(1, 'dave');
    await warm.cmd('SELECT INBOX');
    await warm.cmd('LOGOUT');
    const cut = await imapOn(1, 'dave');
    await cut.cmd('SELECT INBOX');
    const other = await imapOn(2, 'dave');
    await other.cmd('SELECT INBOX');
    rig.cut(1);
    try {
      // Host 1's write cannot reach the storage: a clear tagged NO once the client gives up
      // (network.ping-timeout), never a hang, a crash or a server bug.
      cut.c.send('w STORE 1 +FLAGS (\\Flagged)\r\n');
      const answer = await cut.c.until('w ', 90_000);
      expect(answer.at(-1)).toMatch(/^w NO \[UNAVAILABLE\] temporary storage failure \((ENOTCONN|EBADFD|EIO)\)$/);
      // Meanwhile host 2 goes on: the storage dropped host 1's locks after network.ping-timeout.
      await other.cmd('STORE 2 +FLAGS (\\Seen)');
      const text = simpleMessage(77);
      await other.cmd(`APPEND INBOX {${text.length}+}\r\n${text}`);
      expect(other.problems).toEqual([]);
    } finally {
      rig.heal(1);
    }
    await other.cmd('LOGOUT');
    // Back on the network: a new session on host 1 sees host 2's work, and host 1's refused STORE left
    // no trace.
    let seen: Awaited<ReturnType<typeof listing>> | undefined;
    for (let k = 0; k < 60 && !seen; k++) {
      seen = await listing(1, 'dave').catch(() => undefined);
      if (!seen) await new Promise((r) => setTimeout(r, 1000));
    }
    expect(seen).toBeDefined();
    expect(seen!.map((m) => m.subject)).toEqual([...Array.from({ length: 6 }, (_, k) => `Test message ${k + 1}`), 'Test message 77']);
    expect(seen![0]!.flags).not.toContain('\\Flagged');
    expect(seen![1]!.flags).toContain('\\Seen');
    expect(await listing(2, 'dave')).toEqual(seen);
  }, 240_000);
});

describe.skipIf(!haveGluster)('dmailctl config check on a shared spool', () => {
  const check = (file: string) => spawnSync(BIN.dmailctl, ['config', 'check', '-i', file, '--program', 'imapd'], { encoding: 'utf8' }).stderr;

  it('is silent for a host set up as the README says, and names what is wrong otherwise', () => {
    expect(check(conf(1))).not.toMatch(/shared file system/);
    // The same volume mounted without the coherence options, and a config without lock_id, with use_flock.
    const plain = join(rig.dir, 'plain');
    mkdirSync(plain);
    const [cmd, ...pre] = rig.onHost(1);
    expect(spawnSync(cmd!, [...pre, 'mount', '-t', 'glusterfs', '127.0.0.2:/dmv', plain]).status).toBe(0);
    try {
      const bad = join(local, 'bad.conf');
      writeFileSync(bad, readFileSync(conf(1), 'utf8').replace(/^lock_id .*$/m, 'use_flock true').split(rig.mount(1)).join(plain));
      const said = check(bad);
      expect(said).toMatch(/drop_path .* is on a shared file system \(fuse\.glusterfs .*\) but lock_id is not set/);
      expect(said).toMatch(/with use_flock true: flock and fcntl locks on one file conflict/);
      expect(said).toMatch(/mounted without attribute-timeout=0, entry-timeout=0, negative-timeout=0, direct-io-mode=enable/);
    } finally {
      spawnSync('umount', ['-l', plain]);
    }
  });
});
