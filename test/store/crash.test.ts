// Crash safety: a child process doing real rewrites is SIGKILLed at named steps and at random moments;
// afterwards a fresh store (which replays the journal) and a raw parse must show every message that
// was not being expunged, byte for byte, and nothing half-written.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, appendFileSync, openSync, closeSync, fstatSync, existsSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/site.js';
import { tempUser, type TempUser } from './helpers.js';
import { buildWorker } from './worker-build.js';
import { parseSpool } from '../../src/store/mbox/parse.js';
import { clientView } from '../../src/store/mbox/format.js';

let workDir: string;
let worker: string;

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'store-crash-'));
  worker = await buildWorker('crash-worker', workDir);
});
afterAll(() => { rmSync(workDir, { recursive: true, force: true }); });

const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');
function baseMessage(i: number): string {
  const big = i === 4 ? 'x'.repeat(76) + '\n' : '';
  // One message over 1 MB so a rewrite copies in several chunks (kill point "mid-write" is really mid-way).
  return `From: s${i}@example.com\nSubject: base ${i}\nMessage-ID: <base-${i}@x>\n\nbody ${i}\nFrom the middle\n>From quoted\n${big.repeat(i === 4 ? 15000 : 0)}end ${i}\n`;
}
const N = 8;

function seed(u: TempUser): Map<string, string> {
  const expected = new Map<string, string>();
  for (let i = 1; i <= N; i++) {
    u.deliver(baseMessage(i));
    expected.set(`<base-${i}@x>`, crlf(baseMessage(i)));
  }
  return expected;
}

interface Outcome { base: Map<string, number>; appended: number; views: string[]; highest: number }

