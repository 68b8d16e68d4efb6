// Live handles (src/store/views.ts): liveness is decided by fcntl locks held by real processes. A slot
// of a process killed with SIGKILL is found dead and removed; a live one keeps the minimum; a second
// handle in the same process never drops the first one's lock.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, basename } from 'node:path';
import { ROOT } from '../helpers/site.js';
import { buildWorker } from './worker-build.js';
import { openViewSlot, minAcknowledged } from '../../src/store/views.js';

let dir: string;
let worker: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'store-views-'));
  worker = await buildWorker('views-worker', dir);
});
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

const env = () => ({ PATH: process.env.PATH ?? '', NODE_PATH: join(ROOT, 'node_modules') });
let n = 0;
const viewsDir = () => join(dir, `box${++n}.views`);

/** A holder process: `ready <path>` first, then one reply line per command. */
class Holder {
  readonly child: ChildProcess;
  private buf = '';
  private waiters: ((l: string) => void)[] = [];
  private lines: string[] = [];
  constructor(vdir: string, modseq: number) {
    this.child = spawn(process.execPath, [worker, 'hold', vdir, String(modseq)], { env: env(), stdio: ['pipe', 'pipe', 'inherit'] });
    this.child.stdout!.on('data', (d: Buffer) => {
      this.buf += d.toString();
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const l = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const w = this.waiters.shift();
        if (w) w(l); else this.lines.push(l);
      }
    });
  }
  next(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((r) => this.waiters.push(r));
  }
  async ready(): Promise<string> {
    const l = await this.next();
    expect(l).toMatch(/^ready /);
    return l.slice(6);
  }
  async send(cmd: string): Promise<string> {
    this.child.stdin!.write(cmd + '\n');
    return this.next();
  }
  kill9(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((r) => { this.child.once('exit', () => r()); this.child.kill('SIGKILL'); });
  }
  end(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((r) => { this.child.once('exit', () => r()); this.child.stdin!.end(); });
  }
}

function scan(vdir: string): Promise<{ min: number | null; files: string[] }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [worker, 'scan', vdir], { env: env(), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    c.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as { min: number | null; files: string[] }) : reject(new Error(`scan exited ${code}`))));
  });
}

describe('view slots across processes', () => {
  it('a slot of a process killed with -9 is found dead and removed; a live one keeps the minimum', async () => {
    const vdir = viewsDir();
    const a = new Holder(vdir, 5);
    const b = new Holder(vdir, 9);
    const pa = await a.ready();
    const pb = await b.ready();
    try {
      expect(readFileSync(pa, 'latin1').trim()).toBe('5'.padStart(20, '0'));
      expect(await minAcknowledged(vdir)).toBe(5);
      // Scanning from here held the slots' locks for a moment: they must still be theirs.
      expect((await scan(vdir)).min).toBe(5);
      await a.kill9();
      // The dead process's file is still there until someone scans.
      expect(existsSync(pa)).toBe(true);
      expect(await minAcknowledged(vdir)).toBe(9);
      expect(existsSync(pa)).toBe(false);
      expect(readdirSync(vdir)).toEqual([basename(pb)]);
      await b.send('advance 20');
      expect(await minAcknowledged(vdir)).toBe(20);
      // Lowering is ignored: a handle's claim only ever moves forward.
      await b.send('advance 3');
      expect((await scan(vdir)).min).toBe(20);
      // A second slot in the holder process, then its close: the first keeps its lock and value.
      const opened = await b.send('open 12');
      expect(opened.split(' ')).toHaveLength(3);
      expect(await minAcknowledged(vdir)).toBe(12);
      await b.send('close 1');
      expect(await minAcknowledged(vdir)).toBe(20);
      expect((await scan(vdir)).files).toEqual([basename(pb)]);
    } finally {
      await a.kill9().catch(() => undefined);
      await b.end();
    }
    expect(await minAcknowledged(vdir)).toBe(Infinity);
  });

  it("this process's own slots are never opened by a scan, and closing one keeps the other's lock", async () => {
    const vdir = viewsDir();
    const s1 = await openViewSlot(vdir, 7);
    const s2 = await openViewSlot(vdir, 3);
    try {
      expect(await minAcknowledged(vdir)).toBe(3);
      s2.close();
      expect(existsSync(s2.path)).toBe(false);
      // Another process sees s1 alive (its lock survived s2's close and our own scans).
      expect(await minAcknowledged(vdir)).toBe(7);
      const seen = await scan(vdir);
      expect(seen).toEqual({ min: 7, files: [basename(s1.path)] });
      s1.advance(11);
      expect((await scan(vdir)).min).toBe(11);
      // A holder process's scan sees us too, and we see it.
      const h = new Holder(vdir, 4);
      await h.ready();
      expect(await minAcknowledged(vdir)).toBe(4);
      expect(await h.send('min')).toBe('min 4');
      await h.kill9();
      expect(await minAcknowledged(vdir)).toBe(11);
      expect((await scan(vdir)).files).toEqual([basename(s1.path)]);
    } finally {
      s1.close();
      s2.close();
    }
    expect((await scan(vdir)).min).toBeNull();
  });

  it('slots opened in this process while its own scans are in flight stay locked', async () => {
    const vdir = viewsDir();
    const first = await openViewSlot(vdir, 100);
    // Interleave: every open awaits fcntl, every scan awaits fcntl; none may test one of our own files.
    const opened = await Promise.all(Array.from({ length: 16 }, async (_x, i) => {
      const [slot] = await Promise.all([openViewSlot(vdir, 200 + i), minAcknowledged(vdir), minAcknowledged(vdir)]);
      return slot;
    }));
    try {
      const seen = await scan(vdir);
      expect(seen.min).toBe(100);
      expect(seen.files).toHaveLength(17);
      first.close();
      expect((await scan(vdir)).min).toBe(200);
    } finally {
      for (const x of opened) x.close();
    }
  });

  it('an opener sweeps out dead slots once there are many (crashed sessions on a mailbox without expunges)', async () => {
    const vdir = viewsDir();
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(vdir, { recursive: true });
    // Files nobody holds a lock on: what SIGKILLed sessions leave.
    for (let i = 0; i < 70; i++) writeFileSync(join(vdir, `otherhost.${1000 + i}.${'0'.repeat(15)}${i % 10}`), '00000000000000000001\n');
    const s = await openViewSlot(vdir, 5);
    try {
      expect(readdirSync(vdir)).toEqual([basename(s.path)]);
    } finally { s.close(); }
  });

  it('a file left half-made by a killed process (never renamed into place) is cleaned, never counted', async () => {
    const vdir = viewsDir();
    // Killed between creating its newborn file and locking it: DMAIL_STORE_KILLPOINT is not needed,
    // the scan must treat any unlocked dot-file as garbage.
    const h = new Holder(vdir, 2);
    const p = await h.ready();
    await h.kill9();
    const { renameSync } = await import('node:fs');
    renameSync(p, join(vdir, `.${basename(p)}.new`));
    expect(await minAcknowledged(vdir)).toBe(Infinity);
    expect(readdirSync(vdir)).toEqual([]);
  });
});
