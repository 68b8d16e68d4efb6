// Runs once, before any test file: the suites exec the real built binaries (bin/* -> dist/*), so the
// bundles must exist and match the source. `npm test` builds first; this covers `vitest` run alone.
// No test file may rebuild dist/ itself: rewriting dist/<name>-launch.cjs while another file's test execs
// it fails that exec with ETXTBSY (seen in CI).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

export default function setup(): void {
  const bundles = ['imapd', 'dpop', 'dmailctl'].flatMap((n) => [`dist/${n}.cjs`, `dist/${n}-launch.cjs`]).map((f) => join(ROOT, f));
  const built = bundles.every(existsSync) ? Math.min(...bundles.map((f) => statSync(f).mtimeMs)) : 0;
  if (built >= Math.max(newest(join(ROOT, 'src')), statSync(join(ROOT, 'package.json')).mtimeMs)) return;
  execFileSync(process.execPath, [join(ROOT, 'src/build.mjs')], { cwd: ROOT, stdio: 'inherit' });
}
