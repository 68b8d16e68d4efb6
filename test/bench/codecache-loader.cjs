// Start-up experiment, not product code: run a bundle (dist/imapd.cjs) from a V8 code cache, as
// v8-compile-cache does, to measure what compiling the bundle costs every connection.
// usage: node codecache-loader.cjs CACHE_DIR BUNDLE [server args...]
// The cache is keyed by the bundle's size and mtime and written (temp file + rename) at the first exit.
'use strict';
const fs = require('fs');
const vm = require('vm');
const path = require('path');
const Module = require('module');

const [cacheDir, bundle] = process.argv.slice(2, 4);
const st = fs.statSync(bundle);
const cacheFile = path.join(cacheDir, `${path.basename(bundle)}-${st.size}-${Math.floor(st.mtimeMs)}.v8cache`);
let src = fs.readFileSync(bundle, 'utf8');
if (src.startsWith('#!')) src = '//' + src.slice(2);
let cached;
try { cached = fs.readFileSync(cacheFile); } catch { cached = undefined; }
const script = new vm.Script(Module.wrap(src), { filename: bundle, cachedData: cached });
if (!cached || script.cachedDataRejected) {
  // Written at exit, so functions compiled lazily during the session are in the cache too.
  process.once('exit', () => {
    try {
      fs.mkdirSync(cacheDir, { recursive: true });
      const tmp = `${cacheFile}.${process.pid}`;
      fs.writeFileSync(tmp, script.createCachedData());
      fs.renameSync(tmp, cacheFile);
    } catch { /* an experiment: never disturb the session */ }
  });
}
const mod = new Module(bundle, null);
mod.filename = bundle;
mod.paths = Module._nodeModulePaths(path.dirname(bundle));
process.argv.splice(1, 3, bundle);
script.runInThisContext().call(mod.exports, mod.exports, (id) => mod.require(id), mod, bundle, path.dirname(bundle));