/** Recover through a fresh store, then check the raw file parses into known, whole messages. */
async function inspect(u: TempUser, expected: Map<string, string>): Promise<Outcome> {
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

function runWorker(u: TempUser, op: string, env: Record<string, string>, killAfterMs?: number): Promise<{ code: number | null; signal: string | null; stderr: string }> {
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

const POINTS = ['journal-partial', 'journal-written', 'journal-committed', 'extended', 'phase-writing', 'mid-write', 'written', 'truncated', 'journal-removed', 'before-index'];
// Points after which the operation must have happened (the journal is committed: roll forward).
const COMMITTED = new Set(POINTS.slice(POINTS.indexOf('journal-committed')));
// Change-log steps: an expunge is decided once its record is written (a kill -9 leaves the page cache).
const LOG_POINTS = ['modlog-before-write', 'modlog-written', 'modlog-synced'];

describe('kill -9 at every step of a rewrite', () => {
  for (const variant of ['expunge-first', 'expunge-middle', 'expunge-last', 'purge-first', 'purge-last', 'flags', 'flags-in-place', 'append']) {
    const op = variant === 'flags-in-place' ? 'flags' : variant.replace(/^purge/, 'expunge');
    // Deferred expunge: the change-log record decides it; the spool is rewritten only to mark the
    // message (\Deleted + X-UID, for unstamped messages) and, later, to remove it (purge). Every
    // journal step of either comes after the record: the message never comes back.
    // Flag changes and appends are logged before the spool is touched: a kill after the record leaves
    // the old spool (an append record of a UID that never appeared, or a bumped modseq) and loses nothing.
    // (The purge variants' change-log steps are the expunge's, covered by the expunge variants.)
    let points = variant.startsWith('purge') ? [...POINTS, 'before-purge-record']
      : op.startsWith('expunge') ? [...LOG_POINTS, ...POINTS]
      : op === 'append' ? [...LOG_POINTS, 'append-logged', ...POINTS]
      : variant === 'flags' ? [...LOG_POINTS, ...POINTS] : POINTS;
    // Removing the last message writes no new bytes: its journal has no data to be killed in.
    if (variant === 'purge-last') points = points.filter((p) => p !== 'journal-partial' && p !== 'mid-write');
    it(`${variant}: all or nothing at each step`, async () => {
      for (const point of points) {
        const u = tempUser();
        try {
          const expected = seed(u);
          // Open once so UIDs are assigned and the index exists, as in a live system.
          const pre = await inspect(u, expected);
          expect(pre.views).toHaveLength(N);
          if (variant === 'flags-in-place' || variant.startsWith('purge')) {
            // Stamp every message first, so the worker's flag change is an in-place patch, and its
            // expunge touches no spool byte: the journal steps are then those of the purge at close.
            const box = await u.store().open('INBOX');
            const uids = box.state.messages.map((m) => m.uid);
            await box.setFlags(uids, 'add', ['\\Answered']);
            if (variant.startsWith('purge')) await box.setFlags([variant === 'purge-first' ? uids[0]! : uids[uids.length - 1]!], 'add', ['\\Deleted']);
            await box.close();
          }
          const r = await runWorker(u, op, { DMAIL_STORE_KILLPOINT: point });
          expect(r.signal, `${variant}@${point}: ${r.stderr}`).toBe('SIGKILL');
          const out = await inspect(u, expected);
          const present = out.base.size;
          if (op.startsWith('expunge')) {
            const done = point !== 'modlog-before-write';
            expect(present, `${variant}@${point}`).toBe(done ? N - 1 : N);
            const gone = op === 'expunge-first' ? 1 : op === 'expunge-last' ? N : N / 2 + 1;
            if (done) expect(out.base.has(`<base-${gone}@x>`)).toBe(false);
          } else if (op === 'append') {
            expect(present).toBe(N);
            expect(out.appended, `${op}@${point}`).toBe(COMMITTED.has(point) ? 1 : 0);
          } else {
            expect(present).toBe(N);
            // The flag change on the first message happened completely or not at all.
            const box = await u.store().open('INBOX');
            const f = [...box.state.messages[0]!.flags].filter((x) => x !== '\\Answered').sort();
            expect([[], ['Kw0', '\\Flagged', '\\Seen']]).toContainEqual(f);
            if (COMMITTED.has(point)) expect(f).toEqual(['Kw0', '\\Flagged', '\\Seen']);
          }
        } finally { u.cleanup(); }
      }
    });
  }
});

describe('mail an MDA appends after a crash survives the replay', () => {
  for (const point of ['journal-committed', 'extended', 'phase-writing', 'mid-write', 'written', 'truncated']) {
    for (const op of ['expunge-first', 'append']) {
      it(`${op} killed at ${point}, then delivery`, async () => {
        const u = tempUser();
        try {
          const expected = seed(u);
          await inspect(u, expected);
          const r = await runWorker(u, op, { DMAIL_STORE_KILLPOINT: point });
          expect(r.signal).toBe('SIGKILL');
          // An MDA that broke the dead process's lock appends straight away.
          if (existsSync(u.paths.inbox + '.lock')) unlinkSync(u.paths.inbox + '.lock');
          const late = 'From: late@example.com\nSubject: late\nMessage-ID: <base-99@x>\n\nlate mail\n';
          expected.set('<base-99@x>', crlf(late));
          const sep = readFileSync(u.paths.inbox).subarray(-2).toString() === '\n\n' ? '' : '\n';
          appendFileSync(u.paths.inbox, `${sep}From mda@example.com Tue Jan 02 03:04:05 2024\n${late}\n`);
          const out = await inspect(u, expected);
          expect(out.base.get('<base-99@x>')).toBe(1);
          expect(out.base.size).toBe(op === 'expunge-first' ? N : N + 1);
        } finally { u.cleanup(); }
      });
    }
  }
});

describe('a second kill during the replay itself', () => {
  for (const second of ['journal-written', 'journal-committed', 'extended', 'mid-write', 'written']) {
    it(`expunge killed at mid-write, delivery, replay killed at ${second}`, async () => {
      const u = tempUser();
      try {
        const expected = seed(u);
        await inspect(u, expected);
        expect((await runWorker(u, 'expunge-first', { DMAIL_STORE_KILLPOINT: 'mid-write' })).signal).toBe('SIGKILL');
        const late = 'From: late@example.com\nSubject: late\nMessage-ID: <base-98@x>\n\nlate mail\n';
        expected.set('<base-98@x>', crlf(late));
        appendFileSync(u.paths.inbox, `From mda@example.com Tue Jan 02 03:04:05 2024\n${late}\n`);
        // Opening replays the journal (carrying the late mail into a new one); die during that.
        const r = await runWorker(u, 'open', { DMAIL_STORE_KILLPOINT: second });
        expect(r.signal, r.stderr).toBe('SIGKILL');
        const out = await inspect(u, expected);
        expect(out.base.get('<base-98@x>')).toBe(1);
        expect(out.base.size).toBe(N);
        expect(out.base.has('<base-1@x>')).toBe(false);
      } finally { u.cleanup(); }
    });
  }
});

describe('kill -9 at random moments during a stream of rewrites', () => {
  it('never loses or damages a message (60 kills)', async () => {
    const u = tempUser();
    try {
      const expected = seed(u);
      await inspect(u, expected);
      let seedRand = 12345;
      const rand = () => { seedRand = (seedRand * 1103515245 + 12345) & 0x7fffffff; return seedRand / 0x7fffffff; };
      let kills = 0;
      let highest = 0;
      for (let i = 0; i < 60; i++) {
        const r = await runWorker(u, 'loop', { CRASH_LOOP: '1' }, Math.floor(rand() * 250));
        if (r.signal === 'SIGKILL') kills++;
        else expect.fail(`worker ended by itself: ${r.code} ${r.stderr}`);
        const out = await inspect(u, expected);
        expect(out.highest, `HIGHESTMODSEQ went back after kill ${i}`).toBeGreaterThanOrEqual(highest);
        highest = out.highest;
        // Between an expunge and its re-append one message may be missing; never more.
        expect(out.base.size, `after kill ${i}`).toBeGreaterThanOrEqual(N - 1);
        if (out.base.size === N - 1) {
          // Put the missing one back (as the loop would) so later rounds check all N again.
          const missing = [...expected.keys()].find((k) => !out.base.has(k))!;
          u.deliver(expected.get(missing)!.replace(/\r\n/g, '\n'));
        }
      }
      expect(kills).toBe(60);
    } finally { u.cleanup(); }
  });
});
