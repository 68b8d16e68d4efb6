// The login pipeline in-process, with the real external module (dmailctl authd), real store files,
// and the real logger writing to a file (to prove passwords never reach it). No identity switch here:
// imapd_become_user is false, as on a test site; switching is proven in privileges.test.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { closeAuth } from '../../src/auth/index.js';
import type { ClientInfo } from '../../src/auth/types.js';
import { createLogger } from '../../src/log/logger.js';
import type { Settings } from '../../src/config/settings.js';
import type { ServerContext } from '../../src/session/context.js';
import { login, loginApop, apopAvailable } from '../../src/session/login.js';
import { createHash } from 'node:crypto';
import { BIN } from '../helpers/site.js';
import { cleanEnv } from '../helpers/inetd.js';
import { cleanupTempDirs, settingsWith, tempDir } from '../auth/helpers.js';

const contexts: ServerContext[] = [];
afterEach(async () => { for (const c of contexts.splice(0)) await closeAuth(c); });
afterAll(cleanupTempDirs);

const client: ClientInfo = { remoteAddress: '192.0.2.10', localAddress: '127.0.0.1', tls: false };

function site(over: Partial<Settings> = {}) {
  const dir = tempDir('dmail-login-');
  const spool = join(dir, 'spool');
  const logs = join(dir, 'log');
  const work = join(dir, 'work');
  for (const d of [spool, logs, work]) mkdirSync(d);
  const db = join(dir, 'users.db');
  const set = (...words: string[]) => {
    const r = spawnSync(BIN.dmailctl, ['authd', '--db', db, 'set', ...words], { env: cleanEnv(), encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stdout + r.stderr);
  };
  const settings = settingsWith({
    drop_path: spool, log_path: logs, work_path: work, log_level: 'debug',
    authent_method: 'external', authent_process: `${BIN.dmailctl} authd --db ${db}`,
    imapd_become_user: false, allow_root_login: true, auth_fail_delay: 0, ...over,
  });
  const ctx: ServerContext = { program: 'imapd', settings, log: createLogger(settings, 'imapd', { remote: client.remoteAddress }), hostname: 'mail.test', configPath: '/dev/null' };
  const logText = () => (existsSync(join(logs, 'imapd.log')) ? readFileSync(join(logs, 'imapd.log'), 'utf8') : '');
  contexts.push(ctx);
  return { dir, spool, work, db, set, ctx, logText };
}

describe('login()', () => {
  it('logs in through dmailctl authd, opens the drop file, and never logs the password', async () => {
    const s = site({ user_quota: 1000 });
    s.set('bob', 'Sup3r-Secret-Pw', 'quota=250');
    const r = await login(s.ctx, client, 'bob', 'Sup3r-Secret-Pw');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.session.user).toMatchObject({ user: 'bob', dropName: 'bob' });
    expect(r.session.paths.inbox).toBe(join(s.spool, 'bob'));
    expect(r.session.quotaKb).toBe(250);
    await r.session.store.append('INBOX', Buffer.from('Subject: hi\n\nbody\n'));
    expect(readFileSync(join(s.spool, 'bob'), 'latin1')).toContain('Subject: hi');
    await r.session.close();
    const bad = await login(s.ctx, client, 'bob', 'Wrong-Pw-Here');
    expect(bad).toEqual({ ok: false, temporary: false, message: 'authentication failed' });
    const log = s.logText();
    expect(log).toContain('"login"');
    expect(log).not.toContain('Sup3r-Secret-Pw');
    expect(log).not.toContain('Wrong-Pw-Here');
  });

  it('unknown user and wrong password get the same answer, both after auth_fail_delay', async () => {
    const s = site({ auth_fail_delay: 0.4 });
    s.set('bob', 'pw');
    const t0 = Date.now();
    const a = await login(s.ctx, client, 'nosuchuser', 'pw');
    const t1 = Date.now();
    const b = await login(s.ctx, client, 'bob', 'nope');
    const t2 = Date.now();
    expect(a).toEqual(b);
    expect(t1 - t0).toBeGreaterThanOrEqual(390);
    expect(t2 - t1).toBeGreaterThanOrEqual(390);
  });

  it('lowercase_password folds the password before the check', async () => {
    const s = site({ lowercase_password: true });
    s.set('bob', 'mixedcase');
    expect(await login(s.ctx, client, 'bob', 'MixedCase')).toMatchObject({ ok: true });
  });

  it('user_ip_address refuses other clients before asking the module', async () => {
    const s = site({ user_ip_address: ['10.*'] });
    s.set('bob', 'pw');
    expect(await login(s.ctx, client, 'bob', 'pw')).toMatchObject({ ok: false, temporary: false });
    expect(await login(s.ctx, { ...client, remoteAddress: '10.1.2.3' }, 'bob', 'pw')).toMatchObject({ ok: true });
  });

  it('lookup_names lets user_ip_address name hosts (reverse lookup, /etc/hosts included)', async () => {
    const s = site({ user_ip_address: ['10.*', 'localhost*'], lookup_names: true });
    s.set('bob', 'pw');
    expect(await login(s.ctx, { ...client, remoteAddress: '127.0.0.1' }, 'bob', 'pw')).toMatchObject({ ok: true });
    s.ctx.settings.lookup_names = false;
    expect(await login(s.ctx, { ...client, remoteAddress: '127.0.0.1' }, 'bob', 'pw')).toMatchObject({ ok: false });
  });

  it('a module that cannot answer is a temporary failure', async () => {
    const s = site({ authent_process: '/nonexistent/module' });
    expect(await login(s.ctx, client, 'bob', 'pw')).toMatchObject({ ok: false, temporary: true });
  });

  it('suffix vdomains: user@domain maps to prefix_user under the domain path; authent_domain sends user@domain', async () => {
    const s = site();
    const vdir = join(s.dir, 'computers');
    mkdirSync(vdir);
    s.ctx.settings.vdomain = [`cc @computers.com computers.com ${vdir}`];
    s.set('cc_sales', 'pw1');
    const r = await login(s.ctx, client, 'sales@computers.com', 'pw1');
    expect(r.ok && r.session.paths.inbox).toBe(join(vdir, 'cc_sales'));
    await closeAuth(s.ctx);
    s.ctx.settings.authent_domain = true;
    s.set('sales@computers.com', 'pw2');
    const r2 = await login(s.ctx, client, 'sales@computers.com', 'pw2');
    expect(r2.ok && r2.session.paths.inbox).toBe(join(vdir, 'cc_sales'));
  });

  it('records POP-before-SMTP and the live session, and delivers bulletins at login', async () => {
    const s = site({ forward_user: true });
    const bull = join(s.dir, 'bulletins');
    mkdirSync(bull);
    writeFileSync(join(bull, '001.txt'), 'Welcome to the new server\n');
    s.ctx.settings.bulletin_path = bull;
    s.set('bob', 'pw');
    const r = await login(s.ctx, client, 'bob', 'pw');
    expect(r.ok).toBe(true);
    expect(readFileSync(join(s.work, 'forward', '192.0.2.10'), 'utf8')).toMatch(/^192\.0\.2\.10\tbob\t\d+\timapd\n$/);
    expect(readdirSync(join(s.work, 'sessions', String(process.geteuid!())))).toContain(`${process.pid}.json`);
    expect(readFileSync(join(s.spool, 'bob'), 'latin1')).toContain('Welcome to the new server');
    if (r.ok) await r.session.close();
    expect(existsSync(join(s.work, 'sessions', String(process.geteuid!()), `${process.pid}.json`))).toBe(false);
    const again = await login(s.ctx, client, 'bob', 'pw');
    if (again.ok) await again.session.close();
    expect(readFileSync(join(s.spool, 'bob'), 'latin1').match(/Welcome to the new server/g)).toHaveLength(1);
  });

  it('APOP with a secrets file', async () => {
    const s = site({ apop_enable: true });
    s.set('bob', 'pw');
    const secrets = join(s.dir, 'apop.secrets');
    writeFileSync(secrets, '# user secret\nbob tanstaaf\n', { mode: 0o600 });
    s.ctx.settings.apop_secrets = secrets;
    expect(apopAvailable(s.ctx)).toBe(true);
    const ts = '<1896.697170952@dbc.mtview.ca.us>';
    const digest = createHash('md5').update(ts + 'tanstaaf').digest('hex');
    expect(await loginApop(s.ctx, client, 'bob', ts, digest)).toMatchObject({ ok: true });
    expect(await loginApop(s.ctx, client, 'bob', ts, '0'.repeat(32))).toMatchObject({ ok: false, temporary: false });
    expect(await loginApop(s.ctx, client, 'nobody', ts, digest)).toMatchObject({ ok: false, temporary: false });
    expect(s.logText()).not.toContain('tanstaaf');
  });
});
