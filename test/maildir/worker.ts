// Bundle a child-process script from test/maildir/fixtures/ for tests that run maildir store code in
// other processes (to race them, or to kill them). fs-ext stays external and is found through
// NODE_PATH, so the child takes real fcntl locks (view slots) like a production process.
import { join } from 'node:path';
import { build } from 'esbuild';
import { ROOT } from '../helpers/site.js';

export async function buildMaildirWorker(name: string, dir: string): Promise<string> {
  const out = join(dir, `${name}.cjs`);
  await build({
    entryPoints: [join(ROOT, `test/maildir/fixtures/${name}.ts`)], outfile: out, bundle: true,
    platform: 'node', target: 'node20', format: 'cjs', external: ['fs-ext'], logLevel: 'error',
    supported: { 'dynamic-import': false },
    define: { 'import.meta.url': '__u' }, banner: { js: "const __u=require('url').pathToFileURL(__filename).href;" },
  });
  return out;
}

/** Environment for a worker: only what it needs, plus extra variables (e.g. DMAIL_STORE_KILLPOINT). */
export function workerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', NODE_PATH: join(ROOT, 'node_modules'), ...extra };
}
