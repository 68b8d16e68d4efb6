// `npm run package`: dmail-imapd_<version>_<arch>.deb from this checkout — its tracked launcher files and
// docs, the built bundles and manual pages in dist/ (the npm script builds first), and the runtime native
// modules from node_modules (compiled for this architecture, hence an arch-specific package). Written to
// dist/pkg/. Needs dpkg-deb; no root (dpkg-deb --root-owner-group makes every file root's).
//
// Layout (README.Debian says the same to the administrator):
//   /usr/lib/dmail-imapd/{dist,bin,node_modules,package.json}   bin/imapd etc. as in a checkout
//   /usr/sbin/dmail-imapd, dmail-dpop, dmailctl                  on the PATH; the dmail- prefix avoids
//                                                                 uw-imapd's and others' imapd names
//   /usr/share/dmail-imapd/{dmail.conf.example,inetd.conf,xinetd.d/}   launcher files, paths rewritten
//   /lib/systemd/system/dmail-*.socket|service                   inetd/systemd/ renamed with the prefix
//   /etc/pam.d/dmail (conffile); /etc/dmail.conf made by postinst only when absent
//   /usr/share/man/man{5,8}/*, /usr/share/doc/dmail-imapd/*
import { execFileSync } from 'node:child_process';
import {
  chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync,
  statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const here = join(root, 'packaging', 'debian');
const INSTALLED = '/usr/lib/dmail-imapd';
const CHECKOUT = '/usr/local/dmail-imapd'; // the path the launcher files in inetd/ are written for
const PROGRAMS = { imapd: 'dmail-imapd', dpop: 'dmail-dpop', dmailctl: 'dmailctl' };
// Modules the bundles leave external (src/build.mjs), and what they need at run time ("nan" is only a
// compile-time header library).
const RUNTIME_MODULES = ['posix', 'fs-ext', 'authenticate-pam', 'iconv-lite'];
const BUILD_ONLY = new Set(['nan']);

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const version = pkg.version;
const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
for (const p of Object.keys(PROGRAMS)) {
  if (!existsSync(join(root, 'dist', `${p}.cjs`))) throw new Error(`dist/${p}.cjs missing: run npm run build`);
  if (!existsSync(join(root, 'dist', `${p}.cjs.v8cache`))) console.error(`warning: dist/${p}.cjs.v8cache missing (built by node < 20.15?): packaged without it`);
}

const stage = mkdtempSync(join(tmpdir(), 'dmail-deb-'));
chmodSync(stage, 0o755); // the package's / : dpkg-deb takes its mode
const at = (p) => join(stage, p);
const dir = (p) => { mkdirSync(at(p), { recursive: true, mode: 0o755 }); return at(p); };
const file = (p, data, mode = 0o644) => { dir(dirname(p)); writeFileSync(at(p), data); chmodSync(at(p), mode); };
const gz = (data) => gzipSync(Buffer.from(data), { level: 9 }); // no name or time in the header: reproducible

try {
  // --- the program tree ---
  const lib = INSTALLED.slice(1);
  dir(`${lib}/dist`);
  for (const p of Object.keys(PROGRAMS)) {
    for (const f of [`${p}.cjs`, `${p}-launch.cjs`]) {
      copyFileSync(join(root, 'dist', f), at(`${lib}/dist/${f}`));
      chmodSync(at(`${lib}/dist/${f}`), 0o755);
    }
    // The V8 code cache the build trained for this bundle (src/codecache-train.mjs), root's like the rest:
    // the launcher uses it only with the node it was made by, and ignores it otherwise.
    if (existsSync(join(root, 'dist', `${p}.cjs.v8cache`))) file(`${lib}/dist/${p}.cjs.v8cache`, readFileSync(join(root, 'dist', `${p}.cjs.v8cache`)));
  }
  copyFileSync(join(root, 'dmail.conf.example'), at(`${lib}/dmail.conf.example`)); // dmailctl man reads it
  file(`${lib}/package.json`, JSON.stringify({ name: pkg.name, version, private: true, type: 'module' }, null, 2) + '\n');
  dir(`${lib}/bin`);
  for (const p of Object.keys(PROGRAMS)) symlinkSync(`../dist/${p}-launch.cjs`, at(`${lib}/bin/${p}`));
  dir('usr/sbin');
  for (const [p, name] of Object.entries(PROGRAMS)) symlinkSync(`../lib/dmail-imapd/dist/${p}-launch.cjs`, at(`usr/sbin/${name}`));

  // --- runtime node_modules: the external modules and their dependencies, without build leftovers ---
  const seen = new Set();
  const addModule = (name) => {
    if (seen.has(name) || BUILD_ONLY.has(name)) return;
    const src = join(root, 'node_modules', name);
    if (!existsSync(src)) {
      if (name === 'authenticate-pam') return; // optional dependency: PAM is then unavailable, as in a checkout
      throw new Error(`node_modules/${name} missing: run npm ci`);
    }
    seen.add(name);
    cpSync(src, at(`${lib}/node_modules/${name}`), {
      recursive: true,
      // Only what runs: no build leftovers, tests, examples or the authors' dotfiles and CI files.
      filter: (s) => !/\/(obj\.target|\.deps|test|tests|example\.js|run_tests\.js|wscript|appveyor\.yml|\.[^/]+)(\/|$)|\.(o|mk|gypi?|cc|h|d)$|Makefile$/.test(relative(src, s) === '' ? '' : '/' + relative(src, s)),
    });
    const deps = JSON.parse(readFileSync(join(src, 'package.json'), 'utf8')).dependencies ?? {};
    for (const d of Object.keys(deps)) addModule(d);
  };
  for (const m of RUNTIME_MODULES) addModule(m);
  // Native addons are shared objects: not executable, and stripped of debugging symbols (Debian policy).
  walk(at(`${lib}/node_modules`), (r, e) => {
    if (!e.isFile() || !r.endsWith('.node')) return;
    const f = at(`${lib}/node_modules/${r}`);
    chmodSync(f, 0o644);
    execFileSync('strip', ['--strip-unneeded', '--remove-section=.comment', '--remove-section=.note', f]);
  });

  // --- launcher files, paths rewritten to the installed tree ---
  const localize = (t) => t.split(CHECKOUT).join(INSTALLED);
  dir('usr/share/dmail-imapd/xinetd.d');
  file('usr/share/dmail-imapd/dmail.conf.example', readFileSync(join(root, 'dmail.conf.example')));
  file('usr/share/dmail-imapd/inetd.conf', localize(readFileSync(join(root, 'inetd', 'inetd.conf'), 'utf8')));
  for (const f of readdirSync(join(root, 'inetd', 'xinetd.d'))) {
    file(`usr/share/dmail-imapd/xinetd.d/${f}`, localize(readFileSync(join(root, 'inetd', 'xinetd.d', f), 'utf8')));
  }
  // systemd units get the dmail- prefix (imapd.socket → dmail-imapd.socket, imapd@.service →
  // dmail-imapd@.service), and every reference between them follows.
  const units = readdirSync(join(root, 'inetd', 'systemd')).filter((f) => /\.(socket|service)$/.test(f));
  const renamed = new Map(units.map((u) => [u, u.startsWith('dmail-') ? u : `dmail-${u}`]));
  const bases = [...new Set(units.map((u) => u.replace(/@?\.(socket|service)$/, '')))].sort((a, b) => b.length - a.length);
  for (const u of units) {
    let text = localize(readFileSync(join(root, 'inetd', 'systemd', u), 'utf8'));
    text = text.replace(new RegExp(`(?<![\\w/.-])(${bases.map((b) => b.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})(?=@?\\.(socket|service)\\b)`, 'g'), (b) => (b.startsWith('dmail-') ? b : `dmail-${b}`));
    file(`lib/systemd/system/${renamed.get(u)}`, text);
  }

  // --- configuration, docs, manual pages ---
  file('etc/pam.d/dmail', readFileSync(join(here, 'pam')));
  const doc = 'usr/share/doc/dmail-imapd';
  file(`${doc}/copyright`, readFileSync(join(here, 'copyright')));
  file(`${doc}/README.Debian`, readFileSync(join(here, 'README.Debian')));
  file(`${doc}/README.md.gz`, gz(readFileSync(join(root, 'README.md'))));
  const when = new Date(Number(execFileSync('git', ['-C', root, 'log', '-1', '--format=%ct'], { encoding: 'utf8' }).trim() || Date.now() / 1000) * 1000);
  // A native package (no Debian revision): changelog.gz, not changelog.Debian.gz.
  file(`${doc}/changelog.gz`, gz(`dmail-imapd (${version}) unstable; urgency=medium\n\n  * Package built from the project's checkout (npm run package).\n\n -- ${controlField('Maintainer')}  ${when.toUTCString().replace(/GMT$/, '+0000')}\n`));
  for (const page of readdirSync(join(root, 'dist', 'man'))) {
    const section = page.slice(page.lastIndexOf('.') + 1);
    file(`usr/share/man/man${section}/${page}.gz`, gz(readFileSync(join(root, 'dist', 'man', page))));
  }

  // --- DEBIAN/ ---
  const sizeKb = Math.ceil(duBytes(stage) / 1024);
  dir('DEBIAN');
  file('DEBIAN/control', readFileSync(join(here, 'control.in'), 'utf8')
    .replace('@VERSION@', version).replace('@ARCH@', arch).replace('@SIZE@', String(sizeKb)));
  file('DEBIAN/conffiles', '/etc/pam.d/dmail\n');
  for (const s of ['postinst', 'prerm', 'postrm']) file(`DEBIAN/${s}`, readFileSync(join(here, s)), 0o755);
  file('DEBIAN/md5sums', md5sums(stage));

  const out = join(root, 'dist', 'pkg');
  mkdirSync(out, { recursive: true });
  const deb = join(out, `dmail-imapd_${version}_${arch}.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', stage, deb], { stdio: ['ignore', 'ignore', 'inherit'] });
  console.log(deb);
} finally {
  rmSync(stage, { recursive: true, force: true });
}

function controlField(name) {
  return new RegExp(`^${name}: (.*)$`, 'm').exec(readFileSync(join(here, 'control.in'), 'utf8'))[1];
}

function walk(base, cb, rel = '') {
  for (const e of readdirSync(join(base, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) walk(base, cb, r);
    else cb(r, e);
  }
}

function duBytes(base) {
  let n = 0;
  walk(base, (r, e) => { if (e.isFile()) n += statSync(join(base, r)).size; });
  return n;
}

function md5sums(base) {
  const lines = [];
  walk(base, (r, e) => {
    if (!e.isFile() || r.startsWith('DEBIAN/') || r.startsWith('etc/')) return;
    lines.push(`${createHash('md5').update(readFileSync(join(base, r))).digest('hex')}  ${r}`);
  });
  return lines.sort().join('\n') + '\n';
}
