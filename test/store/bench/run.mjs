#!/usr/bin/env node
// Builds a bench script with esbuild and runs it (no TS runtime needed).
// Usage: node test/store/bench/run.mjs [script.ts] [args]  (default open-100k.ts [messages]); BENCH_NODE_FLAGS="--cpu-prof
// --cpu-prof-dir=D" passes node flags to the script's process (NODE_OPTIONS may not carry --cpu-prof).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const args = process.argv.slice(2);
const script = args[0]?.endsWith('.ts') ? args.shift() : 'open-100k.ts';
const out = mkdtempSync(join(tmpdir(), 'store-bench-build-'));
try {
  await build({
    entryPoints: [join(here, script)], outfile: join(out, 'b.cjs'), bundle: true, platform: 'node',
    target: 'node20', format: 'cjs', external: ['fs-ext'], logLevel: 'error',
    define: { 'import.meta.url': '__u' }, // One import.meta.url for the whole bundle: the test helpers' own place, so their repo-relative paths hold.
    banner: { js: `const __u=${JSON.stringify(pathToFileURL(join(root, 'test/helpers/site.ts')).href)};` },
  });
  execFileSync(process.execPath, [...(process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(" ") : []), join(out, "b.cjs"), ...args], { stdio: 'inherit', env: { ...process.env, NODE_PATH: join(root, 'node_modules') } });
} finally {
  rmSync(out, { recursive: true, force: true });
}
