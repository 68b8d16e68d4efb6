// Login through the real built imapd (and dpop), started like inetd with a real TCP socket as fd 0/1:
// the shipped authd module, misbehaving modules, IP vdomains chosen by the local address (127.0.0.2 vs
// 127.0.0.1), unix_user with the switch to the user, and passwords absent from the logs.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/site.js';
import { cleanEnv } from '../helpers/inetd.js';
import { alive, cleanupTempDirs, tempDir } from '../auth/helpers.js';
import { createUser, installPamService, isRoot, removeUsers } from '../auth/system-users.js';

const BAD = fileURLToPath(new URL('../auth/fixtures/bad-module.mjs', import.meta.url));

afterAll(() => { removeUsers(); cleanupTempDirs(); });

interface Conn { lines(): string[]; until(prefix: string, ms?: number): Promise<string[]>; send(s: string): void; exited: Promise<number | null>; pid: number; close(): void }

/** Start `bin` like inetd, with the connection's local address `local` (any 127.x works on loopback). */
async function connectAt(bin: string, args: string[], local = '127.0.0.1'): Promise<Conn> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, local, r));
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const socket = connect(port, local);
  const serverSide = await accepted;
  server.close();
  const child = spawn(bin, args, { stdio: [serverSide, serverSide, 'ignore'], env: cleanEnv() });
  serverSide.destroy();
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  let buf = '';
  const all: string[] = [];
  let wake: (() => void) | undefined;
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\r\n')) >= 0) { all.push(buf.slice(0, i)); buf = buf.slice(i + 2); }
    wake?.();
  });
  socket.on('close', () => wake?.());
  let read = 0;
  return {
    lines: () => all,
    async until(prefix, ms = 15_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        while (read < all.length) { if (all[read++]!.startsWith(prefix)) return all.slice(0, read); }
        if (socket.destroyed || Date.now() > deadline) throw new Error(`no "${prefix}" line; got ${JSON.stringify(all)}`);
        await new Promise<void>((r) => { wake = r; setTimeout(r, 200); });
      }
    },
    send: (s) => { socket.write(s); },
    exited, pid: child.pid!,
    close: () => socket.destroy(),
  };
}

