// The bin/ launcher (src/launcher.cjs) and the V8 code cache src/build.mjs trains for each bundle: the
// launcher only reads the cache, uses it only when it is trusted (owner, mode, no symlink or extra link, a
// safe directory) and made for these very bytes, and otherwise runs the bundle as without one, logging the
// reason once at debug level. Run on a copy of the real built imapd (bundle, launcher, cache) in a private
// directory, over a real socket, as root, with a real unprivileged owner (nobody) where ownership matters.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import {
  appendFileSync, chmodSync, chownSync, copyFileSync, existsSync, linkSync, mkdtempSync, readFileSync, rmSync,
  statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { crc32 } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, makeSite, removeSite, simpleMessage, mbox, type Site } from '../helpers/site.js';
import { cleanEnv, inetdConnect } from '../helpers/inetd.js';

const NOBODY = 65534;
const dir = mkdtempSync(join(tmpdir(), 'dmail-launch-'));
const bundle = join(dir, 'imapd.cjs');
const launch = join(dir, 'imapd-launch.cjs');
const cache = `${bundle}.v8cache`;
const built = join(ROOT, 'dist/imapd.cjs.v8cache');
let site: Site;

interface Note { file: string; used: boolean; reason?: string }

/** What the launcher decides about the cache, in a fresh process (as a connection's process would). */
function note(): Note {
  const r = spawnSync(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(launch)}).compile(${JSON.stringify(bundle)}).note))`],
    { encoding: 'utf8', env: cleanEnv() });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as Note;
}

/** A real session through the copied launcher; returns the log lines about the code cache. */
async function session(): Promise<string[]> {
  const log = join(site.logs, 'imapd.log');
  rmSync(log, { force: true });
  const c = await inetdConnect(launch, ['-c', site.conf]);
  expect(await c.line()).toMatch(/^\* OK /);
  c.send('a LOGIN bob secret\r\n');
  expect((await c.until('a ')).pop()).toMatch(/^a OK/);
  c.send('b SELECT INBOX\r\n');
  expect(await c.until('b ')).toContain('* 3 EXISTS');
  c.send('c FETCH 1:* FLAGS\r\n');
  expect((await c.until('c ')).filter((l) => l.startsWith('* '))).toHaveLength(3);
  c.send('d LOGOUT\r\n');
  expect((await c.until('d ')).pop()).toMatch(/^d OK/);
  expect(await c.exited()).toBe(0);
  expect(c.stderr()).toBe('');
  return readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('code cache'));
}

const fresh = () => {
  rmSync(cache, { force: true });
  copyFileSync(built, cache);
  chmodSync(cache, 0o644);
};

beforeAll(() => {
  copyFileSync(join(ROOT, 'dist/imapd.cjs'), bundle);
  copyFileSync(join(ROOT, 'dist/imapd-launch.cjs'), launch);
  chmodSync(launch, 0o755);
  site = makeSite();
  site.addUser('bob', { pass: 'secret' });
  writeFileSync(site.drop('bob'), mbox([1, 2, 3].map((i) => ({ text: simpleMessage(i) }))));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  removeSite(site.dir);
});
beforeEach(() => {
  chmodSync(dir, 0o700);
  chownSync(dir, 0, 0);
  fresh();
});

describe('launcher and build-time code cache', () => {
  it('the build trained a cache for every program that the launcher accepts', () => {
    for (const p of ['imapd', 'dpop', 'dmailctl']) {
      const r = spawnSync(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(join(ROOT, `dist/${p}-launch.cjs`))}).compile(${JSON.stringify(join(ROOT, `dist/${p}.cjs`))}).note))`],
        { encoding: 'utf8', env: cleanEnv() });
      expect(JSON.parse(r.stdout)).toEqual({ file: join(ROOT, `dist/${p}.cjs.v8cache`), used: true });
    }
  });

  it('a session runs from the trusted cache, logs nothing about it, and leaves it untouched', async () => {
    const before = readFileSync(cache);
    const mtime = statSync(cache).mtimeMs;
    expect(note()).toEqual({ file: cache, used: true });
    expect(await session()).toEqual([]);
    expect(readFileSync(cache).equals(before)).toBe(true);
    expect(statSync(cache).mtimeMs).toBe(mtime);
  });

  it('without a cache the session is the same, the reason is logged once at debug level, and no cache is written', async () => {
    rmSync(cache);
    const lines = await session();
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 20, reason: 'no cache file', msg: 'V8 code cache not used' });
    expect(existsSync(cache)).toBe(false);
  });

  it('a corrupted cache (one byte of the payload flipped) is rejected and the session still works', async () => {
    const data = readFileSync(cache);
    data[Math.floor(data.length / 2)]! ^= 0x5a;
    writeFileSync(cache, data);
    expect(note()).toMatchObject({ used: false, reason: 'damaged (checksum mismatch)' });
    const lines = await session();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('checksum mismatch');
  });

  it('a cache cut short, or of another format, is rejected', () => {
    writeFileSync(cache, readFileSync(built).subarray(0, 1000));
    expect(note()).toMatchObject({ used: false, reason: 'damaged (checksum mismatch)' });
    writeFileSync(cache, Buffer.alloc(4096, 7));
    expect(note()).toMatchObject({ used: false, reason: 'not a cache file of this format' });
    writeFileSync(cache, 'x');
    expect(note().reason).toMatch(/wrong size/);
  });

  it('a payload V8 itself refuses (right checksum, wrong data) falls back to compiling', async () => {
    const src = readFileSync(bundle);
    const payload = Buffer.alloc(8192, 3);
    const head = Buffer.alloc(20);
    head.write('DMAILV8\x02', 'latin1');
    head.writeUInt32LE(src.length, 8);
    head.writeUInt32LE(crc32(src), 12);
    head.writeUInt32LE(crc32(payload), 16);
    writeFileSync(cache, Buffer.concat([head, payload]));
    expect(note()).toMatchObject({ used: false, reason: 'rejected by V8 (another node or V8 flags?)' });
    expect((await session())[0]).toContain('rejected by V8');
  });

  it('a stale cache (the bundle changed since) is not used', async () => {
    const original = readFileSync(bundle);
    try {
      appendFileSync(bundle, '\n// changed\n');
      expect(note()).toMatchObject({ used: false, reason: 'stale (made for another bundle)' });
      writeFileSync(bundle, Buffer.from(original.toString('latin1').replace('DMail-compatible', 'DMail-Compatible'), 'latin1'));
      expect(note()).toMatchObject({ used: false, reason: 'stale (made for another bundle)' }); // same length
      expect(await session()).toHaveLength(1);
    } finally {
      writeFileSync(bundle, original);
    }
  });

  it('untrusted caches are ignored: writable by others, a symlink, a hard link, another owner', async () => {
    chmodSync(cache, 0o664);
    expect(note()).toMatchObject({ used: false, reason: 'the cache can be written by others' });
    chmodSync(cache, 0o646);
    expect(note()).toMatchObject({ used: false, reason: 'the cache can be written by others' });

    fresh();
    const real = join(dir, 'real.v8cache');
    copyFileSync(built, real);
    chmodSync(real, 0o644);
    rmSync(cache);
    symlinkSync(real, cache);
    expect(note()).toMatchObject({ used: false, reason: 'the cache is a symlink' });
    const lines = await session();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('symlink');

    rmSync(cache);
    linkSync(real, cache);
    expect(note()).toMatchObject({ used: false, reason: 'the cache has other hard links' });
    rmSync(real);

    fresh();
    chownSync(cache, NOBODY, NOBODY); // a real unprivileged user's file, beside root's bundle
    expect(note()).toMatchObject({ used: false, reason: `the cache belongs to uid ${NOBODY}` });
  });

  it('a cache in a directory others can write to is ignored; the bundle owner may own both', () => {
    chmodSync(dir, 0o777);
    expect(note()).toMatchObject({ used: false, reason: `untrusted directory: ${dir} can be written by others` });
    chmodSync(dir, 0o1777);
    expect(note()).toMatchObject({ used: false, reason: `untrusted directory: ${dir} can be written by others` });
    chmodSync(dir, 0o700);
    chownSync(dir, NOBODY, NOBODY);
    expect(note()).toMatchObject({ used: false, reason: `untrusted directory: ${dir} belongs to uid ${NOBODY}` });
    // An installation owned by an unprivileged user (bundle, cache and directory all theirs) is consistent.
    chownSync(bundle, NOBODY, NOBODY);
    chownSync(cache, NOBODY, NOBODY);
    try {
      expect(note()).toEqual({ file: cache, used: true });
    } finally {
      chownSync(bundle, 0, 0);
    }
  });

  it('a missing bundle: a clear message and exit 1', () => {
    const lonely = join(dir, 'gone-launch.cjs');
    writeFileSync(lonely, readFileSync(join(ROOT, 'src/launcher.cjs')));
    const r = spawnSync(process.execPath, [lonely], { encoding: 'utf8', env: cleanEnv() });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`gone: cannot read ${join(dir, 'gone.cjs')} (ENOENT); run \`npm run build\`\n`);
  });
});
