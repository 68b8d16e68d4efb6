// The bin/ launcher (src/launcher.cjs): runs a bundle through a V8 code cache beside it, and treats a
// missing, corrupt, stale or untrusted cache as absent. Run on a copy of the real dmailctl bundle.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/site.js';
import { cleanEnv } from '../helpers/inetd.js';

const dir = mkdtempSync(join(tmpdir(), 'dmail-launch-'));
const bundle = join(dir, 'tool.cjs');
const launch = join(dir, 'tool-launch.cjs');
const cache = `${bundle}.v8cache`;
const conf = join(dir, 'dmail.conf');

beforeAll(() => {
  copyFileSync(join(ROOT, 'dist/dmailctl.cjs'), bundle);
  writeFileSync(launch, readFileSync(join(ROOT, 'src/launcher.cjs')));
  writeFileSync(conf, 'log_level debug\nbogus 1\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function check() {
  const r = spawnSync(process.execPath, [launch, 'config', 'check', '-i', conf], { encoding: 'utf8', env: cleanEnv() });
  expect(r.stderr).toContain('warning: ');
  expect(r.stderr).toContain('1 file(s) read as dpop: 1 warning(s), 0 error(s)');
  expect(r.status).toBe(0);
}

describe('launcher code cache', () => {
  it('runs the bundle and writes a cache on the first run, then uses it as is', () => {
    rmSync(cache, { force: true });
    check();
    expect(existsSync(cache)).toBe(true);
    expect(statSync(cache).mode & 0o777).toBe(0o644);
    const first = readFileSync(cache);
    const mtime = statSync(cache).mtimeMs;
    check();
    expect(statSync(cache).mtimeMs).toBe(mtime); // accepted: not rewritten
    expect(readFileSync(cache).equals(first)).toBe(true);
  });

  it('a corrupt cache is rejected by V8, the bundle still runs, and the cache is rewritten', () => {
    writeFileSync(cache, Buffer.alloc(4096, 7), { mode: 0o644 });
    check();
    expect(readFileSync(cache).equals(Buffer.alloc(4096, 7))).toBe(false);
  });

  it('a cache writable by others is not trusted, and is replaced by a private one', () => {
    check();
    chmodSync(cache, 0o666);
    check();
    expect(statSync(cache).mode & 0o777).toBe(0o644);
  });

  it('a cache older than the bundle is ignored and rewritten', () => {
    check();
    const old = new Date(Date.now() - 3600_000);
    utimesSync(cache, old, old);
    check();
    expect(statSync(cache).mtimeMs).toBeGreaterThan(old.getTime() + 1000);
  });

  it('a missing bundle: a clear message and exit 1', () => {
    const lonely = join(dir, 'gone-launch.cjs');
    writeFileSync(lonely, readFileSync(join(ROOT, 'src/launcher.cjs')));
    const r = spawnSync(process.execPath, [lonely], { encoding: 'utf8', env: cleanEnv() });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`gone: cannot read ${join(dir, 'gone.cjs')} (ENOENT); run \`npm run build\`\n`);
  });
});
