// Long store work (parsing or rewriting a 100,000-message spool, removing thousands of files) without
// freezing the other sessions of a process that serves many (issue 12). The work is written once, as a
// step generator; each `yield` is a point where it may pause:
//   yield;               a plain step (the driver looks at the clock)
//   yield 'name';        a named step: also a kill point (killpoint.ts) and a hold point (below)
//   yield ioStep(...);   a blocking call (fsync) that the paced driver runs off the event loop
// runSteps() runs a generator to its end at once; runPaced() lets the event loop turn whenever SLICE_MS
// of work has passed. Either way the steps run in the same order with the same bytes, so crash safety
// is that of the synchronous code. The caller holds the mailbox's lock throughout (other sessions of the
// same mailbox wait on the in-process lock in lock.ts), so nothing changes the files between slices.

import { fsync, fsyncSync, fdatasync, fdatasyncSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { killPoint } from './killpoint.js';

/** Longest stretch of work between two turns of the event loop. */
export const SLICE_MS = 20;

/** A blocking call with an asynchronous twin (run on libuv's pool while the event loop goes on). */
export interface IoStep {
  sync(): void;
  async(): Promise<void>;
}

export type Step = undefined | string | IoStep;
export type Steps<T> = Generator<Step, T, void>;

export const turn = (): Promise<void> => new Promise((res) => setImmediate(res));

const viaCallback = (f: (fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => void, fd: number) =>
  new Promise<void>((res, rej) => f(fd, (e) => (e ? rej(e) : res())));

export function fsyncStep(fd: number): IoStep {
  return { sync: () => fsyncSync(fd), async: () => viaCallback(fsync, fd) };
}

export function fdatasyncStep(fd: number): IoStep {
  return { sync: () => fdatasyncSync(fd), async: () => viaCallback(fdatasync, fd) };
}

/** Run all the steps now (short work, or a caller that has to stay synchronous). */
export function runSteps<T>(g: Steps<T>): T {
  let r = g.next();
  for (;;) {
    if (r.done) return r.value;
    const s = r.value;
    if (typeof s === 'string') killPoint(s);
    else if (s) {
      // A failed call fails at its step, inside the generator (its catch and finally blocks run).
      try { s.sync(); } catch (e) { r = g.throw(e); continue; }
    }
    r = g.next();
  }
}

/** Run the steps, letting the event loop turn at least every `sliceMs` of work. */
export async function runPaced<T>(g: Steps<T>, sliceMs = SLICE_MS): Promise<T> {
  let since = Date.now();
  let r = g.next();
  for (;;) {
    if (r.done) return r.value;
    const s = r.value;
    if (typeof s === 'string') {
      killPoint(s);
      const held = holdPoint(s);
      if (held) { await held; since = Date.now(); }
    } else if (s) {
      try { await s.async(); } catch (e) { r = g.throw(e); continue; }
      since = Date.now();
    }
    if (Date.now() - since >= sliceMs) {
      await turn();
      since = Date.now();
    }
    r = g.next();
  }
}

/** For loops written with await: `if (p.due()) await p.pause();`. Several loops running side by side
 *  (mapLimit's workers) may share one Pacer: they pause for the same turn and share the next slice. */
export class Pacer {
  private since = Date.now();
  private waiting: Promise<void> | null = null;
  constructor(private readonly sliceMs = SLICE_MS) {}
  due(): boolean { return Date.now() - this.since >= this.sliceMs; }
  pause(): Promise<void> {
    this.waiting ??= turn().then(() => {
      this.since = Date.now();
      this.waiting = null;
    });
    return this.waiting;
  }
}

let holdUsed = false;

/**
 * Test hook for the ordering tests (issue 12), like killPoint: DMAIL_STORE_HOLDPOINT=step:dir makes the
 * first paced pass through `step` in this process create dir/held and wait (the event loop running)
 * until dir/go exists. Costs one environment lookup when unset.
 */
function holdPoint(step: string): Promise<void> | undefined {
  const want = process.env.DMAIL_STORE_HOLDPOINT;
  if (!want || holdUsed) return undefined;
  const at = want.indexOf(':');
  if (want.slice(0, at) !== step) return undefined;
  holdUsed = true;
  const dir = want.slice(at + 1);
  writeFileSync(join(dir, 'held'), step);
  return new Promise((res) => {
    const poll = () => (existsSync(join(dir, 'go')) ? res() : setTimeout(poll, 5));
    poll();
  });
}
