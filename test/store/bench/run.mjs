#!/usr/bin/env node
// Builds open-100k.ts with esbuild and runs it (no TS runtime needed). Usage: node test/store/bench/run.mjs [messages]
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const out = mkdtempSync(join(tmpdir(), 'store-bench-build-'));
try {
  await build({
    entryPoints: [join(here, 'open-100k.ts')], outfile: join(out, 'b.cjs'), bundle: true, platform: 'node',
    target: 'node20', format: 'cjs', external: ['fs-ext'], logLevel: 'error',
    define: { 'import.meta.url': '__u' }, banner: { js: "const __u=require('url').pathToFileURL(__filename).href;" },
  });
  execFileSync(process.execPath, [join(out, 'b.cjs'), ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, NODE_PATH: join(root, 'node_modules') } });
} finally {
  rmSync(out, { recursive: true, force: true });
}
