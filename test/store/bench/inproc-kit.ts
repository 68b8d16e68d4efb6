// What the in-process store benches (facts-inproc.ts, keys-inproc.ts) share: each case run `runs` times, each
// time on a fresh mailbox handle (a new session's first call), wall and CPU time per run; CASES=a,b picks
// cases, PROF=file writes a V8 CPU profile of the measured runs from run `profileFrom` on.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

export interface Box { close(): Promise<void> }

export async function timeCases<B extends Box>(
  cases: Record<string, (box: B) => Promise<number>>,
  open: () => Promise<B>,
  runs: number,
  opts: { profileFrom?: number; ready?: (box: B) => void; afterRun?: () => void; extra?: () => string } = {},
): Promise<void> {
  const only = process.env.CASES?.split(',');
  const prof = process.env.PROF ? new Session() : null;
  let profiling = false;
  for (const [name, fn] of Object.entries(cases)) {
    if (only && !only.includes(name)) continue;
    const wall: number[] = [];
    const cpu: number[] = [];
    for (let r = 0; r < runs; r++) {
      const box = await open();
      opts.ready?.(box);
      if (prof && !profiling && r >= (opts.profileFrom ?? 0)) {
        profiling = true;
        prof.connect();
        await prof.post('Profiler.enable');
        await prof.post('Profiler.start');
      }
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await fn(box);
      wall.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
      await box.close();
      opts.afterRun?.();
    }
    const ms = (v: number[]) => v.map((t) => t.toFixed(0)).join(', ');
    console.log(`${name}: min cpu ${Math.min(...cpu).toFixed(0)}; wall ${ms(wall)} ms; cpu ${ms(cpu)} ms${opts.extra ? `; ${opts.extra()}` : ''}`);
  }
  if (prof && profiling) writeFileSync(process.env.PROF!, JSON.stringify((await prof.post('Profiler.stop')).profile));
}
