'use strict';
// What bin/imapd, bin/dpop and bin/dmailctl run (copied by src/build.mjs to dist/<name>-launch.cjs): it
// loads the bundle dist/<name>.cjs through a V8 code cache kept beside it, so each per-connection process
// skips most of the JavaScript compilation (measured: about 10 ms less CPU per imapd start, ~20%).
//
// The cache is only an optimisation: a missing, stale (bundle newer), foreign-owned or V8-rejected cache
// is ignored and, where this process may, rewritten atomically when the process exits. Only a cache owned
// by the bundle's owner and not writable by group/others is trusted, and only that owner writes one.
const fs = require('fs');
const path = require('path');
const vm = require('vm');
const Module = require('module');

const bundle = __filename.replace(/-launch\.cjs$/, '.cjs');
const cacheFile = `${bundle}.v8cache`;

function run() {
  let st;
  let source;
  try {
    st = fs.statSync(bundle);
    source = fs.readFileSync(bundle, 'utf8');
  } catch (e) {
    process.stderr.write(`${path.basename(bundle, '.cjs')}: cannot read ${bundle} (${e.code || e.message}); run \`npm run build\`\n`);
    process.exit(1);
  }
  let cached;
  try {
    const cs = fs.statSync(cacheFile);
    if (cs.uid === st.uid && (cs.mode & 0o022) === 0 && cs.mtimeMs >= st.mtimeMs) cached = fs.readFileSync(cacheFile);
  } catch {
    // no cache yet
  }
  const script = new vm.Script(Module.wrap(source.replace(/^#!.*/, '')), { filename: bundle, cachedData: cached });
  const mayWrite = typeof process.geteuid !== 'function' || process.geteuid() === st.uid;
  if ((!cached || script.cachedDataRejected) && mayWrite) {
    // At exit the cache also holds the functions this run compiled lazily.
    process.once('exit', () => {
      if (typeof process.geteuid === 'function' && process.geteuid() !== st.uid) return; // privileges dropped
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      try {
        fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o644 });
        fs.renameSync(tmp, cacheFile);
      } catch {
        try { fs.unlinkSync(tmp); } catch { /* nothing written */ }
      }
    });
  }
  const mod = new Module(bundle, null);
  mod.filename = bundle;
  mod.paths = Module._nodeModulePaths(path.dirname(bundle));
  const fn = script.runInThisContext();
  fn.call(mod.exports, mod.exports, Module.createRequire(bundle), mod, bundle, path.dirname(bundle));
}

run();
