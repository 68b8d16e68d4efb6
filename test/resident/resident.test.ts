// The resident mode (src/resident/) through its real launchers: systemd-socket-activate WITHOUT --accept
// (Accept=no, LISTEN_FDS) and `imapd/dpop --daemon --listen`. Proven on the real processes: pre-login
// processes run unprivileged; each worker's /proc status shows one uid; two users share a worker only
// when they share the uid; kill -9 of a worker mid-session ends only its sessions and loses nothing that
// was acknowledged; limits are answered cleanly and logged; dmail.conf changes apply to the next login;
// real clients (Python imaplib over plain and implicit TLS, poplib) work on it.
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, makeSite, mbox, removeSite, simpleMessage, type Site } from '../helpers/site.js';
import { cleanEnv } from '../helpers/inetd.js';
import { makeTestCert, type TestCert } from '../helpers/tls-cert.js';
import { holdersOf, launch, lineClient, socketActivate, type Launched, type LineClient } from '../e2e/launchers.js';
import { cleanupTempDirs, tempDir } from '../auth/helpers.js';
import { createUser, installPamService, isRoot, removeUsers, type SysUser } from '../auth/system-users.js';

const run = promisify(execFile);

/** spare: a worker forked ahead of need and not yet bound to a uid. A bound worker's title is exactly
 *  "imapd worker" (set before it reports ready, src/resident/worker.ts); a spare's says "(spare)", or is
 *  still the command line while it loads. */
interface Proc { pid: number; role: string; uid: number[]; gid: number[]; groups: number[]; spare: boolean }

/** The processes the master forked, with their identity as the kernel reports it. */
function childrenOf(ppid: number): Proc[] {
  const out: Proc[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let status: string;
    let environ: string;
    let cmdline: string;
    try {
      status = readFileSync(`/proc/${d}/status`, 'utf8');
      environ = readFileSync(`/proc/${d}/environ`, 'latin1');
      cmdline = readFileSync(`/proc/${d}/cmdline`, 'latin1');
    } catch { continue; }
    const field = (k: string) => (new RegExp(`^${k}:[ \\t]*(.*)$`, 'm').exec(status)?.[1] ?? '').trim();
    if (Number(field('PPid')) !== ppid) continue;
    const role = /(?:^|\0)DMAIL_RESIDENT_ROLE=([a-z]+)/.exec(environ)?.[1] ?? 'other';
    const nums = (s: string) => s.split(/\s+/).filter(Boolean).map(Number);
    out.push({ pid: Number(d), role, uid: nums(field('Uid')), gid: nums(field('Gid')), groups: nums(field('Groups')), spare: role === 'worker' && !/^(imapd|dpop) worker\0/.test(`${cmdline}\0`) });
  }
  return out;
}

/** What a process holds open (the targets of /proc/PID/fd). */
function openFiles(pid: number): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try { out.push(readlinkSync(`/proc/${pid}/fd/${fd}`)); } catch { /* closed meanwhile */ }
  }
  return out;
}

/** Polls f until it returns something (processes start and exit on their own time; no timing asserted). */
async function until<T>(f: () => T | undefined, tries = 200): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not reached');
}

async function imapLogin(port: number, user: string, pass: string, tls = false): Promise<LineClient> {
  const c = await lineClient(port, tls);
  expect(await c.line()).toMatch(/^\* OK /);
  c.send(`l LOGIN ${user} "${pass}"\r\n`);
  expect((await c.until('l ')).pop()).toMatch(/^l OK/);
  return c;
}

async function cmd(c: LineClient, tag: string, text: string): Promise<string[]> {
  c.send(`${tag} ${text}\r\n`);
  return c.until(`${tag} `);
}

function daemon(bin: string, conf: string, extra: string[] = [], env: Record<string, string> = {}): Promise<Launched> {
  return launch((port) => spawn(bin, ['-i', conf, '--daemon', '--listen', `127.0.0.1:${port}`, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(env),
  }));
}

const running: Launched[] = [];
afterAll(async () => { for (const l of running) await l.stop(); });

