// authent_method unix_user against real system users with real yescrypt and sha512-crypt hashes.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate, lookupUser } from '../../src/auth/index.js';
import { systemCrypt, verifyCrypt, hashSha512Crypt } from '../../src/auth/crypt.js';
import type { ClientInfo } from '../../src/auth/types.js';
import { cleanupTempDirs, context, tempDir } from './helpers.js';
import { createUser, installPamService, isRoot, removeUsers, shadowHash, type SysUser } from './system-users.js';

const client: ClientInfo = { remoteAddress: '127.0.0.1', localAddress: '127.0.0.1', tls: false };

describe('crypt(3) through the system libcrypt', () => {
  it('verifies every scheme the system supports and rejects locked hashes', async () => {
    for (const setting of ['$6$saltsalt$', '$5$saltsalt$', '$1$saltsalt$', 'ab']) {
      const h = await systemCrypt('pässword', setting);
      expect(h.slice(0, 2)).toBe(setting.slice(0, 2));
      expect(await verifyCrypt('pässword', h)).toBe(true);
      expect(await verifyCrypt('password', h)).toBe(false);
    }
    const six = await hashSha512Crypt('x y');
    expect(six).toMatch(/^\$6\$[./0-9A-Za-z]{16}\$/);
    expect(await verifyCrypt('x y', six)).toBe(true);
    for (const locked of ['', '!', '*', `!${six}`, 'x']) expect(await verifyCrypt('x y', locked)).toBe(false);
  });
});

describe.skipIf(!isRoot)('unix_user with real system users', () => {
  let y: SysUser;
  let s: SysUser;
  beforeAll(() => {
    installPamService();
    y = createUser('dmty', 'yes pass 1', 'YESCRYPT');
    s = createUser('dmts', 'sha-pass-2', 'SHA512');
  });
  afterAll(() => { removeUsers(); cleanupTempDirs(); rmSync('/etc/pam.d/dmail-broken-test', { force: true }); });

  it('the accounts really carry yescrypt and sha512-crypt hashes', () => {
    expect(shadowHash(y.name)).toMatch(/^\$y\$/);
    expect(shadowHash(s.name)).toMatch(/^\$6\$/);
  });

  it('authenticates through PAM and returns the account identity', async () => {
    const ctx = context({ authent_method: 'unix_user' });
    const a = await authenticate(ctx, client, y.name, 'yes pass 1');
    expect(a).toMatchObject({ ok: true, user: { user: y.name, dropName: y.name, uid: y.uid, gid: y.gid, home: y.home } });
    expect(await authenticate(ctx, client, s.name, 'sha-pass-2')).toMatchObject({ ok: true, user: { uid: s.uid } });
    expect(await authenticate(ctx, client, s.name, 'wrong')).toMatchObject({ ok: false, temporary: false });
    expect(await authenticate(ctx, client, 'dmt-nosuchuser', 'wrong')).toMatchObject({ ok: false, temporary: false });
    expect(await lookupUser(ctx, s.name)).toMatchObject({ ok: true, user: { uid: s.uid, home: s.home } });
    expect(ctx.log.text()).not.toContain('sha-pass-2');
    expect(ctx.log.text()).not.toContain('yes pass 1');
  });

  it('falls back to /etc/shadow + crypt(3) when PAM cannot decide', async () => {
    // A service whose module cannot be loaded: PAM answers "module unknown", not "wrong password".
    writeFileSync('/etc/pam.d/dmail-broken-test', 'auth required pam_no_such_module_xyz.so\n');
    const ctx = context({ authent_method: 'unix_user', pam_service: 'dmail-broken-test' });
    expect(await authenticate(ctx, client, y.name, 'yes pass 1')).toMatchObject({ ok: true });
    expect(await authenticate(ctx, client, s.name, 'sha-pass-2')).toMatchObject({ ok: true });
    expect(await authenticate(ctx, client, s.name, 'nope')).toMatchObject({ ok: false, temporary: false });
    expect(ctx.log.text()).toContain('PAM could not decide');
  });

  it('vdomain_passwd: passwd-format users of one suffix domain with crypt hashes', async () => {
    const dir = tempDir();
    const file = join(dir, 'passwd.example');
    const hash = await hashSha512Crypt('vpass');
    writeFileSync(file, `# vdomain users\nsales:${hash}:${s.uid}:${s.gid}:Sales:/nonexistent:/bin/false\nlocked:!${hash}:${s.uid}:${s.gid}::/:/bin/false\n`);
    const ctx = context({ authent_method: 'unix_user', vdomain: ['ex @example.test example.test'], vdomain_passwd: [`example.test ${file}`] });
    expect(await authenticate(ctx, client, 'sales@example.test', 'vpass')).toMatchObject({ ok: true, user: { user: 'sales', domain: 'example.test', dropName: 'ex_sales', uid: s.uid } });
    expect(await authenticate(ctx, client, 'sales@example.test', 'bad')).toMatchObject({ ok: false, temporary: false });
    expect(await authenticate(ctx, client, 'locked@example.test', 'vpass')).toMatchObject({ ok: false });
    expect(await authenticate(ctx, client, 'nobody@example.test', 'vpass')).toMatchObject({ ok: false, temporary: false });
  });

  it('login(): unknown user and wrong password answer alike, neither before auth_fail_delay', async () => {
    const { login } = await import('../../src/session/login.js');
    const spool = tempDir();
    const ctx = context({ authent_method: 'unix_user', imapd_become_user: false, allow_root_login: true, auth_fail_delay: 0.5, drop_path: spool, work_path: spool });
    const t0 = Date.now();
    const unknown = await login(ctx, client, 'dmt-nosuchuser', 'whatever');
    const t1 = Date.now();
    const wrong = await login(ctx, client, s.name, 'whatever');
    const t2 = Date.now();
    expect(unknown).toEqual(wrong);
    expect(t1 - t0).toBeGreaterThanOrEqual(490);
    expect(t2 - t1).toBeGreaterThanOrEqual(490);
  });

  it('dmailctl whois shows a unix user\'s drop file, uid and home without a password', async () => {
    const { spawnSync } = await import('node:child_process');
    const { BIN } = await import('../helpers/site.js');
    const { cleanEnv } = await import('../helpers/inetd.js');
    const d = tempDir();
    writeFileSync(join(d, 'dmail.conf'), `drop_path ${d}/spool\nlog_path ${d}\nwork_path ${d}\nauthent_method unix_user\nuser_quota 2048\n`);
    const r = spawnSync(BIN.dmailctl, ['whois', s.name, '-i', join(d, 'dmail.conf')], { env: cleanEnv(), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^drop file:\\s+${d}/spool/${s.name}$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^uid:\\s+${s.uid} \\(gid ${s.gid}\\)$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^home:\\s+${s.home}$`, 'm'));
    expect(r.stdout).toMatch(/^quota:\s+2048 KB$/m);
  });

  it('valid_users limits who may log in', async () => {
    const ctx = context({ authent_method: 'unix_user', valid_users: ['dmts*'] });
    expect(await authenticate(ctx, client, s.name, 'sha-pass-2')).toMatchObject({ ok: true });
    expect(await authenticate(ctx, client, y.name, 'yes pass 1')).toMatchObject({ ok: false });
  });
});
