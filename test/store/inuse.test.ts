// DMail: "A folder that is selected in another session cannot be deleted" — nor renamed. Another
// session is a real second process; its lock goes when it closes the folder or dies (kill -9).
// Renaming also moves the index files of the folder and of every folder under a renamed directory.
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/site.js';
import { StoreError } from '../../src/store/types.js';
import { tempUser, type TempUser } from './helpers.js';
import { buildWorker } from './worker-build.js';

let workDir: string;
let worker: string;
const users: TempUser[] = [];
const kids: ChildProcess[] = [];

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'store-inuse-'));
  worker = await buildWorker('select-worker', workDir);
});
afterAll(() => { rmSync(workDir, { recursive: true, force: true }); });
afterEach(() => {
  for (const k of kids.splice(0)) k.kill('SIGKILL');
  for (const u of users.splice(0)) u.cleanup();
});

function user(): TempUser {
  const u = tempUser();
  users.push(u);
  return u;
}

/** Another session (process) with `folder` selected. */
function selectElsewhere(u: TempUser, folder: string): Promise<ChildProcess> {
  const p = spawn(process.execPath, [worker, u.spool, folder], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules') } });
  kids.push(p);
  return new Promise((resolve, reject) => {
    p.stdout!.once('data', (d: Buffer) => (d.toString().startsWith('ready') ? resolve(p) : reject(new Error(d.toString()))));
    p.once('exit', (c) => reject(new Error(`worker exited ${c}`)));
  });
}

const exited = (p: ChildProcess) => new Promise((r) => p.once('exit', r));
const code = (e: unknown) => (e instanceof StoreError ? e.code : String(e));
const msg = (i: number) => Buffer.from(`Subject: f${i}\r\nMessage-ID: <f-${i}@x>\r\n\r\nfolder mail ${i}\r\n`);

describe('folders in use', () => {
  it('cannot be deleted or renamed while another session has them open; can once it is gone', async () => {
    const u = user();
    const s = u.store();
    await s.create('Work');
    await s.append('Work', msg(1));
    const other = await selectElsewhere(u, 'Work');
    expect(code(await s.delete('Work').catch((e: unknown) => e))).toBe('INUSE');
    expect(code(await s.rename('Work', 'Play').catch((e: unknown) => e))).toBe('INUSE');
    expect((await s.list()).map((f) => f.name)).toContain('Work');
    // Still fully usable by both sessions.
    expect((await s.status('Work')).messages).toBe(1);
    other.kill('SIGKILL');
    await exited(other);
    await s.rename('Work', 'Play');
    await s.delete('Play');
    expect((await s.list()).map((f) => f.name)).toEqual(['INBOX']);
  });

  it('is released when the other session closes the folder', async () => {
    const u = user();
    const s = u.store();
    await s.create('Old');
    const other = await selectElsewhere(u, 'Old');
    expect(code(await s.delete('Old').catch((e: unknown) => e))).toBe('INUSE');
    other.stdin!.end();
    await exited(other);
    await s.delete('Old');
  });

  it('a directory cannot be renamed while a folder in it is selected elsewhere', async () => {
    const u = user();
    const s = u.store();
    await s.create('Box/Inner');
    const other = await selectElsewhere(u, 'Box/Inner');
    expect(code(await s.rename('Box', 'Crate').catch((e: unknown) => e))).toBe('INUSE');
    other.kill('SIGKILL');
    await exited(other);
    await s.rename('Box', 'Crate');
    expect((await s.list()).map((f) => f.name)).toEqual(['INBOX', 'Crate', 'Crate/Inner']);
  });

  it('the session that has a folder open may delete it itself; other sessions of this process count', async () => {
    const u = user();
    const s = u.store();
    await s.create('Mine');
    await s.create('Theirs');
    const box = await s.open('Mine');
    await s.delete('Mine');
    await box.close();
    const theirs = await u.store().open('Theirs');
    expect(code(await s.delete('Theirs').catch((e: unknown) => e))).toBe('INUSE');
    await theirs.close();
    await s.delete('Theirs');
  });
});

describe('renaming keeps index files in step', () => {
  it('moves the indexes of a folder and of every folder under a renamed directory', async () => {
    const u = user();
    const s = u.store();
    await s.create('Top/a');
    await s.create('Top/Sub/b');
    await s.create('Solo');
    for (const f of ['Top/a', 'Top/Sub/b', 'Solo']) {
      await s.append(f, msg(1));
      await s.append(f, msg(2));
      const b = await s.open(f);
      await b.close();
    }
    const before = (f: string) => s.status(f);
    const uvA = (await before('Top/a')).uidValidity;
    const uvB = (await before('Top/Sub/b')).uidValidity;
    await s.rename('Top', 'Moved');
    await s.rename('Solo', 'Moved/Solo2');
    // A name's change log (and live-handle directory) stays with the name: HIGHESTMODSEQ never goes
    // back for it, should a folder of that name be created again.
    const idx = readdirSync(u.paths.indexDir).filter((n) => !n.endsWith('.inuse') && !n.endsWith('.modlog') && !n.endsWith('.views'));
    expect(idx.filter((n) => n.includes('Top') || n.includes('Solo.') || n === 'F.Solo.idx')).toEqual([]);
    expect(idx).toEqual(expect.arrayContaining(['F.Moved%2Fa.idx', 'F.Moved%2FSub%2Fb.idx', 'F.Moved%2FSolo2.idx']));
    // The same mailboxes: UIDVALIDITY and UIDs kept.
    expect((await s.status('Moved/a')).uidValidity).toBe(uvA);
    expect((await s.status('Moved/Sub/b')).uidValidity).toBe(uvB);
    const box = await s.open('Moved/Sub/b');
    expect(box.state.messages.map((m) => m.uid)).toEqual([1, 2]);
    await box.close();
    // A new folder under the old name starts clean.
    await s.create('Top/a');
    expect((await s.status('Top/a')).messages).toBe(0);
    expect(existsSync(join(u.paths.indexDir, 'F.Top%2Fa.journal'))).toBe(false);
  });
});
