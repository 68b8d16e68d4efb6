// Issue 13, the four holes, performed as an attacker would: real unprivileged system users with their own
// files, the real built imapd started as root over a socket (as inetd does), and the attacker acting as
// their own uid (symlinks planted for a pid they can see, a directory swapped for a symlink in a loop,
// another user's index directory pre-created with a forged journal, the session directory).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/site.js';
import { cleanEnv, inetdConnect, type Client } from '../helpers/inetd.js';
import { cleanupTempDirs, tempDir } from '../auth/helpers.js';
import { createUser, installPamService, isRoot, removeUsers, type SysUser } from '../auth/system-users.js';

const MSG = (subject: string, body: string) => `From x@y Tue Jan  2 03:04:05 2024\nSubject: ${subject}\n\n${body}\n\n`;

/** Run a small node script as `u` (the attacker's own uid and gid, no supplementary groups). */
function asUser(u: SysUser, script: string, args: string[] = []): string {
  const r = spawnSync(process.execPath, ['-e', `const fs=require('fs');const path=require('path');const a=process.argv.slice(1);${script}`, ...args], {
    uid: u.uid, gid: u.gid, encoding: 'utf8', env: cleanEnv(), timeout: 20_000,
  });
  if (r.status !== 0) throw new Error(`as ${u.name}: ${r.stderr}`);
  return r.stdout;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      out.push(p);
      if (e.isDirectory()) walk(p);
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

describe.skipIf(!isRoot)('running as root among users\' files (issue 13 holes)', () => {
  let a: SysUser; // the attacker
  let b: SysUser; // the victim
  let dir: string;
  let spool: string;
  let victim: string;
  const conf = (extra: string[]) => {
    const file = join(dir, `dmail-${Math.random().toString(36).slice(2)}.conf`);
    writeFileSync(file, [
      `drop_path ${spool}`, `log_path ${join(dir, 'log')}`, `work_path ${join(dir, 'work')}`, 'log_level debug',
      'auth_fail_delay 0', 'pam_service dmail', 'authent_method unix_user', ...extra,
    ].join('\n') + '\n');
    return file;
  };
  const log = () => { try { return readFileSync(join(dir, 'log', 'imapd.log'), 'utf8'); } catch { return ''; } };
  async function open(confFile: string): Promise<Client> {
    const c = await inetdConnect(BIN.imapd, ['-i', confFile]);
    expect(await c.line()).toMatch(/^\* OK/);
    return c;
  }
  async function cmd(c: Client, tag: string, text: string): Promise<string[]> {
    c.send(`${tag} ${text}\r\n`);
    return c.until(`${tag} `, 20_000);
  }
  async function bye(c: Client): Promise<void> {
    try { await cmd(c, 'z', 'LOGOUT'); } catch { /* already closed */ }
    c.close();
    await c.exited();
  }

  beforeAll(() => {
    installPamService();
    a = createUser('dmta', 'attacker pw', 'SHA512');
    b = createUser('dmtb', 'victim pw', 'SHA512');
    dir = tempDir('dmail-trust-');
    chmodSync(dir, 0o755);
    spool = join(dir, 'spool');
    mkdirSync(spool);
    chmodSync(spool, 0o1777); // like /var/mail
    mkdirSync(join(dir, 'log'));
    mkdirSync(join(dir, 'work'));
    for (const u of [a, b]) {
      writeFileSync(join(spool, u.name), MSG(`hello ${u.name}`, 'ordinary mail'), { mode: 0o600 });
      chownSync(join(spool, u.name), u.uid, u.gid);
    }
    victim = join(dir, 'victim');
    writeFileSync(victim, 'precious root file\n', { mode: 0o644 });
  });
  beforeEach(() => writeFileSync(victim, 'precious root file\n', { mode: 0o644 }));
  afterAll(() => { removeUsers(); cleanupTempDirs(); });

  it('hole 1: symlinks planted for a root session\'s temporary files are never written through', async () => {
    const mail = join(a.home, 'mail');
    asUser(a, 'fs.mkdirSync(a[0], {mode: 0o700})', [mail]);
    const cf = conf(['imapd_become_user false', 'allow_root_login true', 'imapd_mailbox_name mail']);
    const c = await open(cf);
    const pid = c.child.pid!;
    // The attacker sees the new imapd's pid (ps) and plants the names it will use.
    asUser(a, `for (const n of ['.mailboxlist.tmp.' + a[2], '.mailboxlist.' + a[2] + '.tmp']) fs.symlinkSync(a[1], path.join(a[0], n));`, [mail, victim, String(pid)]);
    const login = await cmd(c, 'a', `LOGIN ${a.name} "attacker pw"`);
    if (login.at(-1)!.startsWith('a OK')) {
      await cmd(c, 'b', 'SUBSCRIBE owned');
      await cmd(c, 'c', 'CREATE other');
    } else {
      expect(login.at(-1)).toMatch(/^a NO \[UNAVAILABLE\]/);
      expect(log()).toMatch(/writable by|owned by uid/);
    }
    await bye(c);
    expect(readFileSync(victim, 'utf8')).toBe('precious root file\n');
    // Nothing of root's ended up in the user's directory either.
    for (const f of filesUnder(mail)) expect(lstatSync(f).uid, f).not.toBe(0);
  });

  it('hole 2: a directory swapped for a symlink while root uses it never reaches root-only files', async () => {
    const mail = join(a.home, 'mail');
    rmSync(mail, { recursive: true, force: true });
    asUser(a, `fs.mkdirSync(path.join(a[0], 'sub'), {recursive: true, mode: 0o700}); fs.writeFileSync(path.join(a[0], 'sub', 'box'), a[1]);`, [mail, MSG('mine', 'user box')]);
    const secretDir = join(dir, 'root-only');
    mkdirSync(secretDir, { mode: 0o700 });
    writeFileSync(join(secretDir, 'box'), [1, 2, 3, 4, 5, 6, 7].map((i) => MSG(`secret ${i}`, 'ROOT-SECRET')).join(''), { mode: 0o600 });
    const stop = join(dir, 'stop-racer');
    // The racer: swap sub <-> symlink to the root-only directory, as fast as it can, until told to stop.
    const racer: ChildProcess = spawn(process.execPath, ['-e', `
      const fs = require('fs'); const [sub, target, stop] = process.argv.slice(1); let n = 0;
      while (!fs.existsSync(stop)) {
        try { fs.renameSync(sub, sub + '.real'); fs.symlinkSync(target, sub); fs.unlinkSync(sub); fs.renameSync(sub + '.real', sub); n++; } catch {}
      }
      console.log(n);`, join(mail, 'sub'), secretDir, stop], { uid: a.uid, gid: a.gid, env: cleanEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
    const seen: string[] = [];
    /** Lines up to the tagged answer, or up to the connection's end (a BYE for a vanished mailbox). */
    const tryCmd = async (c: Client, tag: string, text: string): Promise<boolean> => {
      c.send(`${tag} ${text}\r\n`);
      for (;;) {
        let l: string;
        try { l = await c.line(20_000); } catch { return false; }
        seen.push(l);
        if (l.startsWith(`${tag} `)) return true;
      }
    };
    /** SELECT + FETCH the racing folder `rounds` times (reconnecting after a BYE); how the logins went. */
    const attack = async (cf: string, rounds: number): Promise<{ refused: number; served: number }> => {
      let refused = 0;
      let served = 0;
      let c: Client | undefined;
      for (let i = 0; i < rounds; i++) {
        if (!c) {
          c = await open(cf);
          if (!await tryCmd(c, 'a', `LOGIN ${a.name} "attacker pw"`) || !seen.at(-1)!.startsWith('a OK')) {
            expect(seen.at(-1)).toMatch(/^a NO \[UNAVAILABLE\]/);
            refused++;
            await bye(c);
            return { refused, served };
          }
        }
        served++;
        if (!await tryCmd(c, `s${i}`, 'SELECT sub/box') || !await tryCmd(c, `f${i}`, 'FETCH 1:* (BODY.PEEK[TEXT])')) {
          c.close();
          await c.exited();
          c = undefined;
        }
      }
      if (c) await bye(c);
      return { refused, served };
    };
    try {
      // As root (imapd_become_user false): refused, since users can write ~/mail (the decision).
      const asRoot = await attack(conf(['imapd_become_user false', 'allow_root_login true', 'imapd_mailbox_name mail']), 200);
      expect(asRoot.refused).toBe(1);
      expect(log()).toContain('login refused: a session running as root');
      expect(log()).toMatch(/"why":"\/home\/[^"]* is owned by uid \d+ \(trusted: 0\)"/);
      // As the user (the default): served, and the swap can only lead where the user may go anyway.
      const asUserRun = await attack(conf(['imapd_mailbox_name mail']), 100);
      expect(asUserRun.served).toBe(100);
      // On a loaded machine the racer may have held the symlink every time: more rounds, until the user's
      // own folder was read through the race at least once (bounded).
      for (let more = 0; more < 4 && !seen.some((l) => l.includes('user box')); more++) {
        expect((await attack(conf(['imapd_mailbox_name mail']), 50)).served).toBe(50);
      }
    } finally {
      writeFileSync(stop, '');
      await new Promise((r) => racer.on('exit', r));
    }
    const text = seen.join('\n');
    expect(text).toContain('user box'); // the user's own folder was read through the race
    expect(text).not.toContain('ROOT-SECRET');
    expect(text).not.toMatch(/\* 7 EXISTS|MESSAGES 7/);
  });

  it('imapd_become_user false as root is refused unless allow_root_login, and logged as a risk', async () => {
    const c = await open(conf(['imapd_become_user false']));
    const r = await cmd(c, 'a', `LOGIN ${b.name} "victim pw"`);
    expect(r.at(-1)).toMatch(/^a NO/);
    await bye(c);
    expect(log()).toMatch(/imapd_become_user false/);
    // Allowed, and with folders beside the drop file in a root spool: served, and logged as a root session.
    const ok = await open(conf(['imapd_become_user false', 'allow_root_login true']));
    expect((await cmd(ok, 'a', `LOGIN ${b.name} "victim pw"`)).at(-1)).toMatch(/^a OK/);
    expect((await cmd(ok, 'b', 'CREATE Archive')).at(-1)).toMatch(/^b OK/);
    await bye(ok);
    expect(log()).toMatch(/this session runs as root/);
    expect(lstatSync(join(spool, `${b.name}.mbx`)).uid).toBe(0);
  });

  it('hole 4: session records are written safely as root and removed at logout by the user', async () => {
    const sessions = join(dir, 'work', 'sessions');
    mkdirSync(sessions, { recursive: true });
    chmodSync(sessions, 0o1777); // what the old code asked for
    const cf = conf([]);
    const c = await open(cf);
    const pid = c.child.pid!;
    asUser(a, `for (const n of [a[2] + '.json.tmp', a[2] + '.json']) { try { fs.symlinkSync(a[1], path.join(a[0], n)); } catch {} }`, [sessions, victim, String(pid)]);
    // ... and, while the directory is still 1777, the victim's per-uid directory as a link to one of theirs.
    const lure = join(a.home, 'lure');
    asUser(a, `fs.mkdirSync(a[1], {recursive: true}); try { fs.symlinkSync(a[1], a[0]); } catch {}`, [join(sessions, String(b.uid)), lure]);
    const login = await cmd(c, 'a', `LOGIN ${b.name} "victim pw"`);
    expect(login.at(-1)).toMatch(/^a OK/);
    expect(readFileSync(victim, 'utf8')).toBe('precious root file\n');
    // A user's own record directory (made at their last login) cannot vouch for other people's processes.
    const aDir = join(sessions, String(a.uid));
    mkdirSync(aDir, { recursive: true, mode: 0o755 });
    chownSync(aDir, a.uid, a.gid);
    asUser(a, `fs.writeFileSync(path.join(a[0], '1.json'), JSON.stringify({ pid: 1, program: 'imapd', user: 'root', remoteAddress: '1.2.3.4', since: 'x' }))`, [aDir]);
    const listed = spawnSync(BIN.dmailctl, ['sessions', '-i', cf, '--json'], { encoding: 'utf8', env: cleanEnv() });
    const live = listed.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { pid: number; user: string });
    expect(live).toContainEqual(expect.objectContaining({ pid, user: b.name }));
    expect(live.map((x) => x.pid)).not.toContain(1);
    await bye(c);
    expect(readFileSync(victim, 'utf8')).toBe('precious root file\n');
    expect(statSync(sessions).mode & 0o7777).toBe(0o755);
    // The session's own record is gone: the user could remove it after dropping root.
    expect(lstatSync(join(sessions, String(b.uid))).isDirectory()).toBe(true);
    expect(statSync(join(sessions, String(b.uid))).uid).toBe(b.uid);
    expect(readdirSync(lure)).toEqual([]);
    expect(readdirSync(join(sessions, String(b.uid)))).toEqual([]);
    // What the attacker planted before the directory was taken back was never written through.
    expect(filesUnder(sessions).filter((f) => lstatSync(f).uid === 0 && !lstatSync(f).isDirectory())).toEqual([]);
  });

  it('hole 3: a shared index_path serves every user, and a journal planted by another user is never replayed', async () => {
    const idx = join(dir, 'index');
    mkdirSync(idx);
    chmodSync(idx, 0o1777); // the old README asked for a directory every user can write
    const cf = conf([`index_path ${idx}`]);
    // The attacker logs in first (before: creating the shared hash directories 0700, as themselves).
    let c = await open(cf);
    expect((await cmd(c, 'a', `LOGIN ${a.name} "attacker pw"`)).at(-1)).toMatch(/^a OK/);
    expect((await cmd(c, 'b', 'SELECT INBOX')).at(-1)).toMatch(/^b OK/);
    await bye(c);
    // The victim is not locked out by the directories the attacker's session created.
    c = await open(cf);
    expect((await cmd(c, 'a', `LOGIN ${b.name} "victim pw"`)).at(-1)).toMatch(/^a OK/);
    expect((await cmd(c, 'b', 'SELECT INBOX')).at(-1)).toMatch(/^b OK/);
    expect((await cmd(c, 'c', 'STORE 1 +FLAGS (\\Flagged)')).at(-1)).toMatch(/^c OK/);
    await bye(c);
    // Then plants a redo journal for the victim's INBOX (the inode is visible with ls -i).
    const drop = join(spool, b.name);
    const before = readFileSync(drop);
    const at = before.indexOf('ordinary');
    const forged = Buffer.from('PWNED!!!');
    const segs = Buffer.alloc(16);
    segs.writeDoubleLE(at, 0); segs.writeDoubleLE(forged.length, 8);
    const data = Buffer.concat([segs, forged]);
    const head = { v: 1, kind: 'patch', nsegs: 1, ino: String(statSync(drop, { bigint: true }).ino), x: 0, oldSize: before.length, newLen: data.length, oldTailHash: '', newHash: createHash('sha1').update(data).digest('hex') };
    const hb = Buffer.alloc(4096, 0x20);
    hb.write(JSON.stringify(head));
    const h = b.name;
    try {
      asUser(a, `const d = path.join(a[0], a[1], a[2], a[3]); fs.mkdirSync(d, {recursive: true, mode: 0o777});
        for (const p of [path.join(a[0], a[1]), path.join(a[0], a[1], a[2]), d]) fs.chmodSync(p, 0o777);
        fs.writeFileSync(path.join(d, 'INBOX.journal'), Buffer.from(a[4], 'base64'), {mode: 0o666});`,
      [idx, h[0]!, h[1]!, h, Buffer.concat([hb, data]).toString('base64')]);
    } catch { /* could not plant: fine, the victim's login below must still work */ }
    c = await open(cf);
    const login = await cmd(c, 'a', `LOGIN ${b.name} "victim pw"`);
    expect(login.at(-1)).toMatch(/^a OK/);
    const sel = await cmd(c, 'b', 'SELECT INBOX');
    expect(sel.at(-1)).toMatch(/^b OK/);
    const body = await cmd(c, 'c', 'FETCH 1 (BODY.PEEK[TEXT])');
    await bye(c);
    expect(body.join('\n')).toContain('ordinary mail');
    expect(readFileSync(drop, 'latin1')).not.toContain('PWNED');
    // The victim's index directory is the victim's, not writable by others; the hash directories are root's.
    const mine = join(idx, h[0]!, h[1]!, h);
    expect(statSync(mine).uid).toBe(b.uid);
    expect(statSync(mine).mode & 0o022).toBe(0);
    expect(statSync(join(idx, h[0]!)).uid).toBe(0);
    // Root working on the user's mail (dmailctl) still may.
    const q = spawnSync(BIN.dmailctl, ['quota', b.name, '-i', cf], { encoding: 'utf8', env: cleanEnv() });
    expect(q.status, q.stderr).toBe(0);

    // The state an older version left: hash directories owned (0700 or 0777) by the user who came first,
    // and the victim's index directory made by the attacker, with the forged journal in it.
    const old = join(dir, 'index-old');
    mkdirSync(old);
    chmodSync(old, 0o1777);
    const forgedNow = (() => {
      const cur = readFileSync(drop);
      const at2 = cur.indexOf('ordinary');
      const s2 = Buffer.alloc(16);
      s2.writeDoubleLE(at2, 0); s2.writeDoubleLE(forged.length, 8);
      const d2 = Buffer.concat([s2, forged]);
      const h2 = { ...head, oldSize: cur.length, newLen: d2.length, newHash: createHash('sha1').update(d2).digest('hex') };
      const hb2 = Buffer.alloc(4096, 0x20);
      hb2.write(JSON.stringify(h2));
      return Buffer.concat([hb2, d2]);
    })();
    asUser(a, `const d = path.join(a[0], a[1], a[2], a[3]); fs.mkdirSync(d, {recursive: true, mode: 0o777});
      for (const p of [path.join(a[0], a[1]), path.join(a[0], a[1], a[2]), d]) fs.chmodSync(p, 0o777);
      fs.writeFileSync(path.join(d, 'INBOX.journal'), Buffer.from(a[4], 'base64'), {mode: 0o666});`,
    [old, h[0]!, h[1]!, h, forgedNow.toString('base64')]);
    c = await open(conf([`index_path ${old}`]));
    expect((await cmd(c, 'a', `LOGIN ${b.name} "victim pw"`)).at(-1)).toMatch(/^a OK/);
    expect((await cmd(c, 'b', 'SELECT INBOX')).at(-1)).toMatch(/^b OK/);
    const body2 = await cmd(c, 'c', 'FETCH 1 (BODY.PEEK[TEXT])');
    await bye(c);
    expect(body2.join('\n')).toContain('ordinary mail');
    expect(readFileSync(drop, 'latin1')).not.toContain('PWNED');
    for (const p of [join(old, h[0]!), join(old, h[0]!, h[1]!)]) {
      expect(statSync(p).uid, p).toBe(0);
      expect(statSync(p).mode & 0o7777, p).toBe(0o755);
    }
    expect(statSync(join(old, h[0]!, h[1]!, h)).uid).toBe(b.uid);
    expect(readdirSync(join(old, h[0]!, h[1]!)).some((n) => n.startsWith(`${h}.untrusted-`))).toBe(true);
    expect(log()).toMatch(/moved aside/);
  });
});
