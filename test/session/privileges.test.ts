// Becoming the user, proven in a separate process (the real login pipeline bundled into a small probe
// program: a test worker must never setuid). Real system users with yescrypt / sha512 passwords, PAM,
// real spool files, a planted symlink, and paths outside the user's area.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, lchownSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planIdentity } from '../../src/session/become-user.js';
import { BIN, ROOT } from '../helpers/site.js';
import { cleanEnv } from '../helpers/inetd.js';
import { alive, cleanupTempDirs, settingsWith, tempDir } from '../auth/helpers.js';
import { createUser, installPamService, isRoot, removeUsers, type SysUser } from '../auth/system-users.js';

describe('identity policy', () => {
  it('never runs as root unless allowed, and uses mail_user for users without a uid', async () => {
    const base = settingsWith({ imapd_become_user: true });
    const u = { login: 'x', user: 'x', dropName: 'x', info: {} };
    expect((await planIdentity(base, { ...u, uid: 0 })).kind).toBe('refuse');
    expect((await planIdentity({ ...base, allow_root_login: true }, { ...u, uid: 0 })).kind).not.toBe('refuse');
    if (isRoot) {
      expect((await planIdentity(base, u)).kind).toBe('refuse');
      expect(await planIdentity({ ...base, mail_user: 'nobody' }, u)).toMatchObject({ kind: 'switch', to: { name: 'nobody' } });
      expect(await planIdentity(base, { ...u, uid: 65534 })).toMatchObject({ kind: 'switch', to: { uid: 65534 } });
    }
    // imapd_become_user false keeps the server's identity: as root that is a root session (issue 13).
    expect((await planIdentity({ ...base, imapd_become_user: false }, { ...u, uid: 0 })).kind).toBe(isRoot ? 'refuse' : 'stay');
    expect((await planIdentity({ ...base, imapd_become_user: false, allow_root_login: true }, { ...u, uid: 0 })).kind).toBe('stay');
  });
});