describe.skipIf(!isRoot)('per-uid workers under systemd-socket-activate (Accept=no), real system users', () => {
  let a: SysUser;
  let b: SysUser;
  let c: SysUser;
  let dir: string;
  let conf: string;
  let l: Launched;

  beforeAll(async () => {
    installPamService();
    a = createUser('dmra', 'alpha pass', 'YESCRYPT');
    b = createUser('dmrb', 'bravo-pass', 'SHA512');
    c = createUser('dmrc', 'charlie-pass', 'SHA512');
    dir = tempDir('dmail-resident-');
    chmodSync(dir, 0o755);
    const spool = join(dir, 'spool');
    mkdirSync(spool);
    chmodSync(spool, 0o1777);
    for (const d of ['log', 'work']) mkdirSync(join(dir, d));
    conf = join(dir, 'dmail.conf');
    writeFileSync(conf, [
      `drop_path ${spool}`, `log_path ${join(dir, 'log')}`, `work_path ${join(dir, 'work')}`, 'log_level debug',
      'authent_method unix_user', 'pam_service dmail', 'auth_fail_delay 0', 'resident_worker_idle 600', 'resident_spare_workers 1',
    ].join('\n') + '\n');
    l = await socketActivate('listen', [BIN.imapd, '-i', conf]);
    running.push(l);
  });
  afterAll(() => { removeUsers(); cleanupTempDirs(); });

  it('pre-login processes are unprivileged; one worker per uid, each with one uid; a user\'s sessions share it', async () => {
    const a1 = await imapLogin(l.port, a.name, 'alpha pass');
    const a2 = await imapLogin(l.port, a.name, 'alpha pass');
    const b1 = await imapLogin(l.port, b.name, 'bravo-pass');
    for (const c of [a1, a2, b1]) expect((await cmd(c, 's', 'SELECT INBOX')).pop()).toMatch(/^s OK/);
    const kids = childrenOf(l.proc.pid!);
    const pre = kids.filter((k) => k.role === 'prelogin');
    const workers = kids.filter((k) => k.role === 'worker' && !k.spare);
    expect(pre.length).toBeGreaterThan(0);
    for (const p of pre) {
      expect(p.uid).toEqual([65534, 65534, 65534, 65534]);
      expect(p.gid).toEqual([65534, 65534, 65534, 65534]);
      expect(p.groups).toEqual([]);
    }
    expect(workers).toHaveLength(2);
    for (const w of workers) {
      expect(new Set(w.uid).size, `worker ${w.pid} uid line ${w.uid}`).toBe(1);
      expect(new Set(w.gid).size).toBe(1);
      expect(w.groups).not.toContain(0);
    }
    expect(workers.map((w) => w.uid[0]).sort()).toEqual([a.uid, b.uid].sort());
    // The files the sessions made belong to their users.
    a1.send('x APPEND INBOX {22}\r\n');
    expect(await a1.line()).toMatch(/^\+/);
    a1.send('Subject: hi\r\n\r\nbody\r\n\r\n');
    expect((await a1.until('x ')).pop()).toMatch(/^x OK/);
    for (const c of [a1, a2, b1]) c.close();
  });

  it('kill -9 of one user\'s worker mid-session ends only its sessions and loses nothing acknowledged', async () => {
    const a1 = await imapLogin(l.port, a.name, 'alpha pass');
    const b1 = await imapLogin(l.port, b.name, 'bravo-pass');
    expect((await cmd(b1, 'b', 'SELECT INBOX')).pop()).toMatch(/^b OK/);
    const aWorker = childrenOf(l.proc.pid!).find((k) => k.role === 'worker' && k.uid[0] === a.uid)!;
    expect(aWorker).toBeDefined();
    // a streams APPENDs; the worker is killed while they flow.
    let acked = 0;
    let finished = false;
    const appends = (async () => {
      for (let i = 0; i < 200; i++) {
        const body = `Subject: m${i}\r\n\r\nmessage ${i}\r\n`;
        a1.send(`a${i} APPEND INBOX {${body.length}+}\r\n${body}\r\n`);
        const r = (await a1.until(`a${i} `)).pop()!;
        if (!r.startsWith(`a${i} OK`)) break;
        acked++;
      }
    })().catch(() => undefined).finally(() => { finished = true; });
    while (acked < 10 && !finished) await new Promise((r) => setTimeout(r, 5));
    expect(acked).toBeGreaterThanOrEqual(10);
    process.kill(aWorker.pid, 'SIGKILL');
    await appends;
    await a1.closed();
    // b's session, in another worker, goes on.
    const r = await cmd(b1, 'c', 'NOOP');
    expect(r.pop()).toMatch(/^c OK/);
    // a logs in again (a new worker) and finds every acknowledged message.
    const a2 = await imapLogin(l.port, a.name, 'alpha pass');
    const sel = await cmd(a2, 's', 'SELECT INBOX');
    const exists = Number(/^\* (\d+) EXISTS/m.exec(sel.join('\n'))?.[1]);
    expect(exists).toBeGreaterThanOrEqual(acked + 1); // + the message of the first test
    const subjects = (await cmd(a2, 'f', 'FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])')).join('\n');
    for (let i = 0; i < acked; i++) expect(subjects).toContain(`Subject: m${i}\r`.slice(0, -1));
    const after = childrenOf(l.proc.pid!).filter((k) => k.role === 'worker' && k.uid[0] === a.uid);
    expect(after.map((w) => w.pid)).not.toContain(aWorker.pid);
    a2.close();
    b1.close();
  });

  it('a spare worker waits as root, opening no user file, and is bound at the first login of a new uid; a fresh spare replaces it', async () => {
    const spare = await until(() => childrenOf(l.proc.pid!).find((k) => k.spare));
    // Unbound: root only (its uid is the master's), and nothing of a user open.
    expect(spare.uid).toEqual([0, 0, 0, 0]);
    expect(spare.gid).toEqual([0, 0, 0, 0]);
    const open = openFiles(spare.pid);
    expect(open.filter((f) => f.startsWith(dir) || f.startsWith(c.home) || f.startsWith('/var/mail'))).toEqual([]);
    expect(childrenOf(l.proc.pid!).some((k) => k.role === 'worker' && k.uid[0] === c.uid)).toBe(false);
    // c's first login takes it: same process, now c's uid only.
    const c1 = await imapLogin(l.port, c.name, 'charlie-pass');
    expect((await cmd(c1, 's', 'SELECT INBOX')).pop()).toMatch(/^s OK/);
    const bound = childrenOf(l.proc.pid!).find((k) => k.pid === spare.pid)!;
    expect(bound.spare).toBe(false);
    expect(bound.uid).toEqual([c.uid, c.uid, c.uid, c.uid]);
    expect(bound.gid).toEqual([c.gid, c.gid, c.gid, c.gid]);
    // …and a fresh spare, another process, waits as root.
    const next = await until(() => childrenOf(l.proc.pid!).find((k) => k.spare && k.pid !== spare.pid));
    expect(next.uid).toEqual([0, 0, 0, 0]);
    expect(readFileSync(join(dir, 'log', 'imapd.log'), 'utf8')).toMatch(new RegExp(`"worker":${spare.pid},"uid":${c.uid},"gid":${c.gid},"spare":true.*worker started`));
    c1.close();
  });

  it('resident_max_workers caps the workers of all uids: a login needing one more is answered cleanly', async () => {
    const capped = join(dir, 'capped.conf');
    writeFileSync(capped, readFileSync(conf, 'utf8') + 'resident_max_workers 1\n');
    const m = await daemon(BIN.imapd, capped);
    running.push(m);
    const a1 = await imapLogin(m.port, a.name, 'alpha pass');
    const b1 = await lineClient(m.port);
    expect(await b1.line()).toMatch(/^\* OK /);
    b1.send(`x LOGIN ${b.name} "bravo-pass"\r\n`);
    expect(await b1.line()).toBe('* BYE [UNAVAILABLE] Too many user processes on this server, try again later');
    expect(await b1.line()).toBe('x NO [UNAVAILABLE] Too many user processes on this server, try again later');
    await b1.closed();
    // a's own next session still goes to its worker; no spare is kept that could never be bound.
    const a2 = await imapLogin(m.port, a.name, 'alpha pass');
    expect((await cmd(a2, 's', 'SELECT INBOX')).pop()).toMatch(/^s OK/);
    const kids = await until(() => { const k = childrenOf(m.proc.pid!); return k.some((x) => x.spare) ? undefined : k; });
    expect(kids.filter((k) => k.role === 'worker').map((k) => k.uid[0])).toEqual([a.uid]);
    expect(readFileSync(join(dir, 'log', 'imapd.log'), 'utf8')).toMatch(/"reason":"workers".*login refused by a resident-mode limit/);
    for (const x of [a1, a2]) x.close();
  });
});

