// Issue 12: sessions of one process exclude each other on a spool in-process (fcntl cannot: its locks
// belong to the process). lockSpool queues them FIFO, the second waits for the first's release, a wait
// past lock_timeout is UNAVAILABLE and does not block those queued after it.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { inProcessLocked, lockSpool, type LockOptions } from '../../src/store/lock.js';
import { StoreError } from '../../src/store/types.js';
import { tempUser, type TempUser } from './helpers.js';

const users: TempUser[] = [];
afterEach(() => { for (const u of users.splice(0)) u.cleanup(); });

function spool(): string {
  const u = tempUser();
  users.push(u);
  const p = join(u.spool, 'bob');
  writeFileSync(p, '');
  return p;
}

const opts = (timeoutSec: number): LockOptions => ({ timeoutSec, staleSec: 300 });

describe('spool locks among sessions of one process', () => {
  it('a second holder waits for the first, in order; the dot-lock and the fd are the holder\'s alone', async () => {
    const p = spool();
    const order: string[] = [];
    const a = await lockSpool(p, opts(5), { write: true });
    expect(inProcessLocked(p)).toBe(true);
    const b = lockSpool(p, opts(5), { write: true }).then((l) => { order.push('b'); return l; });
    const c = lockSpool(p, opts(5), { write: false }).then((l) => { order.push('c'); return l; });
    await new Promise((r) => setTimeout(r, 100));
    expect(order).toEqual([]); // nobody got in beside a
    expect(existsSync(`${p}.lock`)).toBe(true);
    order.push('a-release');
    a.release();
    const lb = await b;
    expect(order).toEqual(['a-release', 'b']);
    expect(existsSync(`${p}.lock`)).toBe(true); // b's dot-lock now
    lb.release();
    const lc = await c;
    expect(order).toEqual(['a-release', 'b', 'c']);
    lc.release();
    expect(existsSync(`${p}.lock`)).toBe(false);
    expect(inProcessLocked(p)).toBe(false);
  });

  it('a wait past lock_timeout is UNAVAILABLE, and the holders after it still get their turn', async () => {
    const p = spool();
    const a = await lockSpool(p, opts(5), { write: true });
    const late = lockSpool(p, opts(0.2), { write: true });
    const next = lockSpool(p, opts(5), { write: true });
    await expect(late).rejects.toBeInstanceOf(StoreError);
    await expect(late).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    a.release();
    const n = await next;
    expect(n.fd).toBeGreaterThanOrEqual(0);
    n.release();
    expect(inProcessLocked(p)).toBe(false);
  });
});
