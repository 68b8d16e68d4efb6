// The Debian package (issue 15): built by `npm run package` from a clean clone of this repository,
// installed on this machine with dpkg, serving a test site through the INSTALLED files under xinetd, the
// real OpenBSD inetd and systemd-socket-activate, its man pages found by `man -w`, then removed and purged
// with nothing left but the administrator's own configuration. Root only (dpkg).
//
// /etc/pam.d/dmail is a conffile of the package, but other test files use that PAM service at the same
// time (test/auth/system-users.ts installs the same text from packaging/debian/pam): purging it would pull
// it from under them. So this test installs with --path-exclude for that one file and checks it in the
// package's data and conffiles instead.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSite, mbox, ROOT, simpleMessage, type Site, removeSite } from '../helpers/site.js';
import { openbsdInetd, socketActivate, xinetdWith, type Launched } from './launchers.js';
import { imapRoundTrip, popRoundTrip } from './roundtrip.js';

const canInstall = process.getuid?.() === 0 && spawnSync('dpkg', ['--version']).status === 0
  && spawnSync('git', ['-C', ROOT, 'rev-parse', 'HEAD']).status === 0;
const PKG = 'dmail-imapd';
const LIB = '/usr/lib/dmail-imapd';

let work: string;
let deb: string;
let site: Site;
const confExisted = existsSync('/etc/dmail.conf');
const running: Launched[] = [];

