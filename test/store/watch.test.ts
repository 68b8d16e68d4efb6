// watchPaths (src/store/watch.ts): changes by another process are reported, for paths that exist, that
// appear later, and that are replaced by rename; nothing after stop.
import { describe, it, expect, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchPaths } from '../../src/store/watch.js';

const dir = mkdtempSync(join(tmpdir(), 'store-watch-'));
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

/** Another process changes the file (as an MDA would). */
const sh = (cmd: string) => expect(spawnSync('sh', ['-c', cmd]).status).toBe(0);

describe('watchPaths', () => {
  it('reports changes by other processes to existing, new and replaced paths', async () => {
    const spool = join(dir, 'spool');
    const log = join(dir, 'x.modlog');
    writeFileSync(spool, 'From a\n');
    let calls = 0;
    let wake: (() => void) | null = null;
    const changed = () => new Promise<void>((r) => { wake = r; });
    const stop = watchPaths([spool, log], () => { calls++; const w = wake; wake = null; w?.(); }, 50);
    try {
      let p = changed();
      sh(`printf 'more\\n' >> ${spool}`);
      await p;
      p = changed();
      sh(`printf 'log' > ${log}`);
      await p;
      p = changed();
      writeFileSync(join(dir, 'tmp'), 'compacted');
      renameSync(join(dir, 'tmp'), log);
      await p;
      // The new inode is watched too.
      p = changed();
      sh(`printf 'again' >> ${log}`);
      await p;
    } finally { stop(); }
    const before = calls;
    sh(`printf 'after\\n' >> ${spool}`);
    // Give a poll and a debounce the chance to (wrongly) fire: both are timers, so run past them.
    await new Promise((r) => setTimeout(r, 200));
    expect(calls).toBe(before);
  });
});
