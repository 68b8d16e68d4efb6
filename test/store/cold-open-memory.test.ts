// The first open of a spool holding one 200 MB message must index it without holding it in memory:
// a child process (fresh heap, its own VmHWM) opens the store and reports its peak RSS growth.
import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { mkdtempSync, rmSync, openSync, writeSync, closeSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { build } from 'esbuild';
import { resolveMboxPaths } from '../../src/store/paths.js';
import { defaultSettings } from './helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let dir = '';
let script = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'store-coldmem-'));
  const entry = join(dir, 'open.ts');
  writeFileSync(entry, `
    import { readFileSync } from 'node:fs';
    import { MboxStore } from ${JSON.stringify(join(root, 'src/store/mbox/store.ts'))};
    import { resolveMboxPaths } from ${JSON.stringify(join(root, 'src/store/paths.ts'))};
    import { defaultSettings, quietLog } from ${JSON.stringify(join(root, 'test/store/helpers.ts'))};
    const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'latin1'))![1]);
    const settings = defaultSettings({ drop_path: process.argv[2]!, lock_timeout: 20 });
    const paths = resolveMboxPaths(settings, { login: 'bob', user: 'bob', dropName: 'bob', info: {} });
    const before = hwm();
    const box = await new MboxStore(paths, settings, quietLog).open('INBOX', { claimRecent: true });
    const after = hwm();
    const m = box.state.messages;
    process.stderr.write(JSON.stringify({ before, after, count: m.length, size: m[0]?.size ?? 0 }) + '\\n');
  `);
  script = join(dir, 'open.mjs');
  // Bundled like the real entry points; native modules stay external and load from the repo.
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile: script, external: ['fs-ext', 'posix', 'authenticate-pam', 'iconv-lite', 'pino'], logLevel: 'silent' });
});
afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

/** A drop file for bob holding one message with `lines` body lines of 999 bytes. */
function writeSpool(spool: string, lines: number): number {
  const path = resolveMboxPaths(defaultSettings({ drop_path: spool }), { login: 'bob', user: 'bob', dropName: 'bob', info: {} }).inbox;
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'w');
  const header = 'Subject: big\nFrom: a@example.com\nStatus: RO\nX-UID: 9\n\n';
  writeSync(fd, `From a@example.com Tue Jan  2 03:04:05 2024\n${header}`);
  const block = ('y' + 'x'.repeat(997) + '\n').repeat(1000);
  for (let i = 0; i < lines / 1000; i++) writeSync(fd, block);
  writeSync(fd, '\n');
  closeSync(fd);
  return 'Subject: big\r\nFrom: a@example.com\r\n\r\n'.length + lines * 1000;
}

function openInChild(spool: string): { before: number; after: number; count: number; size: number } {
  const r = spawnSync(process.execPath, [script, spool], { env: { ...process.env, NODE_PATH: join(root, 'node_modules') }, encoding: 'latin1', cwd: root });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stderr.trim().split('\n').pop()!);
}

describe('cold open of a big spool', () => {
  it('indexes a 200 MB message with peak RSS growth under 64 MB', () => {
    const spool = join(dir, 'spool');
    const size = writeSpool(spool, 200_000);
    const r = openInChild(spool);
    expect(r.count).toBe(1);
    expect(r.size).toBe(size);
    expect(r.after - r.before).toBeLessThan(64 * 1024);
    rmSync(spool, { recursive: true, force: true });
  });

  it('a 30 MB message needs only a small constant too', () => {
    const spool = join(dir, 'spool30');
    const size = writeSpool(spool, 30_000);
    const r = openInChild(spool);
    expect(r.size).toBe(size);
    expect(r.after - r.before).toBeLessThan(32 * 1024);
    rmSync(spool, { recursive: true, force: true });
  });
});