describe('--daemon: limits, configuration per login, real clients', () => {
  let site: Site;
  let cert: TestCert;
  const base = () => ({
    resident_max_connections_per_ip: 3, resident_max_connections_per_user: 1, tls_cert: cert.cert, tls_key: cert.key,
  });
  beforeAll(() => {
    cert = makeTestCert();
    site = makeSite();
    site.setConfig(base());
    site.addUser('bob', { pass: 'secret' });
    site.addUser('carol', { pass: 'pw2' });
    writeFileSync(site.drop('bob'), mbox([1, 2, 3].map((i) => ({ text: simpleMessage(i) }))));
    writeFileSync(site.drop('carol'), mbox([1].map((i) => ({ text: simpleMessage(i) }))));
  });
  afterAll(() => { cert?.cleanup(); if (site) removeSite(site.dir); });

  it('connections per client address, per user: clear answers and a log line; a changed dmail.conf applies to the next login', async () => {
    const l = await daemon(BIN.imapd, site.conf);
    running.push(l);
    const bob = await imapLogin(l.port, 'bob', 'secret');
    // Second session of bob: refused at login (per user 1), with BYE and the tagged NO.
    const c2 = await lineClient(l.port);
    expect(await c2.line()).toMatch(/^\* OK /);
    c2.send('x LOGIN bob secret\r\n');
    expect(await c2.line()).toBe('* BYE [UNAVAILABLE] Too many connections for this user, try again later');
    expect(await c2.line()).toBe('x NO [UNAVAILABLE] Too many connections for this user, try again later');
    await c2.closed();
    // Per address (3): bob's session + two more connections, then the fourth is refused before the greeting.
    const c3 = await lineClient(l.port);
    expect(await c3.line()).toMatch(/^\* OK /);
    const c4 = await lineClient(l.port);
    expect(await c4.line()).toMatch(/^\* OK /);
    const c5 = await lineClient(l.port);
    expect(await c5.line()).toBe('* BYE [UNAVAILABLE] Too many connections from your address, try again later');
    await c5.closed();
    for (const c of [c3, c4]) { c.send('z LOGOUT\r\n'); await c.closed(); }
    // Raise the per-user limit in dmail.conf: no restart, the next login gets it. (The master counts the
    // two closes as their pre-login process reports them: a connection may come just before.)
    site.setConfig({ ...base(), resident_max_connections_per_user: 2 });
    let bob2: LineClient | undefined;
    for (let i = 0; i < 50 && !bob2; i++) {
      const c = await lineClient(l.port);
      if (/^\* OK /.test(await c.line())) bob2 = c;
      else { await c.closed(); await new Promise((r) => setTimeout(r, 100)); }
    }
    bob2!.send('l LOGIN bob secret\r\n');
    expect((await bob2!.until('l ')).pop()).toMatch(/^l OK/);
    expect((await cmd(bob2!, 's', 'SELECT INBOX')).join('\n')).toContain('* 3 EXISTS');
    bob.close();
    bob2!.close();
    const log = readFileSync(join(site.logs, 'imapd.log'), 'utf8');
    expect(log).toMatch(/"reason":"per-user".*login refused by a resident-mode limit/);
    expect(log).toMatch(/"reason":"per-ip".*connection refused by a resident-mode limit/);
    expect(log).not.toContain('secret');
    site.setConfig(base());
  });

  it('implicit TLS: connections that leave before the handshake give their place back at once (per-address limit)', async () => {
    // A port probe or health check on 993/995: connect, close, no ClientHello. Until the pre-login process
    // lets go of such a connection the master counts it, so a few would lock the address out.
    const l = await daemon(BIN.imapd, site.conf, ['--tls']); // (its start-up probe was one of them)
    running.push(l);
    for (let i = 0; i < 3; i++) {
      const s = connect(l.port, '127.0.0.1');
      await new Promise<void>((res, rej) => { s.once('connect', res); s.once('error', rej); });
      s.end();
    }
    let greeted = '';
    for (let i = 0; i < 100 && !greeted; i++) {
      try {
        const c = await lineClient(l.port, true);
        greeted = await c.line().catch(() => '');
        c.close();
      } catch { /* refused while the others still count: the master closes without a handshake */ }
      if (!greeted) await new Promise((r) => setTimeout(r, 100));
    }
    expect(greeted).toMatch(/^\* OK /);
  });

  it('the pre-login process keeps the settings it was last sent and gets new ones when dmail.conf changed', async () => {
    const l = await daemon(BIN.imapd, site.conf);
    running.push(l);
    const greeting = async () => { const c = await lineClient(l.port); const g = await c.line(); c.send('z LOGOUT\r\n'); await c.closed(); return g; };
    expect(await greeting()).not.toContain('pre-login.example');
    site.setConfig({ ...base(), dpop_host: 'pre-login.example' });
    // Sent with the next connection (the master re-reads a changed file), then kept for the ones after.
    for (let i = 0; i < 3; i++) expect(await greeting()).toMatch(/^\* OK \[CAPABILITY [^\]]*\] pre-login\.example IMAP4rev1 /);
    // Rewritten in place: truncated, not yet written. Half a configuration is never served (defaults
    // for the rest: here the greeting's host name); the settings in force stay until the file is whole.
    const whole = readFileSync(site.conf);
    writeFileSync(site.conf, '');
    for (let i = 0; i < 2; i++) expect(await greeting()).toMatch(/\] pre-login\.example IMAP4rev1 /);
    writeFileSync(site.conf, whole);
    expect(await greeting()).toMatch(/\] pre-login\.example IMAP4rev1 /);
    site.setConfig(base());
    expect(await greeting()).not.toContain('pre-login.example');
  });

  it('POP3 limits answer -ERR [SYS/TEMP]', async () => {
    const l = await daemon(BIN.dpop, site.conf);
    running.push(l);
    const c1 = await lineClient(l.port);
    expect(await c1.line()).toMatch(/^\+OK/);
    c1.send('USER bob\r\nPASS secret\r\n');
    expect(await c1.line()).toMatch(/^\+OK/);
    expect(await c1.line()).toMatch(/^\+OK/);
    const c2 = await lineClient(l.port);
    expect(await c2.line()).toMatch(/^\+OK/);
    c2.send('USER bob\r\nPASS secret\r\n');
    expect(await c2.line()).toMatch(/^\+OK/);
    expect(await c2.line()).toBe('-ERR [SYS/TEMP] Too many connections for this user, try again later');
    await c2.closed();
    c1.send('STAT\r\n');
    expect(await c1.line()).toMatch(/^\+OK 3 \d+$/);
    c1.send('QUIT\r\n');
    expect(await c1.line()).toMatch(/^\+OK/);
  });

  it('dmailctl serve --resident starts one resident master per port', async () => {
    const l = await launch((port) => spawn(BIN.dmailctl, ['serve', '-i', site.conf, '--resident', '--imap-port', String(port), '--pop-port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(),
    }), /serving imap 127\.0\.0\.1:\d+ \(resident mode\)/);
    running.push(l);
    const c = await imapLogin(l.port, 'carol', 'pw2');
    expect((await cmd(c, 's', 'SELECT INBOX')).join('\n')).toContain('* 1 EXISTS');
    // The session is served by a worker of the master, not by a process per connection.
    const master = childrenOf(l.proc.pid!).find((p) => p.role === 'other');
    expect(master).toBeDefined();
    expect(childrenOf(master!.pid).filter((p) => p.role === 'worker' && !p.spare)).toHaveLength(1);
    c.close();
  });

  it('Python imaplib (plain, and implicit TLS kept in the pre-login process) and poplib work on it', async () => {
    const imap = await daemon(BIN.imapd, site.conf);
    const imaps = await daemon(BIN.imapd, site.conf, ['--tls']);
    const pop = await daemon(BIN.dpop, site.conf);
    running.push(imap, imaps, pop);
    const script = String.raw`
import imaplib, poplib, ssl, json, sys
out = {}
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
for name, M in [('plain', imaplib.IMAP4('127.0.0.1', int(sys.argv[1]), timeout=30)),
                ('tls', imaplib.IMAP4_SSL('127.0.0.1', int(sys.argv[2]), ssl_context=ctx, timeout=30)),
                ('starttls', None)]:
    if M is None:
        M = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]), timeout=30); M.starttls(ssl_context=ctx)
    pre = M.capability()[1][0].decode().split()
    M.login('carol', 'pw2')
    post = M.capability()[1][0].decode().split()
    # COMPRESS only after login: the pre-login process hands the bare socket on.
    assert 'COMPRESS=DEFLATE' not in pre and 'COMPRESS=DEFLATE' in post, (pre, post)
    typ, data = M.select('INBOX')
    typ2, f = M.fetch('1', '(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
    out[name] = [typ, int(data[0]), f[0][1].decode().strip()]
    M.logout()
P = poplib.POP3('127.0.0.1', int(sys.argv[3]), timeout=30)
P.user('carol'); P.pass_('pw2')
out['pop'] = [P.stat()[0], len(P.retr(1)[1]) > 0]
P.quit()
print(json.dumps(out))
`;
    const r = await run('python3', ['-c', script, String(imap.port), String(imaps.port), String(pop.port)], { timeout: 30_000 });
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    for (const k of ['plain', 'tls', 'starttls']) expect(out[k]).toEqual(['OK', 1, 'Subject: Test message 1']);
    expect(out.pop).toEqual([1, true]);
  });
});

