// Reads take only a shared fcntl lock (no dot-lock), held for a burst of reads and dropped as soon as
// the event loop turns without one; the spool's stamp is checked under it. Other processes' locks are
// real fcntl locks taken by a python3 child (fcntl.lockf is F_SETLK/F_SETLKW).
import { describe, it, expect, afterEach } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync, unlinkSync, existsSync } from 'node:fs';
import { StoreError } from '../../src/store/types.js';
import { tempUser, type TempUser } from './helpers.js';

const users: TempUser[] = [];
const kids: ChildProcess[] = [];
afterEach(() => {
  for (const k of kids.splice(0)) k.kill('SIGKILL');
  for (const u of users.splice(0)) u.cleanup();
});

const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');
const text = (i: number) => `Subject: m${i}\nMessage-ID: <r-${i}@x>\n\nbody ${i}\n`;

function user(n: number): TempUser {
  const u = tempUser({ lock_timeout: 1 });
  users.push(u);
  for (let i = 0; i < n; i++) u.deliver(text(i));
  return u;
}

/** A python3 child holding an fcntl lock on `path` ('ex' write, 'sh' read) until killed. */
function holdFcntl(path: string, kind: 'ex' | 'sh'): Promise<ChildProcess> {
  const mode = kind === 'ex' ? 'r+b' : 'rb';
  const op = kind === 'ex' ? 'fcntl.LOCK_EX' : 'fcntl.LOCK_SH';
  const p = spawn('python3', ['-c', `import fcntl,sys,time\nf=open(${JSON.stringify(path)},'${mode}')\nfcntl.lockf(f,${op})\nprint('locked',flush=True)\ntime.sleep(60)`], { stdio: ['ignore', 'pipe', 'inherit'] });
  kids.push(p);
  return new Promise((resolve, reject) => {
    p.stdout!.once('data', () => resolve(p));
    p.once('exit', (c) => reject(new Error(`python exited ${c}`)));
  });
}

/** Can another process take a write lock right now (non-blocking)? */
function canWriteLock(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const p = spawn('python3', ['-c', `import fcntl\nf=open(${JSON.stringify(path)},'r+b')\ntry:\n  fcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB)\n  print('yes')\nexcept OSError:\n  print('no')`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('exit', () => resolve(out.trim() === 'yes'));
  });
}

const turns = async (n: number) => { for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r)); };

describe('read locks', () => {
  it('reads while an MDA holds only the dot-lock: readers take no dot-lock', async () => {
    const u = user(3);
    const box = await u.store().open('INBOX');
    // A live dot-lock (ours would be broken at once if its owner were dead: name a live process).
    writeFileSync(u.paths.inbox + '.lock', `${process.ppid} other-host\n`);
    try {
      for (const m of box.state.messages) {
        expect((await box.read(m.uid)).toString('latin1')).toBe(crlf(text(m.uid - 1)));
      }
      const st = await u.store().status('INBOX');
      expect(st.messages).toBe(3);
    } finally {
      unlinkSync(u.paths.inbox + '.lock');
    }
    await box.close();
  });

  it('waits for (and times out on) another process\'s fcntl write lock', async () => {
    const u = user(2);
    const box = await u.store().open('INBOX');
    const p = await holdFcntl(u.paths.inbox, 'ex');
    const err = await box.read(1).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('UNAVAILABLE');
    p.kill('SIGKILL');
    await new Promise((r) => p.once('exit', r));
    expect((await box.read(1)).toString('latin1')).toBe(crlf(text(0)));
    await box.close();
  });

  it('shares the spool with another reader\'s fcntl read lock', async () => {
    const u = user(2);
    const box = await u.store().open('INBOX');
    await holdFcntl(u.paths.inbox, 'sh');
    expect((await box.read(2)).toString('latin1')).toBe(crlf(text(1)));
    await box.close();
  });

  it('holds the read lock for a burst only, never across an idle turn', async () => {
    const u = user(5);
    const box = await u.store().open('INBOX');
    const reads = box.state.messages.map((m) => box.read(m.uid));
    await Promise.all(reads);
    // Held right after the burst (the process is busy) ...
    expect(canWriteLockSync(u.paths.inbox)).toBe(false);
    // ... and gone once the event loop has turned without a read (a session waiting for its client).
    await turns(3);
    expect(await canWriteLock(u.paths.inbox)).toBe(true);
    await box.close();
  });

  it('detects a rewrite by another session between refresh and read (offsets from the index)', async () => {
    const u = user(4);
    const a = await u.store().open('INBOX');
    expect((await a.read(4)).toString('latin1')).toBe(crlf(text(3)));
    const b = await u.store().open('INBOX');
    await b.expunge([1, 2]);
    await b.close();
    await turns(3);
    // `a` has not refreshed: it still lists UIDs 1-4, but the spool moved under it.
    expect(a.state.messages.map((m) => m.uid)).toEqual([1, 2, 3, 4]);
    expect((await a.read(4)).toString('latin1')).toBe(crlf(text(3)));
    expect((await a.read(3)).toString('latin1')).toBe(crlf(text(2)));
    // Deferred removal: `a` was never told of the expunge, so it still reads the original bytes...
    expect((await a.read(1)).toString('latin1')).toBe(crlf(text(0)));
    // ...until it acknowledges a state without them.
    a.acknowledge(await a.refresh());
    const gone = await a.read(1).then(() => null, (e: unknown) => e);
    expect((gone as StoreError).code).toBe('NONEXISTENT');
    expect(existsSync(u.paths.inbox + '.lock')).toBe(false);
    await a.close();
  });
});

/** canWriteLock without letting our event loop turn: spawnSync. */
function canWriteLockSync(path: string): boolean {
  const r = spawnSync('python3', ['-c', `import fcntl\nf=open(${JSON.stringify(path)},'r+b')\ntry:\n  fcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB)\n  print('yes')\nexcept OSError:\n  print('no')`], { encoding: 'latin1' });
  return r.stdout.trim() === 'yes';
}
