// dmailctl path / spool detect through the real built binary.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, makeSite, type Site, removeSite } from '../helpers/site.js';

let site: Site;
beforeAll(() => {
  site = makeSite({ hash_spool: 1 });
  site.addUser('alice', { pass: 'pw' });
});
afterAll(() => { removeSite(site.dir); });

const run = (...args: string[]) => spawnSync(BIN.dmailctl, args, { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });

describe('dmailctl path', () => {
  it('prints the drop file the auth module returns, the folders and the index dir', () => {
    const r = run('path', '-i', site.conf, 'alice');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`inbox:   ${join(site.spool, 'alice')}\n`);
    expect(r.stdout).toContain(`folders: ${join(site.spool, 'alice')}.mbx\n`);
    expect(r.stdout).toContain(`index:   ${join(site.spool, 'alice')}.mbx/.imapd-index\n`);
  });
  it('computes the hashed path from the name for a user the module does not know', () => {
    const r = run('path', '-i', site.conf, 'Nobody');
    expect(r.stdout).toContain(`inbox:   ${join(site.spool, 'n', 'Nobody')}\n`);
    expect(r.stderr).toContain('computing the path');
  });
});

describe('dmailctl spool detect', () => {
  it('reports the scheme and level an existing spool follows', () => {
    const dir = join(site.dir, 'hashed');
    for (const n of ['test', 'bob', 'carol', 'a.b']) {
      const d = n === 'a.b' ? join(dir, 'a', '_') : join(dir, n[0]!, n[1]!);
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, n), '');
    }
    mkdirSync(join(dir, 't', 'e', 'test.mbx'));
    writeFileSync(join(dir, 't', 'e', 'test.lock'), '');
    const r = run('spool', 'detect', dir);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('4 drop files');
    expect(r.stdout).toContain('best: hash_spool 2, hash_scheme chars (4/4 files)');
    const j = JSON.parse(run('spool', 'detect', '--json', dir).stdout) as { best: { level: number } };
    expect(j.best.level).toBe(2);
  });
  it('fails on an empty directory', () => {
    const dir = join(site.dir, 'empty');
    mkdirSync(dir);
    expect(run('spool', 'detect', dir).status).toBe(1);
  });
});
