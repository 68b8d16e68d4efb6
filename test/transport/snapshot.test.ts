// The start-up snapshot of the per-connection servers (src/snapshot.cjs, src/startup.ts): bin/imapd runs
// dist/imapd.blob only when its stamp says this node built it from this bundle and nothing changed since,
// and otherwise the plain bundle — a blob node would crash on (damaged, from another node, stale), an
// untrusted one, or NODE_OPTIONS (V8 options must be the build's) never stops a connection from being
// served. Built here once from a copy of the real bundle, in a tree of its own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inetdConnect } from '../helpers/inetd.js';
import { makeSite, removeSite, ROOT, type Site } from '../helpers/site.js';

const { startScript } = createRequire(import.meta.url)(join(ROOT, 'src/snapshot.cjs')) as { startScript: (name: string, dist: string) => string };

let tree: string;
let dist: string;
let site: Site;
let blob: string;
let stamp: string;
let start: string;
const isRoot = process.getuid?.() === 0;

/** Build (or rebuild) the blob of the copy with the shipped tool, as npm run build and postinst do. */
function buildBlob(): void {
  const r = spawnSync(process.execPath, [join(dist, 'snapshot.cjs'), 'imapd'], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
}

/** Put the built blob, its stamp and the bundle back exactly (content, mode, owner, mtime: the identity
 *  the stamp records), instead of building again. */
let saved: { file: string; data: Buffer; mtime: Date; mode: number; uid: number; gid: number }[] = [];
function save(): void {
  saved = [blob, stamp, join(dist, 'imapd.cjs')].map((file) => {
    const st = statSync(file);
    return { file, data: readFileSync(file), mtime: st.mtime, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  });
}
function restore(): void {
  for (const f of saved) {
    writeFileSync(f.file, f.data);
    chmodSync(f.file, f.mode);
    if (isRoot) chownSync(f.file, f.uid, f.gid);
    utimesSync(f.file, f.mtime, f.mtime);
  }
}

/** One connection through bin/imapd: the greeting, LOGOUT, and how node was started (its command line). */
async function session(env: Record<string, string> = {}, bin = join(tree, 'bin', 'imapd')): Promise<{ snapshot: boolean }> {
  const c = await inetdConnect(bin, ['-i', site.conf], env);
  try {
    expect(await c.line()).toMatch(/^\* OK \[CAPABILITY IMAP4rev1 /);
    // The start script exec's node: same pid, node's own command line.
    const cmdline = readFileSync(`/proc/${c.child.pid}/cmdline`, 'utf8').split('\0');
    c.send('a LOGOUT\r\n');
    const lines = await c.until('a ');
    expect(lines.at(-1)).toBe('a OK LOGOUT completed');
    expect(await c.exited()).toBe(0);
    expect(c.stderr()).toBe('');
    const snapshot = cmdline.includes('--snapshot-blob');
    expect(cmdline).toContain(join(dist, snapshot ? 'imapd.cjs' : 'imapd-launch.cjs'));
    return { snapshot };
  } finally {
    c.close();
  }
}

beforeAll(() => {
  tree = mkdtempSync(join(tmpdir(), 'dmail-snap-'));
  chmodSync(tree, 0o755);
  dist = join(tree, 'dist');
  spawnSync('mkdir', ['-p', dist, join(tree, 'bin')]);
  for (const f of ['imapd.cjs', 'imapd-launch.cjs', 'snapshot.cjs']) copyFileSync(join(ROOT, 'dist', f), join(dist, f));
  // The bundle requires its native modules from node_modules beside dist/, as in a checkout.
  symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
  writeFileSync(join(dist, 'imapd-start.cjs'), startScript('imapd', dist), { mode: 0o755 });
  symlinkSync('../dist/imapd-start.cjs', join(tree, 'bin', 'imapd'));
  blob = join(dist, 'imapd.blob');
  stamp = `${blob}.stamp`;
  start = join(dist, 'imapd-start.cjs');
  buildBlob();
  save();
  site = makeSite();
  chmodSync(site.dir, 0o755);
}, 60_000);

afterAll(() => {
  if (site) removeSite(site.dir);
  if (tree) rmSync(tree, { recursive: true, force: true });
});

describe('start-up snapshot', () => {
  it('is built readable by everyone, and bin/imapd serves from it', async () => {
    expect(statSync(blob).mode & 0o777).toBe(0o644);
    expect(statSync(stamp).mode & 0o777).toBe(0o644);
    expect((await session()).snapshot).toBe(true);
  });

  it('a damaged blob (node would crash on it) is not used: the plain bundle serves', async () => {
    const good = readFileSync(blob);
    const bad = Buffer.from(good);
    for (let i = 4096; i < bad.length; i += 65_536) bad[i] ^= 0xff;
    writeFileSync(blob, bad);
    // What the check prevents: node itself dies on this blob before serving anything.
    const raw = spawnSync(process.execPath, ['--snapshot-blob', blob, join(dist, 'imapd.cjs'), '--help'], { encoding: 'utf8' });
    expect(raw.status === 0 && raw.signal === null).toBe(false);
    expect((await session()).snapshot).toBe(false);
    // A truncated one likewise.
    writeFileSync(blob, good.subarray(0, 100_000));
    expect((await session()).snapshot).toBe(false);
    restore();
    expect((await session()).snapshot).toBe(true);
  });

  it('a blob built by another node binary, or from another bundle, is not used', async () => {
    const want = readFileSync(stamp, 'utf8');
    const [node, bundle, b] = want.trim().split(' ');
    writeFileSync(stamp, `${node}0 ${bundle} ${b}\n`);
    expect((await session()).snapshot).toBe(false);
    writeFileSync(stamp, want);
    expect((await session()).snapshot).toBe(true);
    // The bundle rebuilt (here: touched) after the blob: its code is no longer the blob's.
    const later = new Date(Date.now() + 5000);
    utimesSync(join(dist, 'imapd.cjs'), later, later);
    expect((await session()).snapshot).toBe(false);
    restore();
    expect((await session()).snapshot).toBe(true);
  });

  it('a blob or stamp others may write is not trusted', async () => {
    chmodSync(blob, 0o664);
    expect((await session()).snapshot).toBe(false);
    chmodSync(blob, 0o644);
    chmodSync(stamp, 0o646);
    expect((await session()).snapshot).toBe(false);
    chmodSync(stamp, 0o644);
    expect((await session()).snapshot).toBe(true);
  });

  it.skipIf(!isRoot)('a blob not owned by the owner of dist/ is not trusted; other users run from it', async () => {
    const nobody = 65534;
    chownSync(blob, nobody, nobody);
    expect((await session()).snapshot).toBe(false);
    chownSync(blob, 0, 0);
    restore();
    // Another user (tests, dmailctl, a launcher without root) may read and use it.
    const r = spawnSync(start, ['--help'], { uid: nobody, gid: nobody, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^usage: imapd /);
    const trace = spawnSync('sh', ['-x', start, '--help'], { uid: nobody, gid: nobody, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    expect(trace.stderr).toContain(`--snapshot-blob ${blob}`);
  });

  it('NODE_OPTIONS (V8 options differing from the build\'s make node refuse a blob) means the plain bundle', async () => {
    expect((await session({ NODE_OPTIONS: '--max-old-space-size=200' })).snapshot).toBe(false);
  });

  it('no stamp (a build in progress or failed): the plain bundle', async () => {
    rmSync(stamp);
    expect((await session()).snapshot).toBe(false);
    restore();
    expect(existsSync(stamp)).toBe(true);
    expect((await session()).snapshot).toBe(true);
  });

  it('the start script is also CommonJS: node runs it (child_process.fork of bin/imapd) as the plain bundle', () => {
    const r = spawnSync(process.execPath, [join(tree, 'bin', 'imapd'), '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^usage: imapd /);
  });

  it('a moved tree finds its own dist/', async () => {
    const moved = `${tree}-moved`;
    spawnSync('mv', [tree, moved]);
    try {
      // Same inodes: the stamp still matches, and the blob runs with the moved bundle.
      const c = await inetdConnect(join(moved, 'bin', 'imapd'), ['-i', site.conf]);
      try {
        expect(await c.line()).toMatch(/^\* OK /);
        const cmdline = readFileSync(`/proc/${c.child.pid}/cmdline`, 'utf8').split('\0');
        expect(cmdline).toContain('--snapshot-blob');
        expect(cmdline).toContain(join(moved, 'dist', 'imapd.cjs'));
        c.send('a LOGOUT\r\n');
        expect((await c.until('a ')).at(-1)).toBe('a OK LOGOUT completed');
      } finally {
        c.close();
      }
    } finally {
      spawnSync('mv', [moved, tree]);
    }
  });
});
