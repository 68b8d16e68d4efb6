// DELETE and RENAME of a folder that another session (a real second process) has open are never refused
// (issue 11 point 4; DMail's [INUSE] is gone): nothing is lost, a renamed folder keeps its UIDs and
// UIDVALIDITY, and the other session's handle finds its mailbox gone (refresh: NONEXISTENT) — the IMAP
// session then says BYE. Both backends. Needs the backends' refresh() NONEXISTENT (issue 11 store work).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/site.js';
import { buildWorker } from './worker-build.js';
import { tempUser, type TempUser } from './helpers.js';
import { storeAt, tempDir } from '../maildir/fixture.js';
import type { MailStore } from '../../src/store/types.js';

let workDir: string;
let worker: string;
const kids: ChildProcess[] = [];
const cleanups: (() => void)[] = [];
beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'store-elsewhere-'));
  worker = await buildWorker('folder-worker', workDir);
});
afterAll(() => { rmSync(workDir, { recursive: true, force: true }); });
afterEach(() => {
  for (const k of kids.splice(0)) k.kill('SIGKILL');
  for (const f of cleanups.splice(0)) f();
});

interface Other {
  messages: number;
  uidValidity: number;
  ask(line: string): Promise<string>;
  close(): Promise<number | null>;
}

/** Another session (process) with `folder` open. */
function openElsewhere(kind: 'mbox' | 'maildir', where: string, folder: string): Promise<Other> {
  const p = spawn(process.execPath, [worker, kind, where, folder], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules') } });
  kids.push(p);
  let buf = '';
  let err = '';
  const waiting: ((l: string) => void)[] = [];
  p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  p.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      waiting.shift()?.(l);
    }
  });
  const exit = new Promise<number | null>((r) => p.once('exit', (c) => { for (const w of waiting.splice(0)) w(`exited ${c}: ${err}`); r(c); }));
  const next = () => new Promise<string>((r) => waiting.push(r));
  return next().then((first) => {
    const m = /^ready (\d+) (\d+)$/.exec(first);
    if (!m) throw new Error(`worker: ${first} ${err}`);
    return {
      messages: Number(m[1]), uidValidity: Number(m[2]),
      ask(line) { const r = next(); p.stdin!.write(line + '\n'); return r; },
      close() { p.stdin!.end(); return exit; },
    };
  });
}

const msg = (i: number) => Buffer.from(`Subject: f${i}\r\nMessage-ID: <f-${i}@x>\r\n\r\nfolder mail ${i}\r\n`);

describe.each(['mbox', 'maildir'] as const)('%s: folders open in another session', (kind) => {
  function setup(): { store(): MailStore; where: string; user?: TempUser } {
    if (kind === 'mbox') {
      const u = tempUser();
      cleanups.push(() => u.cleanup());
      return { store: () => u.store(), where: u.spool, user: u };
    }
    const root = tempDir();
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    return { store: () => storeAt(root), where: root };
  }

  it('DELETE succeeds; the other handle finds its mailbox gone; a new folder of that name is a new mailbox', async () => {
    const t = setup();
    const s = t.store();
    await s.create('Work');
    await s.append('Work', msg(1));
    await s.append('Work', msg(2));
    const other = await openElsewhere(kind, t.where, 'Work');
    expect(other.messages).toBe(2);
    await s.delete('Work');
    expect((await s.list()).map((f) => f.name)).not.toContain('Work');
    expect(await other.ask('refresh')).toBe('refresh NONEXISTENT');
    expect(await other.close()).toBe(0);
    await s.create('Work');
    const st = await s.status('Work');
    expect(st.messages).toBe(0);
    expect(st.uidValidity).toBeGreaterThan(other.uidValidity);
  });

  it('RENAME succeeds and keeps messages, UIDs and UIDVALIDITY; the other handle finds its mailbox gone', async () => {
    const t = setup();
    const s = t.store();
    await s.create('Work');
    for (let i = 1; i <= 3; i++) await s.append('Work', msg(i));
    const other = await openElsewhere(kind, t.where, 'Work');
    await s.rename('Work', 'Play');
    expect(await other.ask('refresh')).toBe('refresh NONEXISTENT');
    expect(await other.close()).toBe(0);
    const st = await s.status('Play');
    expect(st.uidValidity).toBe(other.uidValidity);
    const box = await s.open('Play');
    expect(box.state.messages.map((m) => m.uid)).toEqual([1, 2, 3]);
    for (let i = 1; i <= 3; i++) expect((await box.read(i)).toString()).toBe(msg(i).toString());
    await box.close();
    expect((await s.list()).map((f) => f.name)).not.toContain('Work');
  });

  it('RENAME of a directory holding a folder open elsewhere', async () => {
    const t = setup();
    const s = t.store();
    await s.create('Box/Inner');
    await s.append('Box/Inner', msg(1));
    const other = await openElsewhere(kind, t.where, 'Box/Inner');
    await s.rename('Box', 'Crate');
    expect(await other.ask('refresh')).toBe('refresh NONEXISTENT');
    expect(await other.close()).toBe(0);
    expect((await s.list()).map((f) => f.name)).toEqual(expect.arrayContaining(['Crate', 'Crate/Inner']));
    expect((await s.status('Crate/Inner')).messages).toBe(1);
    expect((await s.status('Crate/Inner')).uidValidity).toBe(other.uidValidity);
  });

  it('a session deletes the folder it has open itself; closing the dead handle harms nothing', async () => {
    const t = setup();
    const s = t.store();
    await s.create('Mine');
    await s.create('Other');
    await s.append('Other', msg(1));
    const box = await s.open('Mine');
    await s.delete('Mine');
    await box.close();
    expect((await s.list()).map((f) => f.name)).not.toContain('Mine');
    expect((await s.status('Other')).messages).toBe(1);
  });
});