function site(extra: string[]) {
  const dir = tempDir('dmail-imapd-');
  chmodSync(dir, 0o755);
  const spool = join(dir, 'spool');
  mkdirSync(spool);
  chmodSync(spool, 0o1777);
  for (const d of ['log', 'work']) mkdirSync(join(dir, d));
  const db = join(dir, 'users.db');
  const conf = join(dir, 'dmail.conf');
  const write = (more: string[] = []) => writeFileSync(conf, [
    `drop_path ${spool}`, `log_path ${join(dir, 'log')}`, `work_path ${join(dir, 'work')}`, 'log_level debug',
    'auth_fail_delay 0', 'authent_timeout 1', ...extra, ...more,
  ].join('\n') + '\n');
  write();
  const set = (...w: string[]) => {
    const r = spawnSync(BIN.dmailctl, ['authd', '--db', db, 'set', ...w], { env: cleanEnv(), encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stdout);
  };
  const logs = () => readdirSync(join(dir, 'log')).map((f) => readFileSync(join(dir, 'log', f), 'utf8')).join('');
  return { dir, spool, db, conf, set, logs, write };
}

const authd = (db: string) => `authent_process ${BIN.dmailctl} authd --db ${db}`;

describe('imapd login with the shipped authd module', () => {
  it('LOGIN succeeds, wrong passwords fail, the third failure disconnects, and no password is logged', async () => {
    const s = site(['authent_method external', 'imapd_become_user false', 'allow_root_login true']);
    s.write([authd(s.db)]);
    s.set('bob', 'Imap-Secret-1');
    const c = await connectAt(BIN.imapd, ['-i', s.conf]);
    await c.until('* OK');
    c.send('a LOGIN bob Wrong-Secret-9\r\n');
    expect((await c.until('a ')).at(-1)).toMatch(/^a NO \[AUTHENTICATIONFAILED\]/);
    c.send('b LOGIN bob Imap-Secret-1\r\n');
    expect((await c.until('b ')).at(-1)).toMatch(/^b OK/);
    c.send('c SELECT INBOX\r\n');
    expect((await c.until('c ')).at(-1)).toMatch(/^c OK/);
    c.send('d LOGOUT\r\n');
    await c.until('d ');
    await c.exited;
    const c2 = await connectAt(BIN.imapd, ['-i', s.conf]);
    await c2.until('* OK');
    for (const t of ['e', 'f', 'g']) { c2.send(`${t} LOGIN nobody Other-Secret-7\r\n`); await c2.until(`${t} `); }
    await c2.exited;
    expect(c2.lines().some((l) => l.startsWith('* BYE'))).toBe(true);
    const logs = s.logs();
    expect(logs).toContain('"login"');
    for (const p of ['Imap-Secret-1', 'Wrong-Secret-9', 'Other-Secret-7']) expect(logs).not.toContain(p);
  });

  for (const mode of ['slow', 'crash', 'garbage', 'dead']) {
    it(`a ${mode} module gives NO [UNAVAILABLE] and leaves no child behind`, async () => {
      const s = site(['authent_method external', 'imapd_become_user false', 'allow_root_login true']);
      const pidFile = join(s.dir, 'module.pid');
      // Only the slow module should meet the timeout; the others get time to start even on a busy machine.
      s.write([`imapd_authent_process ${process.execPath} ${BAD} ${mode} ${pidFile}`, mode === 'slow' ? 'authent_timeout 3' : 'authent_timeout 8']);
      const c = await connectAt(BIN.imapd, ['-i', s.conf]);
      await c.until('* OK');
      c.send('a LOGIN bob pw\r\n');
      expect((await c.until('a ')).at(-1)).toMatch(/^a NO \[UNAVAILABLE\]/);
      c.send('b LOGOUT\r\n');
      await c.until('b ');
      await c.exited;
      const pid = Number(readFileSync(pidFile, 'utf8'));
      for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
      expect(alive(pid)).toBe(false);
    });
  }

  it('IP vdomains: the same name is a different user on 127.0.0.2 than on 127.0.0.1', async () => {
    const s = site(['authent_method external', 'imapd_become_user false', 'allow_root_login true', 'vdomain ip 127.0.0.2 ipdomain.test']);
    s.write([authd(s.db)]);
    s.set('sales', 'main-pw');
    s.set('ip_sales', 'vdom-pw');
    const run = async (local: string, pass: string) => {
      const c = await connectAt(BIN.imapd, ['-i', s.conf], local);
      await c.until('* OK');
      c.send(`a LOGIN sales ${pass}\r\n`);
      const a = (await c.until('a ')).at(-1)!;
      if (a.startsWith('a OK')) {
        const msg = 'Subject: x\r\n\r\nbody\r\n';
        c.send(`a2 APPEND INBOX {${msg.length}}\r\n`);
        await c.until('+');
        c.send(`${msg}\r\n`);
        expect((await c.until('a2 ')).at(-1)).toMatch(/^a2 OK/);
      }
      c.send('b LOGOUT\r\n');
      await c.until('b ').catch(() => undefined);
      await c.exited;
      return a;
    };
    expect(await run('127.0.0.2', 'vdom-pw')).toMatch(/^a OK/);
    expect(existsSync(join(s.spool, 'ip_sales'))).toBe(true);
    expect(await run('127.0.0.2', 'main-pw')).toMatch(/^a NO/);
    expect(await run('127.0.0.1', 'main-pw')).toMatch(/^a OK/);
    expect(existsSync(join(s.spool, 'sales'))).toBe(true);
  });

  it('suffix vdomains through imapd and dpop: sales@computers.com is cc_sales in the domain\'s directory', async () => {
    const s = site(['authent_method external', 'imapd_become_user false', 'allow_root_login true']);
    const vdir = join(s.dir, 'computers');
    mkdirSync(vdir);
    s.write([authd(s.db), `vdomain cc @computers.com computers.com ${vdir}`]);
    s.set('cc_sales', 'suffix-pw');
    writeFileSync(join(vdir, 'cc_sales'), 'From a@b Tue Jan  2 03:04:05 2024\nSubject: for cc sales\n\nhi\n\n');
    const c = await connectAt(BIN.imapd, ['-i', s.conf]);
    await c.until('* OK');
    c.send('a LOGIN sales@computers.com suffix-pw\r\nb SELECT INBOX\r\n');
    expect((await c.until('a ')).at(-1)).toMatch(/^a OK/);
    expect(await c.until('b ')).toContain('* 1 EXISTS');
    c.send('c LOGOUT\r\n');
    await c.until('c ');
    await c.exited;
    const p = await connectAt(BIN.dpop, ['-i', s.conf]);
    await p.until('+OK');
    p.send('USER sales@computers.com\r\n');
    await p.until('+OK');
    p.send('PASS suffix-pw\r\n');
    expect((await p.until('')).at(-1)).toMatch(/^\+OK/);
    p.send('STAT\r\n');
    expect((await p.until('')).at(-1)).toMatch(/^\+OK 1 /);
    p.send('QUIT\r\n');
    await p.exited;
  });
});

describe.skipIf(!isRoot)('imapd and dpop with unix_user as root', () => {
  it('LOGIN as a real yescrypt user switches to that user: the drop file it creates is theirs', async () => {
    installPamService();
    const u = createUser('dmim', 'Unix Pass 5', 'YESCRYPT');
    const s = site(['authent_method unix_user', 'pam_service dmail']);
    const c = await connectAt(BIN.imapd, ['-i', s.conf]);
    await c.until('* OK');
    c.send('a LOGIN "' + u.name + '" "Unix Pass 5"\r\n');
    expect((await c.until('a ')).at(-1)).toMatch(/^a OK/);
    const msg = 'Subject: mine\r\n\r\nhello\r\n';
    c.send(`b APPEND INBOX {${msg.length}}\r\n`);
    await c.until('+');
    c.send(`${msg}\r\n`);
    expect((await c.until('b ')).at(-1)).toMatch(/^b OK/);
    c.send('c LOGOUT\r\n');
    await c.until('c ');
    await c.exited;
    const st = statSync(join(s.spool, u.name));
    expect({ uid: st.uid, gid: st.gid }).toEqual({ uid: u.uid, gid: u.gid });
    expect(s.logs()).not.toContain('Unix Pass 5');

    const p = await connectAt(BIN.dpop, ['-i', s.conf]);
    await p.until('+OK');
    p.send(`USER ${u.name}\r\nPASS Unix Pass 5\r\n`);
    await p.until('+OK');
    expect((await p.until('')).at(-1)).toMatch(/^\+OK/);
    p.send('STAT\r\nQUIT\r\n');
    expect((await p.until('+OK 1 '))).toBeTruthy();
    await p.exited;
  });
});

describe('dpop APOP', () => {
  it('APOP with a secrets file through the built dpop; a wrong digest fails', async () => {
    const { createHash } = await import('node:crypto');
    const s = site(['authent_method external', 'imapd_become_user false', 'allow_root_login true', 'apop_enable true']);
    const secrets = join(s.dir, 'apop.secrets');
    writeFileSync(secrets, 'bob tanstaaf\n', { mode: 0o600 });
    s.write([authd(s.db), `apop_secrets ${secrets}`]);
    s.set('bob', 'pw');
    const p = await connectAt(BIN.dpop, ['-i', s.conf]);
    const greeting = (await p.until('+OK')).at(-1)!;
    const ts = /<[^>]+>/.exec(greeting)?.[0];
    expect(ts).toBeDefined();
    p.send(`APOP bob ${'0'.repeat(32)}\r\n`);
    expect((await p.until('')).at(-1)).toMatch(/^-ERR/);
    p.send(`APOP bob ${createHash('md5').update(ts + 'tanstaaf').digest('hex')}\r\n`);
    expect((await p.until('')).at(-1)).toMatch(/^\+OK/);
    p.send('QUIT\r\n');
    await p.exited;
    expect(s.logs()).not.toContain('tanstaaf');
  });
});

describe('module lifetime', () => {
  it('a module that ignores exit does not outlive an imapd whose login failed', async () => {
    const s = site(['authent_method external', 'imapd_become_user false', 'allow_root_login true']);
    const pidFile = join(s.dir, 'module.pid');
    s.write([`imapd_authent_process ${process.execPath} ${BAD} ignore-exit ${pidFile}`]);
    const c = await connectAt(BIN.imapd, ['-i', s.conf]);
    await c.until('* OK');
    c.send('a LOGIN bob wrong\r\n');
    expect((await c.until('a ')).at(-1)).toMatch(/^a NO/);
    c.send('b LOGOUT\r\n');
    await c.until('b ');
    await c.exited;
    const pid = Number(readFileSync(pidFile, 'utf8'));
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive(pid)).toBe(false);
  });
});
