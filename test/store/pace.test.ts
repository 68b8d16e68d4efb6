// store/pace.ts, the drivers of the step generators every long store loop is written as (issue 12):
// both run the same steps in the same order; the paced one lets the event loop turn between slices;
// a failing blocking call fails inside the generator (its catch and finally run); Pacer waiters share a turn.
import { describe, expect, it } from 'vitest';
import { runPaced, runSteps, Pacer, type IoStep, type Steps } from '../../src/store/pace.js';

function* counting(n: number, log: string[]): Steps<number> {
  for (let i = 0; i < n; i++) {
    log.push(`step ${i}`);
    yield i === 1 ? 'a-named-step' : undefined;
  }
  return n;
}

describe('step generators', () => {
  it('run to the same end at once or paced; paced, other callbacks run between the slices', async () => {
    const a: string[] = [];
    expect(runSteps(counting(5, a))).toBe(5);
    const b: string[] = [];
    let turns = 0;
    const tick = () => { turns++; b.push('other'); if (turns < 100) setImmediate(tick); };
    setImmediate(tick);
    // Slice of 0 ms: the event loop turns after every step.
    expect(await runPaced(counting(5, b), 0)).toBe(5);
    expect(b.filter((x) => x !== 'other')).toEqual(a);
    // Some other callback ran between two steps of the generator.
    const first = b.indexOf('step 0');
    const last = b.indexOf('step 4');
    expect(b.slice(first, last).includes('other')).toBe(true);
  });

  it('a blocking call that fails, fails at its step inside the generator (catch and finally run)', async () => {
    for (const drive of ['sync', 'paced'] as const) {
      const seen: string[] = [];
      const failing: IoStep = {
        sync: () => { throw new Error('EIO sync'); },
        async: () => Promise.reject(new Error('EIO async')),
      };
      function* g(): Steps<string> {
        try {
          yield failing;
          seen.push('not reached');
          return 'no';
        } catch (e) {
          seen.push(`caught ${(e as Error).message}`);
          return 'recovered';
        } finally {
          seen.push('finally');
        }
      }
      const r = drive === 'sync' ? runSteps(g()) : await runPaced(g());
      expect(r).toBe('recovered');
      expect(seen).toEqual([`caught EIO ${drive === 'sync' ? 'sync' : 'async'}`, 'finally']);
    }
  });

  it('Pacer: loops side by side that are due share one turn, then a new slice starts', async () => {
    const p = new Pacer(60_000);
    expect(p.due()).toBe(false);
    const waits = [p.pause(), p.pause(), p.pause()];
    expect(waits[1]).toBe(waits[0]);
    expect(waits[2]).toBe(waits[0]);
    await Promise.all(waits);
    expect(p.due()).toBe(false);
    // After the turn, a later pause is a new turn.
    expect(p.pause()).not.toBe(waits[0]);
  });
});