describe.skipIf(!isRoot)('switching to the user (as root)', () => {
  let a: SysUser;
  let b: SysUser;
  let dir: string;
  let spool: string;
  let probe: string;
  const conf = (extra: string[]) => {
    const file = join(dir, `dmail-${Math.random().toString(36).slice(2)}.conf`);
    writeFileSync(file, [
      `drop_path ${spool}`, `log_path ${join(dir, 'log')}`, `work_path ${join(dir, 'work')}`, 'log_level debug',
      'auth_fail_delay 0', 'pam_service dmail', ...extra,
    ].join('\n') + '\n');
    return file;
  };
  const run = (confFile: string, name: string, password: string, probeArgs: object = {}) => {
    const r = spawnSync(process.execPath, [probe, confFile, 'imapd', '127.0.0.1', JSON.stringify({ name, ...probeArgs })], {
      input: password, encoding: 'utf8', env: cleanEnv({ NODE_PATH: join(ROOT, 'node_modules') }), timeout: 30_000,
    });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    try { return JSON.parse(line) as Record<string, any>; } catch { throw new Error(`probe said: ${r.stdout} ${r.stderr}`); }
  };

  beforeAll(async () => {
    installPamService();
    a = createUser('dmpa', 'alpha pass', 'YESCRYPT');
    b = createUser('dmpb', 'bravo-pass', 'SHA512');
    dir = tempDir('dmail-priv-');
    chmodSync(dir, 0o755);
    spool = join(dir, 'spool');
    mkdirSync(spool);
    chmodSync(spool, 0o1777); // like /var/mail: users create their own drop files and locks
    mkdirSync(join(dir, 'log'));
    mkdirSync(join(dir, 'work'));
    // b's mail: private to b.
    const bDrop = join(spool, b.name);
    writeFileSync(bDrop, 'From x@y Tue Jan  2 03:04:05 2024\nSubject: TOP-SECRET-OF-B\n\nsecret\n\n', { mode: 0o600 });
    chownSync(bDrop, b.uid, b.gid);
    // a plants a symlink to b's drop file in a's own folder directory.
    const aFolders = join(spool, `${a.name}.mbx`);
    mkdirSync(aFolders, { mode: 0o700 });
    chownSync(aFolders, a.uid, a.gid);
    symlinkSync(bDrop, join(aFolders, 'Stolen'));
    lchownSync(join(aFolders, 'Stolen'), a.uid, a.gid);
    probe = join(dir, 'login-probe.cjs');
    await build({
      entryPoints: [fileURLToPath(new URL('./fixtures/login-probe.ts', import.meta.url))],
      outfile: probe, bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'error',
      external: ['posix', 'fs-ext', 'authenticate-pam'],
      define: { 'import.meta.url': '__import_meta_url' },
      banner: { js: "const __import_meta_url=require('url').pathToFileURL(__filename).href;" },
    });
  });
  afterAll(() => { removeUsers(); cleanupTempDirs(); });

  it('a unix_user session runs as the user with their groups, and its files belong to them', () => {
    const r = run(conf(['authent_method unix_user']), a.name, 'alpha pass', { append: true });
    expect(r.ok).toBe(true);
    expect(r.ids).toMatchObject({ uid: a.uid, euid: a.uid, gid: a.gid, egid: a.gid });
    expect(r.ids.groups).not.toContain(0);
    expect(r.inboxOwner).toEqual({ uid: a.uid, gid: a.gid });
  });

  it('cannot read other users\' files, root-only files, or mailboxes outside its area; a planted symlink is not followed', () => {
    const r = run(conf(['authent_method unix_user']), a.name, 'alpha pass', {
      readPaths: ['/etc/shadow', join(spool, b.name)],
      openMailboxes: ['Stolen', `../${b.name}`, '../../../../etc/passwd', '/etc/passwd'],
    });
    expect(r.ok).toBe(true);
    expect(r.reads['/etc/shadow']).toBe('EACCES');
    expect(r.reads[join(spool, b.name)]).toBe('EACCES');
    for (const [name, res] of Object.entries(r.opens as Record<string, { error?: string; text?: string }>)) {
      expect(res.error, `open ${name}`).toBeDefined();
      expect(JSON.stringify(res)).not.toContain('TOP-SECRET-OF-B');
    }
  });

  it('a wrong password or an unknown user is refused', () => {
    expect(run(conf(['authent_method unix_user']), a.name, 'bravo-pass')).toMatchObject({ ok: false, temporary: false });
    expect(run(conf(['authent_method unix_user']), 'dmp-nosuch', 'x')).toMatchObject({ ok: false, temporary: false });
  });

  it('a module that ignores exit is finished before the switch (a user process could not kill it)', async () => {
    const pidFile = join(dir, 'ignoring.pid');
    const bad = fileURLToPath(new URL('../auth/fixtures/bad-module.mjs', import.meta.url));
    const r = run(conf(['authent_method external', `authent_process ${process.execPath} ${bad} ignore-exit ${pidFile}`]), 'bob', 'right');
    expect(r.crash).toBeUndefined();
    const pid = Number(readFileSync(pidFile, 'utf8'));
    for (let i = 0; i < 40 && alive(pid); i++) await new Promise((res) => setTimeout(res, 50));
    expect(alive(pid)).toBe(false);
  });

  it('external users run as the uid the module returns, else mail_user; never as root', () => {
    const db = join(dir, 'users.db');
    const set = (...w: string[]) => spawnSync(BIN.dmailctl, ['authd', '--db', db, 'set', ...w], { env: cleanEnv() });
    set('ext', 'extpw', `uid=${b.uid}`);
    set('nouid', 'pw2');
    const ext = [`authent_method external`, `authent_process ${BIN.dmailctl} authd --db ${db}`];
    expect(run(conf(ext), 'ext', 'extpw', { append: true })).toMatchObject({ ok: true, ids: { uid: b.uid, gid: b.gid } });
    // No uid and no mail_user: it would run as root, a configuration problem → temporary.
    expect(run(conf(ext), 'nouid', 'pw2')).toMatchObject({ ok: false, temporary: true });
    set('rootish', 'pw3', 'uid=0');
    expect(run(conf(ext), 'rootish', 'pw3')).toMatchObject({ ok: false, temporary: true });
    expect(run(conf([...ext, 'mail_user nobody']), 'nouid', 'pw2')).toMatchObject({ ok: true, ids: { uid: 65534 } });
  });
});