describe('--daemon --tls: the pre-login process relays TLS to the worker', () => {
  let site: Site;
  let cert: TestCert;
  beforeAll(() => {
    cert = makeTestCert();
    site = makeSite({ tls_cert: cert.cert, tls_key: cert.key, imapd_timeout: 1 });
    site.addUser('bob', { pass: 'secret' });
    // ~8 MB: more than the socket buffers (TLS socket, relay pair, client) hold.
    writeFileSync(site.drop('bob'), mbox([{ text: `${simpleMessage(1)}${`${'x'.repeat(76)}\n`.repeat(105_000)}` }]));
  });
  afterAll(() => { cert?.cleanup(); if (site) removeSite(site.dir); });

  it('a client that half-closes in a big FETCH it stopped reading is let go once the worker ended the session', async () => {
    const l = await daemon(BIN.imapd, site.conf, ['--tls']);
    running.push(l);
    const s = tlsConnect({ port: l.port, host: '127.0.0.1', rejectUnauthorized: false });
    await new Promise<void>((res, rej) => { s.once('secureConnect', res); s.once('error', rej); });
    let got = '';
    const waitFor = async (re: RegExp) => { const t = Date.now(); while (!re.test(got)) { if (Date.now() - t > 10_000) throw new Error(`no ${re}: ${got.slice(-300)}`); await new Promise((r) => setTimeout(r, 20)); } };
    s.on('data', (d: Buffer) => { got += d.toString('latin1'); });
    await waitFor(/^\* OK/);
    s.write('a LOGIN bob secret\r\nb SELECT INBOX\r\n');
    await waitFor(/\r\nb OK/);
    s.pause(); // never read again
    s.removeAllListeners('data');
    s.write('c FETCH 1 BODY[]\r\n');
    const port = s.localPort!;
    // The worker is blocked on the relay, the relay on the client; the client half-closes and waits.
    await until(() => (s.readableLength > 0 ? true : undefined));
    s.end();
    // The worker's idle timeout (1 s) ends the session; the pre-login process must then let go of the
    // client's connection too (it could not see the worker go: it reads nothing the client will not take).
    await until(() => (holdersOf(l.port, port).length === 0 ? true : undefined), 300);
    s.destroy();
    const log = readFileSync(join(site.logs, 'imapd.log'), 'utf8');
    expect(log).toMatch(new RegExp(`"port":${port},"ended":"closed","msg":"connection ended"`));
  });
});
