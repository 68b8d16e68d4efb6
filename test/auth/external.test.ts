import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ExternalModule, parseReply, parseInfo } from '../../src/auth/external.js';
import { alive, cleanupTempDirs, memLogger, tempDir } from './helpers.js';

const BAD = fileURLToPath(new URL('./fixtures/bad-module.mjs', import.meta.url));

afterEach(cleanupTempDirs);

async function waitGone(pid: number): Promise<boolean> {
  // Generous: on a loaded two-core CI machine a kill and reap can take well over a second.
  for (let i = 0; i < 250; i++) { if (!alive(pid)) return true; await new Promise((r) => setTimeout(r, 20)); }
  return !alive(pid);
}

// The default authent_timeout here leaves room for a node child to start on a busy machine; tests of
// the timeout itself pass their own short value.
function moduleFor(mode: string, timeoutSec = 8) {
  const dir = tempDir();
  const pidFile = join(dir, 'pid');
  const log = memLogger();
  const mod = new ExternalModule(`${process.execPath} ${BAD} ${mode} ${pidFile}`, timeoutSec, log);
  const pid = () => Number(readFileSync(pidFile, 'utf8'));
  return { mod, pid, log, pidFile };
}

describe('reply parsing', () => {
  it('reads +OK with drop path, uid and quoted info', () => {
    expect(parseReply('+OK bob /var/mail/bob 1001 quota="100" fwd="x y"')).toEqual({ kind: 'ok', name: 'bob', dropPath: '/var/mail/bob', uid: 1001, info: { quota: '100', fwd: 'x y' }, data: [] });
    expect(parseReply('+OK bob /var/mail/bob')).toMatchObject({ kind: 'ok', uid: 0, info: {} });
    expect(parseReply('-ERR bob password wrong')).toEqual({ kind: 'err', reason: 'bob password wrong' });
    expect(parseReply('-DEAD')).toMatchObject({ kind: 'dead' });
    expect(parseReply('what?')).toBeUndefined();
    expect(parseInfo('a="1" B="two words" bad=unquoted')).toEqual({ a: '1', b: 'two words' });
  });
});

describe('external module child', () => {
  it('answers check through a sane module, then exits on exit', async () => {
    const { mod, pid } = moduleFor('good');
    expect(await mod.request('check bob right 1.2.3.4', 'check bob')).toMatchObject({ kind: 'ok', uid: 1234, info: { quota: '500', fwd: 'a b@c' } });
    expect(await mod.request('check bob wrong 1.2.3.4', 'check bob')).toMatchObject({ kind: 'err' });
    const p = pid();
    expect(alive(p)).toBe(true);
    await mod.close();
    expect(await waitGone(p)).toBe(true);
  });

  for (const mode of ['slow', 'crash', 'garbage', 'flood']) {
    it(`a ${mode} module gives a temporary failure quickly and leaves no child`, async () => {
      const { mod, pid, log } = moduleFor(mode, mode === 'slow' ? 3 : 8); // time to start even on a busy machine
      const t0 = Date.now();
      const r = await mod.request('check bob right 1.2.3.4', 'check bob');
      expect(r.kind).toBe('dead');
      expect(Date.now() - t0).toBeLessThan(12_000); // bounded by authent_timeout, not a hang
      expect(await waitGone(pid())).toBe(true);
      expect(log.text()).not.toContain('right');
      await mod.close();
    });
  }

  it('-DEAD is a temporary failure and the module stays up', async () => {
    const { mod, pid } = moduleFor('dead');
    expect(await mod.request('check bob right', 'check bob')).toEqual({ kind: 'dead', reason: 'database down' });
    expect(alive(pid())).toBe(true);
    await mod.close();
    expect(await waitGone(pid())).toBe(true);
  });

  it('a module that ignores exit is killed at close', async () => {
    const { mod, pid } = moduleFor('ignore-exit');
    expect((await mod.request('check bob right', 'check bob')).kind).toBe('ok');
    await mod.close();
    expect(await waitGone(pid())).toBe(true);
  });

  it('a missing program is a temporary failure, not a crash', async () => {
    const mod = new ExternalModule('/nonexistent/authd', 1, memLogger());
    expect((await mod.request('lookup bob', 'lookup bob')).kind).toBe('dead');
    await mod.close();
  });

  it('restarts a module after it was killed', async () => {
    const { mod, pidFile } = moduleFor('crash');
    expect((await mod.request('lookup a', 'lookup a')).kind).toBe('dead');
    expect(existsSync(pidFile)).toBe(true);
    expect((await mod.request('lookup a', 'lookup a')).kind).toBe('dead');
    await mod.close();
  });
});
