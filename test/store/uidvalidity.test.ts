// UIDVALIDITY never repeats for a name (issue 11 point 5): one per-user counter (Dovecot's scheme, see
// src/store/uidvalidity.ts), new = max(now, last + 1), used by every mailbox creation in both backends.
// Real processes race on it; every value they get must be distinct and each process's increasing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/site.js';
import { buildWorker } from './worker-build.js';
import { nextUidValidity, DOVECOT_UIDVALIDITY } from '../../src/store/uidvalidity.js';
import { tempUser } from './helpers.js';
import { storeAt, tempDir } from '../maildir/fixture.js';
import type { MailStore } from '../../src/store/types.js';

let workDir: string;
let worker: string;
beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'store-uidv-'));
  worker = await buildWorker('uidvalidity-worker', workDir);
});
afterAll(() => { rmSync(workDir, { recursive: true, force: true }); });

function run(args: string[]): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [worker, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules') } });
    let out = '';
    let err = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (c) => (c === 0 ? resolve(out.trim().split('\n').map(Number)) : reject(new Error(`worker exit ${c}: ${err}`))));
  });
}

const increasing = (xs: number[]) => xs.every((x, i) => i === 0 || x > xs[i - 1]!);

describe('the per-user UIDVALIDITY counter', () => {
  it('hands out distinct values to racing processes, increasing in each, never below the clock', async () => {
    const dir = join(workDir, 'raw');
    const before = Math.floor(Date.now() / 1000);
    const runs = await Promise.all([1, 2, 3, 4].map(() => run(['raw', dir, 'uidvalidity', '60'])));
    const all = runs.flat();
    expect(all).toHaveLength(240);
    expect(new Set(all).size).toBe(240);
    for (const r of runs) expect(increasing(r)).toBe(true);
    expect(Math.min(...all)).toBeGreaterThanOrEqual(before);
    // One counter file remains, named by the highest value; the hint says the same.
    const files = readdirSync(dir).filter((n) => /^uidvalidity\.[0-9a-f]{8}$/.test(n));
    expect(files).toEqual([`uidvalidity.${Math.max(...all).toString(16).padStart(8, '0')}`]);
    expect(parseInt(readFileSync(join(dir, 'uidvalidity'), 'latin1'), 16)).toBe(Math.max(...all));
    // Later calls continue above everything, and above a floor when one is given.
    expect(nextUidValidity(dir)).toBe(Math.max(...all) + 1);
    expect(nextUidValidity(dir, 'uidvalidity', 0xfffffff0)).toBe(0xfffffff1);
  });

  it('continues Dovecot\'s counter at a maildir root (dovecot-uidvalidity + dovecot-uidvalidity.<hex>)', () => {
    const root = tempDir();
    try {
      // As Dovecot 2.3 leaves it: the hint with the last value and the empty file named by it.
      const last = Math.floor(Date.now() / 1000) + 1000;
      const hex = last.toString(16).padStart(8, '0');
      mkdirSync(root, { recursive: true });
      writeFileSync(join(root, DOVECOT_UIDVALIDITY), hex);
      writeFileSync(join(root, `${DOVECOT_UIDVALIDITY}.${hex}`), '');
      expect(nextUidValidity(root, DOVECOT_UIDVALIDITY)).toBe(last + 1);
      expect(readdirSync(root).filter((n) => n.startsWith(`${DOVECOT_UIDVALIDITY}.`))).toEqual([`${DOVECOT_UIDVALIDITY}.${(last + 1).toString(16).padStart(8, '0')}`]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe.each(['mbox', 'maildir'] as const)('%s: a folder deleted and created again', (kind) => {
  function setup(): { store: () => MailStore; where: string; cleanup(): void } {
    if (kind === 'mbox') {
      const u = tempUser();
      return { store: () => u.store(), where: u.spool, cleanup: () => u.cleanup() };
    }
    const root = tempDir();
    return { store: () => storeAt(root), where: root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
  }

  it('within one second, many times, gets a new, higher UIDVALIDITY each time', async () => {
    const t = setup();
    try {
      const s = t.store();
      const seen: number[] = [];
      for (let i = 0; i < 20; i++) {
        await s.create('Work');
        await s.append('Work', Buffer.from(`Subject: ${i}\r\n\r\nbody\r\n`));
        seen.push((await s.status('Work')).uidValidity);
        await s.delete('Work');
      }
      expect(new Set(seen).size).toBe(20);
      expect(increasing(seen)).toBe(true);
    } finally { t.cleanup(); }
  });

  it('also through RENAME over a deleted name', async () => {
    const t = setup();
    try {
      const s = t.store();
      await s.create('A');
      const a = (await s.status('A')).uidValidity;
      await s.delete('A');
      await s.create('B');
      const b = (await s.status('B')).uidValidity;
      await s.rename('B', 'A');
      expect((await s.status('A')).uidValidity).toBe(b); // a renamed folder keeps its own
      expect(b).toBeGreaterThan(a);
    } finally { t.cleanup(); }
  });

  it('racing processes each deleting and creating folders of one user: no value twice, per name increasing', async () => {
    const t = setup();
    try {
      const names = ['W1', 'W2', 'W3'];
      const runs = await Promise.all(names.map((n) => run([kind, t.where, n, '12'])));
      const all = runs.flat();
      expect(new Set(all).size).toBe(all.length);
      for (const r of runs) expect(increasing(r)).toBe(true);
    } finally { t.cleanup(); }
  });
});
