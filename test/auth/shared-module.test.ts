// Issue 12: one external auth module child per process serving sessions (session/services.ts), shared by
// its sessions: concurrent logins are queued on it and each gets its own answer; a child that died is
// replaced by the next request; two hosts never share one.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { authenticate } from '../../src/auth/index.js';
import { ProcessServices } from '../../src/session/services.js';
import { ROOT } from '../helpers/site.js';
import { cleanupTempDirs, context, tempDir } from './helpers.js';

afterAll(cleanupTempDirs);

const client = { remoteAddress: '192.0.2.7', localAddress: '127.0.0.1', tls: false };

function setup() {
  const dir = tempDir();
  const users: Record<string, { pass: string }> = {};
  for (let i = 0; i < 8; i++) users[`u${i}`] = { pass: `pw${i}` };
  const file = join(dir, 'users.json');
  writeFileSync(file, JSON.stringify(users));
  const cmd = `${process.execPath} ${join(ROOT, 'test/helpers/static-authd.mjs')} ${file}`;
  return context({ authent_method: 'external', authent_process: cmd, drop_path: dir });
}

describe('the auth module child of a host', () => {
  it('serves concurrent logins of several sessions through one child, each with its own answer', async () => {
    const base = setup();
    const host = new ProcessServices({ kind: 'fixed', uid: process.getuid!(), gid: process.getgid!() });
    // Eight sessions of one process: each its own context object, one host.
    const sessions = Array.from({ length: 8 }, () => ({ ...base, host }));
    const outcomes = await Promise.all(sessions.map((ctx, i) => authenticate(ctx, client, `u${i}`, i % 3 === 0 ? 'wrong' : `pw${i}`)));
    outcomes.forEach((o, i) => {
      if (i % 3 === 0) expect(o).toMatchObject({ ok: false, temporary: false });
      else expect(o.ok && o.user.user).toBe(`u${i}`);
    });
    const m = host.authModule(base.settings.authent_process!, base.settings.authent_timeout, base.log);
    const pid = m.pid;
    expect(pid).toBeGreaterThan(0);
    // Killed behind our back: the next request starts a new child, and the answer is still right.
    process.kill(pid!, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    const again = await authenticate(sessions[1]!, client, 'u1', 'pw1');
    expect(again.ok && again.user.user).toBe('u1');
    expect(m.pid).toBeGreaterThan(0);
    expect(m.pid).not.toBe(pid);
    await host.closeAuth();
    expect(m.pid).toBeUndefined();
  });

  it('two hosts have two children', async () => {
    const base = setup();
    const a = new ProcessServices({ kind: 'switch-per-login' });
    const b = new ProcessServices({ kind: 'switch-per-login' });
    await authenticate({ ...base, host: a }, client, 'u2', 'pw2');
    await authenticate({ ...base, host: b }, client, 'u2', 'pw2');
    const pa = a.authModule(base.settings.authent_process!, base.settings.authent_timeout, base.log).pid;
    const pb = b.authModule(base.settings.authent_process!, base.settings.authent_timeout, base.log).pid;
    expect(pa).toBeGreaterThan(0);
    expect(pb).toBeGreaterThan(0);
    expect(pa).not.toBe(pb);
    await a.closeAuth();
    await b.closeAuth();
  });
});