describe('mbox: renaming keeps index files in step', () => {
  it('moves the index files of a folder and of every folder under a renamed directory', async () => {
    const u = tempUser();
    cleanups.push(() => u.cleanup());
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
    const uvA = (await s.status('Top/a')).uidValidity;
    const uvB = (await s.status('Top/Sub/b')).uidValidity;
    await s.rename('Top', 'Moved');
    await s.rename('Solo', 'Moved/Solo2');
    const idx = readdirSync(u.paths.indexDir);
    expect(idx.filter((n) => n.includes('Top') || n.startsWith('F.Solo.'))).toEqual([]);
    expect(idx).toEqual(expect.arrayContaining(['F.Moved%2Fa.idx', 'F.Moved%2FSub%2Fb.idx', 'F.Moved%2FSolo2.idx']));
    expect((await s.status('Moved/a')).uidValidity).toBe(uvA);
    expect((await s.status('Moved/Sub/b')).uidValidity).toBe(uvB);
    const box = await s.open('Moved/Sub/b');
    expect(box.state.messages.map((m) => m.uid)).toEqual([1, 2]);
    await box.close();
    // A new folder under the old name starts clean, with a new UIDVALIDITY.
    await s.create('Top/a');
    expect((await s.status('Top/a')).messages).toBe(0);
    expect((await s.status('Top/a')).uidValidity).toBeGreaterThan(Math.max(uvA, uvB));
    expect(existsSync(join(u.paths.indexDir, 'F.Top%2Fa.journal'))).toBe(false);
  });

  it('RENAME INBOX: the new folder gets its own UIDVALIDITY (never INBOX\'s), INBOX is left empty', async () => {
    const u = tempUser();
    cleanups.push(() => u.cleanup());
    const s = u.store();
    for (let i = 1; i <= 3; i++) u.deliver(`Subject: m${i}\n\nbody ${i}\n`);
    const inbox = await s.open('INBOX');
    await inbox.setFlags([1], 'add', ['\\Seen']); // stamps X-IMAPbase with INBOX's UIDVALIDITY into the spool
    const inboxUv = inbox.state.uidValidity;
    await inbox.close();
    await s.rename('INBOX', 'Old');
    const old = await s.status('Old');
    expect(old.messages).toBe(3);
    expect(old.uidValidity).not.toBe(inboxUv);
    expect((await s.status('INBOX')).messages).toBe(0);
    // Again after deleting Old: the name never sees a UIDVALIDITY twice.
    u.deliver('Subject: m4\n\nbody 4\n');
    await s.delete('Old');
    await s.rename('INBOX', 'Old');
    const again = await s.status('Old');
    expect(again.messages).toBe(1);
    expect(again.uidValidity).toBeGreaterThan(old.uidValidity);
  });
});
