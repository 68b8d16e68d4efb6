// Giving memory back when a resident process goes quiet. A burst of logins, SELECTs and FETCHes grows V8's
// young generation and leaves garbage that V8 on its own keeps for seconds; a server with idle sessions
// (IDLE, or clients between polls) would hold it for nothing. Each pre-login process and worker tells its
// trimmer about activity (a connection or session starting or ending); once the process stayed quiet for
// `quietMs` (little CPU used meanwhile) one full GC runs, then nothing until the next activity. The wait
// matters: V8 shrinks its young generation (and gives the pages back) only at a full GC that sees a low
// allocation rate over its last ~5 s; a GC right after the burst frees nothing (measured: a worker after
// 50 logins, 5 users of 200 messages: new space 16 MB committed, 10 KB used; RSS 73 -> 73 MB at once,
// 73 -> 68 MB and PSS 32.7 -> 24.7 MB after 6 s).
//
// V8 heap flags (--max-semi-space-size, --optimize-for-size, --lite-mode) are not used: any of them
// changes V8's flag hash, so the bundle's code cache (src/launcher.cjs, made at build time with node's
// default flags) would be rejected in these processes — more memory, not less (measured: +1.4 MB for a
// pre-login process). The gc function is taken once through a flag set
// for that moment only and unset at once, which restores the flag hash (the cache stays accepted).

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gcFn: (() => void) | null | undefined;

/** V8's gc(), or null where it cannot be had. */
export function gcFunction(): (() => void) | null {
  if (gcFn !== undefined) return gcFn;
  try {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  } catch {
    gcFn = null;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
  return gcFn;
}

export class IdleTrimmer {
  private timer: NodeJS.Timeout | undefined;
  private cpuAt = process.cpuUsage();
  private armedAt = 0;
  /** Full GCs run so far (tests and logs). */
  runs = 0;

  /** quietMs: how long without activity; busyShare: CPU share of that window above which it is not quiet. */
  constructor(private readonly quietMs = 6000, private readonly busyShare = 0.2) {}

  /** Something happened (a connection or session began or ended): trim once it has been quiet a while. */
  activity(): void {
    this.arm();
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.cpuAt = process.cpuUsage();
    this.armedAt = performance.now();
    this.timer = setTimeout(() => this.check(), this.quietMs);
    this.timer.unref();
  }

  private check(): void {
    this.timer = undefined;
    const used = process.cpuUsage(this.cpuAt);
    const wallUs = (performance.now() - this.armedAt) * 1000;
    // Sessions are still working (a FETCH, a rewrite): look again later rather than pause them.
    if (used.user + used.system > wallUs * this.busyShare) { this.arm(); return; }
    const gc = gcFunction();
    if (!gc) return;
    gc();
    this.runs++;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
