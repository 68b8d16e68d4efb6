// Crash safety, continued (see crash.test.ts): mail an MDA appends after a crash, a second kill during the
// replay itself, and kill -9 at random moments during a stream of rewrites (expunge, purge, re-append).
import { describe, it, expect } from 'vitest';
import { readFileSync, appendFileSync, existsSync, unlinkSync } from 'node:fs';
import { tempUser } from './helpers.js';
import { crlf, N, seed, inspect, crashWorker } from './crash-kit.js';

const runWorker = crashWorker();

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
    // 60 worker processes one after another: ~35-45 s on two cores, and a loaded CI machine has run it past the
    // default 60 s. The work is bounded by the loop; the limit only catches a hang.
  }, 180_000);
});
