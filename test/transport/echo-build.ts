// Bundles test fixtures (fixtures/echo-entry.ts, ...) exactly as src/build.mjs bundles the real entry points.
import { build } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/site.js';

export function buildEcho(): Promise<{ file: string; cleanup: () => void }> {
  return buildFixture('echo-entry');
}

/** Bundle test/transport/fixtures/<name>.ts into a temp dir. */
export async function buildFixture(name: string): Promise<{ file: string; cleanup: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'dmail-fixture-'));
  const file = join(dir, `${name}.cjs`);
  await build({
    absWorkingDir: ROOT,
    entryPoints: [join(ROOT, `test/transport/fixtures/${name}.ts`)],
    outfile: file,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    nodePaths: [join(ROOT, 'node_modules')],
    external: ['posix', 'fs-ext', 'authenticate-pam'],
    define: { 'import.meta.url': '__import_meta_url' },
    banner: { js: "const __import_meta_url=require('url').pathToFileURL(__filename).href;" },
    logLevel: 'error',
  });
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
