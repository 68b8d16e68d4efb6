// The one helper for temporary files (issue 13, hole 1): random names, O_EXCL|O_NOFOLLOW, a directory
// checked through its descriptor. Run as root with a directory another (real) user controls.
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replaceFile, replaceFileSync, UnsafePathError } from '../../src/store/safe-file.js';
import { cleanupTempDirs, tempDir } from '../auth/helpers.js';
import { createUser, isRoot, removeUsers, type SysUser } from '../auth/system-users.js';

describe('replaceFileSync', () => {
  let dir: string;
  beforeAll(() => { dir = tempDir('dmail-safe-'); });
  afterAll(() => cleanupTempDirs());

  it('replaces a file atomically, leaves no temporary file, keeps the mode', async () => {
    const d = join(dir, 'ok');
    replaceFileSync(d, 'list', 'one\n', { mkdirMode: 0o700 });
    replaceFileSync(d, 'list', 'two\n', { mode: 0o640 });
    await replaceFile(d, 'other', Buffer.from('three\n'), { mtime: new Date(1_000_000_000_000) });
    expect(readFileSync(join(d, 'list'), 'utf8')).toBe('two\n');
    expect(statSync(join(d, 'list')).mode & 0o777).toBe(0o640);
    expect(statSync(join(d, 'other')).mtimeMs).toBe(1_000_000_000_000);
    expect(readdirSync(d).sort()).toEqual(['list', 'other']);
  });

  it('refuses a directory that is a symlink or writable by others', async () => {
    const real = join(dir, 'real');
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, join(dir, 'link'));
    expect(() => replaceFileSync(join(dir, 'link'), 'x', 'x')).toThrow(UnsafePathError);
    await expect(replaceFile(join(dir, 'link'), 'x', 'x')).rejects.toThrow(UnsafePathError);
    chmodSync(real, 0o777);
    expect(() => replaceFileSync(real, 'x', 'x')).toThrow(/writable by group or others/);
    expect(readdirSync(real)).toEqual([]);
  });

  it('a symlink planted at the final name is replaced, never written through', () => {
    const d = join(dir, 'plant');
    mkdirSync(d, { mode: 0o700 });
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious\n');
    symlinkSync(victim, join(d, 'list'));
    replaceFileSync(d, 'list', 'new\n');
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(readFileSync(join(d, 'list'), 'utf8')).toBe('new\n');
  });
});

describe.skipIf(!isRoot)('replaceFileSync as root in a directory of a real user', () => {
  let u: SysUser;
  let dir: string;
  beforeAll(() => {
    u = createUser('dmsf', 'x pass', 'SHA512');
    dir = tempDir('dmail-safe-root-');
    chmodSync(dir, 0o755);
  });
  afterAll(() => { removeUsers(); cleanupTempDirs(); });

  it('root writes into a user\'s directory only through its descriptor, and only where it is expected', () => {
    const d = join(dir, 'users');
    mkdirSync(d, { mode: 0o755 });
    chownSync(d, u.uid, u.gid);
    expect(() => replaceFileSync(d, 'rec', 'x', { owners: [0] })).toThrow(/owned by uid/);
    expect(readdirSync(d)).toEqual([]);
    chmodSync(d, 0o775);
    expect(() => replaceFileSync(d, 'rec', 'x')).toThrow(/writable by group/);
    chmodSync(d, 0o755);
    replaceFileSync(d, 'rec', 'x', { owners: [u.uid], chown: { uid: u.uid, gid: u.gid } });
    expect(statSync(join(d, 'rec')).uid).toBe(u.uid);
    expect(existsSync(join(d, 'rec'))).toBe(true);
  });
});
