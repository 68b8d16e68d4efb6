'use strict';
// Build time only (src/codecache-train.mjs): run a bundle exactly as its launcher does but without a cache,
// and when the process exits write the V8 code cache of every function compiled meanwhile, in the
// launcher's format. Never shipped and never run by a session.
// usage: node codecache-child.cjs DIST/<name>-launch.cjs OUT_FILE [program arguments...]
const fs = require('fs');

const [launch, out] = process.argv.splice(2, 2);
const { compile, runBundle, encodeCache } = require(launch);
const bundle = launch.replace(/-launch\.cjs$/, '.cjs');
const { script, bundleBytes } = compile(bundle, { useCache: false });
process.once('exit', () => {
  fs.writeFileSync(out, encodeCache(bundleBytes, script.createCachedData()), { mode: 0o644, flag: 'wx' });
});
process.argv[1] = bundle;
runBundle(bundle, script);
