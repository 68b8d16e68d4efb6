// The per-process cache registry (src/store/process-cache.ts): idle entries of all caches together stay
// within the byte budget (least recently used dropped first), held entries are never dropped, and with
// budget 0 an entry goes as soon as its last holder lets go.
import { describe, expect, it } from 'vitest';
import { CacheRegistry, ProcessCache } from '../../src/store/process-cache.js';

describe('process cache registry', () => {
  it('keeps idle entries of all caches within the budget, least recently used dropped first', () => {
    const reg = new CacheRegistry(100);
    const a = new ProcessCache<string, string>('a', reg);
    const b = new ProcessCache<string, string>('b', reg);
    a.set('x', 'X', 40);
    b.set('y', 'Y', 40);
    expect(a.get('x')).toBe('X'); // x is now the most recently used
    a.set('z', 'Z', 40); // 120 > 100: y (least recently used) goes
    expect(b.has('y')).toBe(false);
    expect(a.has('x')).toBe(true);
    expect(a.has('z')).toBe(true);
    expect(reg.stats()).toMatchObject({ budget: 100, bytes: 80, idleBytes: 80, entries: 2 });
    // An entry larger than the whole budget is not kept once idle.
    b.set('huge', 'H', 500);
    expect(b.has('huge')).toBe(false);
    expect(reg.stats().idleBytes).toBeLessThanOrEqual(100);
    // ... and does not take the others with it: x and z (older) stay.
    expect(a.has('x')).toBe(true);
    expect(a.has('z')).toBe(true);
  });

  it('the last release shrinks an entry to its idle size before the budget looks at it', () => {
    const reg = new CacheRegistry(16);
    const keys = new ProcessCache<string, { held: boolean }>('keys', reg);
    const r1 = keys.hold('/box');
    const r2 = keys.hold('/box');
    const v = { held: true };
    keys.set('/box', v, 40); // a session's working set: the file's bytes and decoded records
    const shrink = (x: { held: boolean }) => { x.held = false; return 15; }; // columns only
    r1(shrink); // not the last holder: not called
    expect(v.held).toBe(true);
    r2(shrink);
    expect(v.held).toBe(false);
    expect(keys.get('/box')).toBe(v); // 15 fits; 40 did not
    expect(reg.stats().idleBytes).toBe(15);
    // null drops it; undefined keeps the size it had.
    const r3 = keys.hold('/box');
    r3(() => undefined);
    expect(reg.stats().idleBytes).toBe(15);
    const r4 = keys.hold('/box');
    r4(() => null);
    expect(keys.has('/box')).toBe(false);
  });

  it('an entry too large for the budget, let go of last, is dropped alone (a big index after its keys)', () => {
    const reg = new CacheRegistry(16);
    const keys = new ProcessCache<string, string>('keys', reg);
    const index = new ProcessCache<string, string>('index', reg);
    const rk = keys.hold('/box');
    const ri = index.hold('/box');
    keys.set('/box', 'K', 15);
    index.set('/box', 'I', 24);
    rk(); // the keys entry goes idle first (15 fits)
    ri(); // then the index: 39 > 16, and 24 alone never fits
    expect(index.has('/box')).toBe(false);
    expect(keys.get('/box')).toBe('K');
    expect(reg.stats()).toMatchObject({ idleBytes: 15, entries: 1 });
    // Two that each fit but not together: least recently used goes, as before.
    index.set('/other', 'O', 10);
    expect(keys.has('/box')).toBe(false);
    expect(index.has('/other')).toBe(true);
  });

  it('never drops a held entry; the last release makes it idle (and drops it with budget 0)', () => {
    const reg = new CacheRegistry(0);
    const c = new ProcessCache<string, number[]>('uidlist', reg);
    const r1 = c.hold('/mb');
    const r2 = c.hold('/mb');
    c.set('/mb', [1, 2, 3], 1000);
    c.set('/other', [4], 10); // idle at once, budget 0: gone
    expect(c.has('/other')).toBe(false);
    expect(c.get('/mb')).toEqual([1, 2, 3]);
    expect(reg.stats()).toMatchObject({ bytes: 1000, idleBytes: 0, caches: { uidlist: { entries: 1, held: 1 } } });
    r1();
    r1(); // a second call of the same release counts once
    expect(c.has('/mb')).toBe(true);
    r2();
    expect(c.has('/mb')).toBe(false);
    expect(reg.stats()).toMatchObject({ bytes: 0, idleBytes: 0, entries: 0 });
  });

  it('a lowered budget drops idle entries at once; replacing an entry counts its new size only', () => {
    const reg = new CacheRegistry(1000);
    const c = new ProcessCache<string, string>('k', reg);
    c.set('a', '1', 300);
    c.set('a', '2', 400);
    c.set('b', '3', 500);
    expect(reg.stats().idleBytes).toBe(900);
    reg.setBudget(600);
    expect(c.has('a')).toBe(false);
    expect(c.get('b')).toBe('3');
    reg.setBudget(0);
    expect(reg.stats()).toMatchObject({ bytes: 0, entries: 0 });
    const release = c.hold('b');
    c.set('b', '4', 50);
    reg.dropIdle();
    expect(c.get('b')).toBe('4');
    release();
    expect(c.has('b')).toBe(false);
  });

  it('tells the owner about every value it lets go of (to close descriptors), once', () => {
    const reg = new CacheRegistry(100);
    const dropped: string[] = [];
    const c = new ProcessCache<string, { fd: string }>('fds', reg, (v, k) => dropped.push(`${k}:${v.fd}`));
    const v1 = { fd: 'a1' };
    c.set('a', v1, 10);
    c.set('a', v1, 20); // the same value, grown: not dropped
    c.set('a', { fd: 'a2' }, 20); // replaced
    c.set('b', { fd: 'b1' }, 90); // a (least recently used) evicted
    const release = c.hold('b');
    c.delete('nothing');
    reg.setBudget(0); // b is held: kept
    expect(dropped).toEqual(['a:a1', 'a:a2']);
    release();
    expect(dropped).toEqual(['a:a1', 'a:a2', 'b:b1']);
    c.set('c', { fd: 'c1' }, 1); // budget 0: dropped at once
    c.clear();
    expect(dropped).toEqual(['a:a1', 'a:a2', 'b:b1', 'c:c1']);
  });
});
