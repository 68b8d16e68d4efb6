// The one-POP3-session-per-maildrop lock: real files, real flock(), a real second process holding it,
// and kill -9 releasing it.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockMaildrop, MAILDROP_LOCK_NAME } from '../../src/pop3/maildrop-lock.js';
import { ROOT } from '../helpers/site.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

describe('maildrop lock', () => {
  it('refuses a second holder in the same process until released, creating the directory', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'pop3-lock-')), 'a/b');
    dirs.push(join(dir, '../..'));
    const first = await lockMaildrop(dir);
    expect(first.ok).toBe(true);
    const second = await lockMaildrop(dir);
    expect(second).toMatchObject({ ok: false, inUse: true });
    if (first.ok) await first.lock.release();
    const third = await lockMaildrop(dir);
    expect(third.ok).toBe(true);
    if (third.ok) await third.lock.release();
  });

  it('is held by another process and freed when that process is killed with -9', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pop3-lock-'));
    dirs.push(dir);
    const script = `const f=require('fs-ext');const fs=require('fs');const fd=fs.openSync(${JSON.stringify(join(dir, MAILDROP_LOCK_NAME))},'a');f.flockSync(fd,'exnb');console.log('locked');setInterval(()=>{},1000);`;
    const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    try {
      expect(await lockMaildrop(dir)).toMatchObject({ ok: false, inUse: true });
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    const after = await lockMaildrop(dir);
    expect(after.ok).toBe(true);
    if (after.ok) await after.lock.release();
  });

  it('reports an unusable index directory as a non-IN-USE failure', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pop3-lock-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'file'), '');
    const res = await lockMaildrop(join(dir, 'file/sub'));
    expect(res).toMatchObject({ ok: false, inUse: false });
  });
});