const dpkg = (...args: string[]) => execFileSync('dpkg', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
const install = () => dpkg('-i', '--path-exclude=/etc/pam.d/dmail', deb);
const installed = () => spawnSync('dpkg-query', ['-W', '-f=${Status}', PKG], { encoding: 'utf8' }).stdout.includes('ok installed');
const purge = () => { if (spawnSync('dpkg-query', ['-W', PKG]).status === 0) dpkg('--purge', PKG); };
const forSite = (text: string) => text.split('/etc/dmail.conf').join(site.conf);

beforeAll(() => {
  if (!canInstall) return;
  work = mkdtempSync(join(tmpdir(), 'dmail-pkg-'));
  const clone = join(work, 'clone');
  execFileSync('git', ['clone', '--quiet', ROOT, clone]);
  // The dependencies of a clean clone are those of package-lock.json: the ones installed here.
  symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'));
  const out = execFileSync('npm', ['run', '--silent', 'package'], { cwd: clone, encoding: 'utf8' });
  deb = out.trim().split('\n').pop()!;
  expect(deb).toMatch(/\/dmail-imapd_\d+\.\d+\.\d+_[a-z0-9]+\.deb$/);
  purge();
  site = makeSite();
  site.addUser('bob', { pass: 'secret' });
  rmSync(site.drop('bob'), { force: true });
  appendFileSync(site.drop('bob'), mbox([1, 2].map((i) => ({ text: simpleMessage(i) }))));
  install();
}, 180_000);

afterAll(async () => {
  for (const l of running) await l.stop();
  if (!canInstall) return;
  purge();
  if (!confExisted) rmSync('/etc/dmail.conf', { force: true });
  if (site) removeSite(site.dir);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!canInstall)('the Debian package', () => {
  it('holds the programs, the PAM conffile, units, launcher files and man pages; nothing is enabled', () => {
    expect(installed()).toBe(true);
    const files = execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8' });
    expect(files).toContain('./etc/pam.d/dmail');
    expect(execFileSync('dpkg-deb', ['-I', deb, 'conffiles'], { encoding: 'utf8' })).toBe('/etc/pam.d/dmail\n');
    const control = execFileSync('dpkg-deb', ['-f', deb], { encoding: 'utf8' });
    expect(control).toMatch(/^Depends: nodejs \(>= 20\)/m);
    expect(control).toMatch(/^Architecture: (?!all)/m);
    for (const p of ['dmail-imapd', 'dmail-dpop', 'dmailctl']) expect(lstatSync(`/usr/sbin/${p}`).isSymbolicLink()).toBe(true);
    const man = execFileSync('man', ['-w', 'dmail-imapd', 'dmail-dpop', 'dmailctl', 'dmail.conf'], { encoding: 'utf8' }).trim().split('\n');
    expect(man).toHaveLength(4);
    // postinst: /etc/dmail.conf only when there was none. The code caches are the package's own files
    // (trained at build time), root's, not writable by others.
    if (!confExisted) expect(readFileSync('/etc/dmail.conf', 'utf8')).toBe(readFileSync(join(ROOT, 'dmail.conf.example'), 'utf8'));
    for (const p of ['dmailctl', 'dpop', 'imapd']) expect(files).toMatch(new RegExp(`^-rw-r--r-- root/root .* \\./usr/lib/dmail-imapd/dist/${p}\\.cjs\\.v8cache$`, 'm'));
    expect(readdirSync(`${LIB}/dist`).filter((f) => f.endsWith('.v8cache')).sort()).toEqual(['dmailctl.cjs.v8cache', 'dpop.cjs.v8cache', 'imapd.cjs.v8cache']);
    // Made by this node, so the installed launcher uses it (the trust walk from / passes on /usr/lib).
    const used = execFileSync(process.execPath, ['-e', `process.stdout.write(String(require('${LIB}/dist/imapd-launch.cjs').compile('${LIB}/dist/imapd.cjs').note.used))`], { encoding: 'utf8' });
    expect(used).toBe('true');
    // Nothing enabled: no unit linked into a target, no line added to an inetd or xinetd configuration.
    expect(existsSync('/etc/systemd/system/sockets.target.wants/dmail-imapd.socket')).toBe(false);
    expect(existsSync('/etc/xinetd.d/dmail-imap')).toBe(false);
    expect(execFileSync(`${'/usr/sbin/dmailctl'}`, ['config', 'check', '-i', site.conf], { encoding: 'utf8' })).not.toMatch(/error/i);
  });

  it('is lintian clean', () => {
    const r = spawnSync('lintian', ['--tag-display-limit', '0', deb], { encoding: 'utf8' });
    expect(r.error, 'lintian is installed by .ci/run').toBeUndefined();
    expect(r.stdout.split('\n').filter((l) => /^[EWI]: /.test(l))).toEqual([]);
  }, 120_000);

  it('serves IMAP through the installed xinetd file', async () => {
    const text = forSite(readFileSync('/usr/share/dmail-imapd/xinetd.d/dmail-imap', 'utf8'));
    expect(text).toMatch(new RegExp(`server\\s*=\\s*${LIB}/bin/imapd`));
    const l = await xinetdWith((port) => text.replace(/^(\s*)disable(\s*)= no$/m, `$1disable$2= no\n$1type = UNLISTED\n$1port = ${port}\n$1bind = 127.0.0.1`).replace(/^\s*#bind.*$/m, ''));
    running.push(l);
    await imapRoundTrip(l.port, false, { user: 'bob', pass: 'secret', exists: 2 });
  });

  it('serves POP3 through the installed inetd.conf line under the real OpenBSD inetd', async () => {
    const line = readFileSync('/usr/share/dmail-imapd/inetd.conf', 'utf8').split('\n').find((x) => /^pop3\s/.test(x))!;
    expect(line).toContain(`${LIB}/bin/dpop`);
    const l = await openbsdInetd((port) => [forSite(line).replace(/^\S+/, `127.0.0.1:${port}`)]);
    running.push(l);
    await popRoundTrip(l.port, false, { user: 'bob', pass: 'secret', count: 2 });
  });

  it('serves IMAP through the installed systemd units under systemd-socket-activate', async () => {
    const socket = readFileSync('/lib/systemd/system/dmail-imapd.socket', 'utf8');
    expect(socket).toMatch(/^Accept=yes$/m);
    const service = forSite(readFileSync('/lib/systemd/system/dmail-imapd@.service', 'utf8'));
    const exec = /^ExecStart=(.*)$/m.exec(service)![1]!.trim().split(/\s+/);
    expect(exec[0]).toBe(`${LIB}/bin/imapd`);
    const l = await socketActivate('inetd', exec);
    running.push(l);
    await imapRoundTrip(l.port, false, { user: 'bob', pass: 'secret', exists: 2 });
  });

  it('dpkg -r removes every file it installed; --purge keeps only an edited /etc/dmail.conf', async () => {
    for (const l of running.splice(0)) await l.stop();
    const listed = dpkg('-L', PKG).split('\n').filter((p) => p.startsWith('/usr/lib/dmail-imapd') || p.startsWith('/usr/sbin/') || p.includes('dmail'));
    dpkg('-r', PKG);
    // Conffiles stay until purge (and /etc/pam.d/dmail was not installed here); shared directories stay.
    for (const p of listed) if (!p.startsWith('/etc/') && !['/usr/sbin', '/usr/lib'].includes(p)) expect(existsSync(p), p).toBe(false);
    expect(existsSync(LIB)).toBe(false);
    if (!confExisted) {
      appendFileSync('/etc/dmail.conf', '# a local change\n');
      dpkg('--purge', PKG);
      expect(readFileSync('/etc/dmail.conf', 'utf8')).toContain('# a local change');
      expect(existsSync('/var/lib/dmail-imapd')).toBe(false);
      // An untouched copy made by the package goes with the purge.
      rmSync('/etc/dmail.conf');
      install();
      expect(existsSync('/etc/dmail.conf')).toBe(true);
      dpkg('--purge', PKG);
      expect(existsSync('/etc/dmail.conf')).toBe(false);
    } else {
      dpkg('--purge', PKG);
    }
    expect(spawnSync('dpkg-query', ['-W', PKG]).status).not.toBe(0);
    expect(existsSync(LIB)).toBe(false);
  });
});
