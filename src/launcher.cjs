'use strict';
// What bin/imapd, bin/dpop and bin/dmailctl run (copied by src/build.mjs to dist/<name>-launch.cjs): it
// runs the bundle dist/<name>.cjs through the V8 code cache dist/<name>.cjs.v8cache, so each
// per-connection process skips most of the parsing and compiling of JavaScript. The cache is made at build
// time (src/codecache-train.mjs: the bundle serves scripted sessions against a throw-away site, then V8
// serialises every function compiled so far); this file only ever reads it, never writes it.
//
// The cache is code that runs as root, so it is used only when it is certainly the one built for this
// bundle: opened once without following a symlink, checked on that descriptor (a regular file with one
// link, owned by root or the bundle's owner, writable by nobody else) in a directory with the same
// property on every step from / (a sticky directory may be on the way if the next step is ours: the rules
// of src/store/trust.ts), read from that descriptor, and then its header must name this bundle (length and
// CRC-32 of its bytes) and the payload's CRC-32 must match. A missing, untrusted, stale (another bundle) or V8-rejected cache (another node, other
// V8 flags) is ignored: the bundle compiles as without a cache, and the server logs the reason once at
// debug level (src/transport/code-cache.ts reads the note left below).
const fs = require('fs');
const path = require('path');
const vm = require('vm');
const Module = require('module');

const MAGIC = Buffer.from('DMAILV8\x02', 'latin1');
const HEADER = MAGIC.length + 12;
const MAX_CACHE = 64 << 20;
/** Where the server finds what happened to the cache (one note per process). */
const NOTE = Symbol.for('dmail.codeCache');

/**
 * zlib's CRC-32 (node >= 20.15; zlib is loaded by every bundle anyway). A check against accidents — a
 * damaged file, a cache left beside another build — not against an attacker: only root (or the bundle's
 * owner) can write a cache that is used at all. Measured: SHA-256 of the same 1.5 MB costs 36 M
 * instructions per process where the CPU lacks SHA extensions; CRC-32 under 1 M.
 */
function crc32(buf) {
  const z = require('zlib');
  return typeof z.crc32 === 'function' ? z.crc32(buf) : undefined;
}

/** The cache file format: MAGIC, bundle length, CRC-32 of the bundle bytes, CRC-32 of the payload
 *  (32-bit little-endian each), then V8's payload. */
function encodeCache(bundleBytes, payload) {
  const head = Buffer.alloc(HEADER);
  MAGIC.copy(head);
  const b = crc32(bundleBytes);
  if (b === undefined) throw new Error(`node ${process.version} has no zlib.crc32 (20.15 or later): no code cache`);
  head.writeUInt32LE(bundleBytes.length, MAGIC.length);
  head.writeUInt32LE(b, MAGIC.length + 4);
  head.writeUInt32LE(crc32(payload), MAGIC.length + 8);
  return Buffer.concat([head, payload]);
}

/** The one source text V8 compiles, with and without a cache (a cache is bound to its exact source). The
 *  bundle's `#!` line becomes a comment by a prefix, not by a replace() that would copy 670 KB once more
 *  at start-up (peak RSS is a bench target). */
function wrappedSource(bundleBytes) {
  const source = bundleBytes.toString('utf8');
  return Module.wrap(source.startsWith('#!') ? `//${source}` : source);
}

/** Why directory `dir` (absolute, no symlinks expected) is not safe for a file of `owners`, or ''. */
function unsafeDir(dir, owners) {
  const parts = dir.split('/').filter(Boolean);
  let cur = '/';
  let st = fs.lstatSync(cur);
  for (let i = 0; ; i++) {
    if (!st.isDirectory()) return `${cur} is not a directory`;
    if (!owners.includes(st.uid)) return `${cur} belongs to uid ${st.uid}`;
    const open = (st.mode & 0o022) !== 0;
    if (i === parts.length) return open ? `${cur} can be written by others` : '';
    const next = path.join(cur, parts[i]);
    if (open && !(st.mode & 0o1000)) return `${cur} can be written by others`;
    st = fs.lstatSync(next); // in a sticky directory the entry's owner is checked above as it is ours
    cur = next;
  }
}

