// Kept apart from helpers.ts: helpers.ts is itself bundled into child scripts, and must not pull in esbuild.
import { join } from 'node:path';
import { build } from 'esbuild';
import { ROOT } from '../helpers/site.js';

/** Bundle a worker script from test/store/fixtures/ into `dir` for tests that run store code in another
 *  process (to kill it, or to hold locks the way a second server would). Returns the .cjs path. */
export async function buildWorker(name: string, dir: string): Promise<string> {
  return buildFixture(`test/store/fixtures/${name}.ts`, dir);
}

/** The same for any fixture script (`entry` relative to the repository root). */
export async function buildFixture(entry: string, dir: string): Promise<string> {
  const name = entry.replace(/^.*\//, '').replace(/\.ts$/, '');
  const out = join(dir, `${name}.cjs`);
  await build({
    entryPoints: [join(ROOT, entry)], outfile: out, bundle: true,
    platform: 'node', target: 'node20', format: 'cjs', external: ['fs-ext'], logLevel: 'error',
    // import('fs-ext') as require(), so the worker finds it via NODE_PATH and takes real fcntl locks
    // like a production process (ESM import() ignores NODE_PATH).
    supported: { 'dynamic-import': false },
    define: { 'import.meta.url': '__u' }, banner: { js: "const __u=require('url').pathToFileURL(__filename).href;" },
  });
  return out;
}
