// Caches that outlive a session, with one byte budget for the whole process.
//
// In the per-connection mode a process serves one session and its caches die with it. A resident worker
// (src/resident/) serves every session of a uid for hours, and many workers share one machine: what a
// worker keeps for mailboxes no session has open must be bounded and given back. This module is the one
// place for such caches (parsed state worth keeping between commands or sessions: the maildir uidlist,
// facts/keys files known to the process, ...). Rules:
//
// - An entry is *held* while a session has its mailbox open (`hold(key)`, released by the function it
//   returns, e.g. from the handle's close()). Held entries are never dropped: the session uses them, and
//   their size is bounded by what the sessions have open.
// - Entries nobody holds are *idle*. Together, over all caches of the process, idle entries take at most
//   `budget` bytes; an entry larger than the whole budget goes first (it could never stay), then the least
//   recently used (an entry is "used" by get/set). Budget 0: an entry
//   is dropped as soon as the last holder lets go (everything tied to a mailbox goes with its last session).
// - `bytes` are the caller's estimate of what the entry keeps alive (objects and buffers), not exact.
//   Under-estimating by a constant factor is fine; forgetting a part that grows with the mailbox is not.
//
// The budget is `resident_cache_size` (dmail.conf): the worker sets it from each session's settings
// (src/resident/worker.ts). A SIGUSR2 to a worker logs the figures (`stats()`).

/** Default idle budget in bytes (dmail.conf `resident_cache_size`). */
export const DEFAULT_CACHE_BUDGET = 16 * 1024 * 1024;

interface Entry {
  cache: ProcessCache<unknown, unknown>;
  key: unknown;
  value: unknown;
  bytes: number;
}

export interface CacheStats {
  budget: number;
  /** Bytes of every entry (held and idle). */
  bytes: number;
  /** Bytes of entries no session holds. */
  idleBytes: number;
  entries: number;
  caches: Record<string, { entries: number; bytes: number; held: number }>;
}

/** The caches of one process and their common budget (one instance per process: `processCaches`). */
export class CacheRegistry {
  private budgetBytes: number;
  /** Every idle entry, least recently used first. */
  private readonly idle = new Set<Entry>();
  private idleTotal = 0;
  private readonly caches = new Set<ProcessCache<unknown, unknown>>();

  constructor(budget = DEFAULT_CACHE_BUDGET) {
    this.budgetBytes = Math.max(0, budget);
  }

  get budget(): number {
    return this.budgetBytes;
  }

  /** Set the idle budget (bytes); drops idle entries at once if they now exceed it. */
  setBudget(bytes: number): void {
    this.budgetBytes = Number.isFinite(bytes) && bytes > 0 ? Math.floor(bytes) : 0;
    this.evict();
  }

  /** @internal */ register(c: ProcessCache<unknown, unknown>): void {
    this.caches.add(c);
  }

  /** @internal An entry became idle or was used while idle: it is now the most recently used. */
  touchIdle(e: Entry): void {
    if (this.idle.delete(e)) this.idleTotal -= e.bytes;
    this.idle.add(e);
    this.idleTotal += e.bytes;
  }

  /** @internal The entry is held or gone. */
  unidle(e: Entry): void {
    if (this.idle.delete(e)) this.idleTotal -= e.bytes;
  }

  /** Drop idle entries until the idle ones fit the budget: first any entry that alone exceeds the budget
   *  (it can never be kept: dropping the others for it would only empty the cache — a 100k mailbox's
   *  24 MB index let go of after its 15 MB keys entry must not take the keys with it), then the least
   *  recently used. */
  evict(): void {
    if (this.idleTotal <= this.budgetBytes) return;
    for (const e of [...this.idle]) if (e.bytes > this.budgetBytes) e.cache.drop(e);
    for (const e of this.idle) {
      if (this.idleTotal <= this.budgetBytes) break;
      e.cache.drop(e);
    }
  }

  /** Drop every idle entry (held ones stay). */
  dropIdle(): void {
    for (const e of [...this.idle]) e.cache.drop(e);
  }