/** The cache payload, or a reason why there is none to use. */
function readCache(cacheFile, bundleBytes, bundleUid) {
  const owners = bundleUid === 0 ? [0] : [0, bundleUid];
  let fd;
  try {
    fd = fs.openSync(cacheFile, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (e) {
    return { reason: e.code === 'ENOENT' ? 'no cache file' : e.code === 'ELOOP' ? 'the cache is a symlink' : `cannot open (${e.code || e.message})` };
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return { reason: 'the cache is not a regular file' };
    if (!owners.includes(st.uid)) return { reason: `the cache belongs to uid ${st.uid}` };
    if (st.mode & 0o022) return { reason: 'the cache can be written by others' };
    if (st.nlink !== 1) return { reason: 'the cache has other hard links' };
    if (st.size < HEADER || st.size > MAX_CACHE) return { reason: `the cache has a wrong size (${st.size})` };
    const dirProblem = unsafeDir(path.dirname(cacheFile), owners);
    if (dirProblem) return { reason: `untrusted directory: ${dirProblem}` };
    const data = Buffer.allocUnsafe(st.size);
    let got = 0;
    while (got < data.length) {
      const n = fs.readSync(fd, data, got, data.length - got, got);
      if (n === 0) break;
      got += n;
    }
    if (got !== data.length) return { reason: 'the cache was cut short' };
    if (!data.subarray(0, MAGIC.length).equals(MAGIC)) return { reason: 'not a cache file of this format' };
    const payload = data.subarray(HEADER);
    const bundleCrc = crc32(bundleBytes);
    if (bundleCrc === undefined) return { reason: `node ${process.version} has no zlib.crc32 to check it` };
    if (data.readUInt32LE(MAGIC.length) !== bundleBytes.length || data.readUInt32LE(MAGIC.length + 4) !== bundleCrc) {
      return { reason: 'stale (made for another bundle)' };
    }
    if (data.readUInt32LE(MAGIC.length + 8) !== crc32(payload)) return { reason: 'damaged (checksum mismatch)' };
    return { payload };
  } catch (e) {
    return { reason: `cannot read (${e.code || e.message})` };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Compile the bundle (through its cache when `useCache`) without running it. Returns the script, the
 * bundle's bytes and a note { file, used, reason? } also left on globalThis for the server's log.
 */
function compile(bundle, { useCache = true, cacheFile = `${bundle}.v8cache` } = {}) {
  const fd = fs.openSync(bundle, 'r');
  let bundleBytes;
  let uid;
  try {
    uid = fs.fstatSync(fd).uid;
    bundleBytes = fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  const file = cacheFile;
  const got = useCache ? readCache(file, bundleBytes, uid) : { reason: 'not asked for' };
  const script = new vm.Script(wrappedSource(bundleBytes), { filename: bundle, cachedData: got.payload });
  const note = { file, used: !!got.payload && !script.cachedDataRejected };
  if (got.reason) note.reason = got.reason;
  else if (script.cachedDataRejected) note.reason = 'rejected by V8 (another node or V8 flags?)';
  globalThis[NOTE] = note;
  return { script, bundleBytes, note };
}

/** Whether this process would use `cacheFile` for `bundle` (the build checks a new cache with it). */
function verify(bundle, cacheFile) {
  const { note } = compile(bundle, { cacheFile });
  return { ...note, size: fs.statSync(cacheFile).size };
}

/** Run a compiled bundle as the main module. */
function runBundle(bundle, script) {
  const mod = new Module(bundle, null);
  mod.filename = bundle;
  mod.paths = Module._nodeModulePaths(path.dirname(bundle));
  const fn = script.runInThisContext();
  fn.call(mod.exports, mod.exports, Module.createRequire(bundle), mod, bundle, path.dirname(bundle));
}

function main() {
  const bundle = __filename.replace(/-launch\.cjs$/, '.cjs');
  let compiled;
  try {
    compiled = compile(bundle);
  } catch (e) {
    if (e.code === undefined) throw e;
    process.stderr.write(`${path.basename(bundle, '.cjs')}: cannot read ${bundle} (${e.code}); run \`npm run build\`\n`);
    process.exit(1);
  }
  runBundle(bundle, compiled.script);
}

module.exports = { compile, runBundle, encodeCache, verify, MAGIC };
if (require.main === module) main();
