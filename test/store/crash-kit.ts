// Shared by the kill -9 tests (crash.test.ts, crash-replay.test.ts): a spool of N known messages, a child
// process doing real rewrites (test/store/fixtures/crash-worker.ts), and the check after each kill that
// a fresh store and a raw parse show every message that should be there, byte for byte.
import { afterAll, beforeAll, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync, openSync, closeSync, fstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/site.js';
import type { TempUser } from './helpers.js';
import { buildWorker } from './worker-build.js';
import { parseSpool } from '../../src/store/mbox/parse.js';
import { clientView } from '../../src/store/mbox/format.js';

export const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');
function baseMessage(i: number): string {
  const big = i === 4 ? 'x'.repeat(76) + '\n' : '';
  // One message over 1 MB so a rewrite copies in several chunks (kill point "mid-write" is really mid-way).
  return `From: s${i}@example.com\nSubject: base ${i}\nMessage-ID: <base-${i}@x>\n\nbody ${i}\nFrom the middle\n>From quoted\n${big.repeat(i === 4 ? 15000 : 0)}end ${i}\n`;
}
export const N = 8;

export function seed(u: TempUser): Map<string, string> {
  const expected = new Map<string, string>();
  for (let i = 1; i <= N; i++) {
    u.deliver(baseMessage(i));
    expected.set(`<base-${i}@x>`, crlf(baseMessage(i)));
  }
  return expected;
}

export interface Outcome { base: Map<string, number>; appended: number; views: string[]; highest: number }

/** Recover through a fresh store, then check the raw file parses into known, whole messages. */
export async function inspect(u: TempUser, expected: Map<string, string>): Promise<Outcome> {
  const store = u.store();
  const box = await store.open('INBOX');
  const views: string[] = [];
  for (const m of box.state.messages) {
    const v = (await box.read(m.uid)).toString('latin1');
    expect(m.size).toBe(v.length);
    expect(m.modseq).toBeGreaterThanOrEqual(1);
    expect(m.modseq).toBeLessThanOrEqual(box.state.highestModseq);
    views.push(v);
  }
  const highest = box.state.highestModseq;
  await box.close();
  // Fresh raw parse agrees with the store.
  const raw = readFileSync(u.paths.inbox);
  const fd = openSync(u.paths.inbox, 'r');
  const parsed = parseSpool(fd, 0, fstatSync(fd).size)!;
  closeSync(fd);
  expect(parsed.preambleEnd).toBe(0);
  expect(parsed.messages.map((m) => clientView(raw.subarray(m.offset, m.end)).toString('latin1'))).toEqual(views);
  const base = new Map<string, number>();
  let appended = 0;
  for (const v of views) {
    const id = /Message-ID: (<[^>]+>)/.exec(v)?.[1];
    expect(id, `message without id: ${v.slice(0, 200)}`).toBeDefined();
    if (id!.startsWith('<base-')) {
      expect(v, `${id} changed`).toBe(expected.get(id!));
      base.set(id!, (base.get(id!) ?? 0) + 1);
    } else {
      const m = /^Subject: appended (\d+)-(\d+)\r\n/.exec(v);
      expect(m, 'unknown message').not.toBeNull();
      expect(v).toBe(`Subject: appended ${m![1]}-${m![2]}\r\nMessage-ID: <app-${m![1]}-${m![2]}@x>\r\n\r\nappended body ${m![2]}\r\nFrom inside\r\n`);
      appended++;
    }
  }
  for (const n of base.values()) expect(n).toBe(1);
  return { base, appended, views, highest };
}

export function runWorker(worker: string, u: TempUser, op: string, env: Record<string, string>, killAfterMs?: number): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [worker, u.spool, op, '1'], {
      env: { PATH: process.env.PATH ?? '', NODE_PATH: join(ROOT, 'node_modules'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.stdout.on('data', (d: Buffer) => {
      if (killAfterMs !== undefined && d.toString().includes('ready')) {
        setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
    });
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
}

export const POINTS = ['journal-partial', 'journal-written', 'journal-committed', 'extended', 'phase-writing', 'mid-write', 'written', 'truncated', 'journal-removed', 'before-index'];
// Points after which the operation must have happened (the journal is committed: roll forward).
export const COMMITTED = new Set(POINTS.slice(POINTS.indexOf('journal-committed')));
// Change-log steps: an expunge is decided once its record is written (a kill -9 leaves the page cache).
export const LOG_POINTS = ['modlog-before-write', 'modlog-written', 'modlog-synced'];

/** The crash worker, built once per test file into a temporary directory (removed afterwards); returns
 *  runWorker bound to it. Call at the top of a test file. */
export function crashWorker(): (u: TempUser, op: string, env: Record<string, string>, killAfterMs?: number) => ReturnType<typeof runWorker> {
  let workDir = '';
  let worker = '';
  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'store-crash-'));
    worker = await buildWorker('crash-worker', workDir);
  });
  afterAll(() => { rmSync(workDir, { recursive: true, force: true }); });
  return (u, op, env, killAfterMs) => runWorker(worker, u, op, env, killAfterMs);
}
