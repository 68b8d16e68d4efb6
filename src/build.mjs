// Bundles each per-connection entry point into one CommonJS file: one file to read and no module
// resolution at start-up, which inetd pays on every connection. Native addons and iconv-lite's big tables
// stay external and are loaded lazily by the code that needs them. Entries build independently so one
// broken entry does not stop the others from being usable; the exit code still reports any failure.
//
// bin/<name> are symlinks to dist/<name>-launch.cjs (src/launcher.cjs), which runs dist/<name>.cjs through
// a V8 code cache. Measured here: a symlink starts like `node dist/x.cjs` while an ESM shim importing the
// bundle costs ~25-50 ms more, and the code cache saves ~10 ms of CPU per start.
import { build } from 'esbuild';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entries = ['imapd', 'dpop', 'dmailctl'];
const launcher = readFileSync(join(root, 'src/launcher.cjs'), 'utf8');

const results = await Promise.allSettled(entries.map((e) => build({
  absWorkingDir: root,
  entryPoints: { [e]: `src/${e}.ts` },
  outdir: 'dist',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  legalComments: 'none',
  external: ['posix', 'fs-ext', 'authenticate-pam', 'iconv-lite'],
  // import() of externals becomes require(): plain CommonJS that the launcher's vm.Script can run.
  supported: { 'dynamic-import': false },
  // Source is ESM and may use import.meta.url; give the CJS bundle an equivalent.
  define: { 'import.meta.url': '__import_meta_url' },
  banner: { js: "#!/usr/bin/env node\nconst __import_meta_url=require('url').pathToFileURL(__filename).href;" },
  logLevel: 'error',
})));
const failed = entries.filter((_, i) => results[i].status === 'rejected');
for (const e of entries) {
  if (failed.includes(e)) continue;
  chmodSync(join(root, 'dist', `${e}.cjs`), 0o755);
  rmSync(join(root, 'dist', `${e}.cjs.v8cache`), { force: true }); // belongs to the previous bundle
  const launch = join(root, 'dist', `${e}-launch.cjs`);
  writeFileSync(launch, `#!/usr/bin/env node\n${launcher}`);
  chmodSync(launch, 0o755);
}
if (failed.length) {
  console.error(`build failed for: ${failed.join(', ')}`);
  process.exit(1);
}