  stats(): CacheStats {
    const caches: CacheStats['caches'] = {};
    let bytes = 0;
    let entries = 0;
    for (const c of this.caches) {
      const s = c.stats();
      if (s.entries === 0 && s.held === 0) continue;
      caches[c.name] = s;
      bytes += s.bytes;
      entries += s.entries;
    }
    return { budget: this.budgetBytes, bytes, idleBytes: this.idleTotal, entries, caches };
  }
}

/** The registry of this process. */
export const processCaches = new CacheRegistry();

/**
 * One kind of cached thing, by key (a mailbox's path, usually). Not a store of truth: every user of a
 * value must still check it against the file (stamp, inode, size) before believing it.
 */
export class ProcessCache<K, V> {
  private readonly entries = new Map<K, Entry>();
  private readonly holds = new Map<K, number>();

  /** onDrop: called with a value the cache lets go of (evicted, deleted, cleared, or replaced by another
   *  value): close its descriptors there. Not called when `set` stores the same value again. */
  constructor(
    readonly name: string,
    private readonly registry: CacheRegistry = processCaches,
    private readonly onDrop?: (value: V, key: K) => void,
  ) {
    registry.register(this as ProcessCache<unknown, unknown>);
  }

  get(key: K): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (!this.holds.has(key)) this.registry.touchIdle(e);
    return e.value as V;
  }

  /** Keep `value` for `key` (replacing what was there); `bytes`: what it keeps alive, estimated. Call it
   *  again with the same value when that value grew or shrank. */
  set(key: K, value: V, bytes: number): void {
    const old = this.entries.get(key);
    if (old) {
      this.registry.unidle(old);
      if (old.value !== value) this.dispose(old);
    }
    const e: Entry = { cache: this as ProcessCache<unknown, unknown>, key, value, bytes: Math.max(0, Math.ceil(bytes)) };
    this.entries.set(key, e);
    if (!this.holds.has(key)) {
      this.registry.touchIdle(e);
      this.registry.evict();
    }
  }

  delete(key: K): void {
    const e = this.entries.get(key);
    if (e) this.drop(e);
  }

  /**
   * A session uses `key` (its mailbox is open): its entry is kept until every returned function ran.
   * `idle`, given to the last release, is called with the entry's value before the entry becomes idle,
   * to shrink it to what an idle entry keeps: it returns the value's new size, null to drop the entry, or
   * undefined to keep its size. The budget is applied to that size (a session's working set, counted
   * while held, must not decide whether the smaller idle entry stays).
   */
  hold(key: K): (idle?: (value: V) => number | null | undefined) => void {
    this.holds.set(key, (this.holds.get(key) ?? 0) + 1);
    const e = this.entries.get(key);
    if (e) this.registry.unidle(e);
    let done = false;
    return (idle) => {
      if (done) return;
      done = true;
      const n = (this.holds.get(key) ?? 1) - 1;
      if (n > 0) { this.holds.set(key, n); return; }
      this.holds.delete(key);
      let cur = this.entries.get(key);
      if (cur && idle) {
        let size: number | null | undefined;
        try { size = idle(cur.value as V); } catch { size = null; }
        if (size === null) { this.drop(cur); cur = undefined; } else if (size !== undefined) cur.bytes = Math.max(0, Math.ceil(size));
      }
      if (cur) {
        this.registry.touchIdle(cur);
        this.registry.evict();
      }
    };
  }

  /** Drop every entry of this cache (held ones too: their holders re-read what they need). */
  clear(): void {
    for (const e of [...this.entries.values()]) this.drop(e);
  }

  /** @internal */ drop(e: Entry): void {
    if (this.entries.get(e.key as K) !== e) return;
    this.entries.delete(e.key as K);
    this.registry.unidle(e);
    this.dispose(e);
  }

  private dispose(e: Entry): void {
    if (!this.onDrop) return;
    try { this.onDrop(e.value as V, e.key as K); } catch { /* a cache: dropping must not fail the caller */ }
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  /** Whether a session holds `key` (after a release: whether it was the last). */
  held(key: K): boolean {
    return this.holds.has(key);
  }

  stats(): { entries: number; bytes: number; held: number } {
    let bytes = 0;
    for (const e of this.entries.values()) bytes += e.bytes;
    return { entries: this.entries.size, bytes, held: this.holds.size };
  }
}
