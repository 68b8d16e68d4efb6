// The real built binaries (bin/imapd, bin/dpop, bin/dmailctl) under the launchers they are deployed with:
// systemd-socket-activate in inetd style, Accept=yes on fd 3, Accept=no (LISTEN_FDS), a private xinetd,
// and `dmailctl serve` / `dmailctl demo`. Each proves a greeting, CAPABILITY and LOGOUT (POP3: QUIT).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, makeSite, mbox, simpleMessage, type Site, removeSite } from '../helpers/site.js';
import { cleanEnv } from '../helpers/inetd.js';
import { makeTestCert, type TestCert } from '../helpers/tls-cert.js';
import { expectNoServersLeft, launch, socketActivate, xinetd, type Launched } from './launchers.js';
import { imapRoundTrip, popRoundTrip } from './roundtrip.js';
import { writeFileSync } from 'node:fs';

let site: Site;
let cert: TestCert;
const running: Launched[] = [];
const dirs: string[] = [];

beforeAll(() => {
  cert = makeTestCert();
  site = makeSite({ tls_cert: cert.cert, tls_key: cert.key });
  site.addUser('bob', { pass: 'secret' });
  writeFileSync(site.drop('bob'), mbox([1, 2, 3].map((i) => ({ text: simpleMessage(i) }))));
});
// Every server process a test started must be gone soon after its clients (a per-connection process that
// outlives its client holds a launcher slot and the mailbox; the launchers here do not kill them).
afterEach(async () => {
  if (site) await expectNoServersLeft(site.dir);
  for (const d of dirs) await expectNoServersLeft(d);
});
afterAll(async () => {
  for (const l of running) await l.stop();
  cert?.cleanup();
  if (site) removeSite(site.dir);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.each(['inetd', 'accept', 'listen'] as const)('systemd-socket-activate (%s)', (mode) => {
  it('imapd: greeting, CAPABILITY, LOGIN, SELECT, LOGOUT', async () => {
    const l = await socketActivate(mode, [BIN.imapd, '-i', site.conf]);
    running.push(l);
    await imapRoundTrip(l.port, false, { user: 'bob', pass: 'secret', exists: 3 });
    await imapRoundTrip(l.port);
    await l.stop();
  });

  it('dpop: greeting, login, STAT, QUIT', async () => {
    const l = await socketActivate(mode, [BIN.dpop, '-i', site.conf]);
    running.push(l);
    await popRoundTrip(l.port, false, { user: 'bob', pass: 'secret', count: 3 });
    await popRoundTrip(l.port);
    await l.stop();
  });
});

describe('implicit TLS (imaps / pop3s lines)', () => {
  it('imapd --tls and dpop --tls under systemd-socket-activate --inetd', async () => {
    const i = await socketActivate('inetd', [BIN.imapd, '-i', site.conf, '--tls']);
    running.push(i);
    await imapRoundTrip(i.port, true, { user: 'bob', pass: 'secret', exists: 3 });
    await i.stop();
    const p = await socketActivate('inetd', [BIN.dpop, '-i', site.conf, '--tls']);
    running.push(p);
    await popRoundTrip(p.port, true);
    await p.stop();
  });
});

describe('xinetd', () => {
  it('imapd and dpop under a private xinetd', async () => {
    const i = await xinetd(BIN.imapd, ['-i', site.conf], 'dmailtest-imap');
    running.push(i);
    await imapRoundTrip(i.port);
    await imapRoundTrip(i.port, false, { user: 'bob', pass: 'secret', exists: 3 });
    await i.stop();
    const p = await xinetd(BIN.dpop, ['-i', site.conf], 'dmailtest-pop');
    running.push(p);
    await popRoundTrip(p.port);
    await p.stop();
  });
});

describe('dmailctl serve and demo', () => {
  it('serve runs imapd and dpop per connection on loopback ports', async () => {
    const l = await launch((port) => spawn(BIN.dmailctl, ['serve', '-i', site.conf, '--imap-port', String(port), '--pop-port', String(port + 1)], {
      stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(),
    }), /^serving /m);
    running.push(l);
    expect(l.output()).toContain(`imap 127.0.0.1:${l.port}, pop3 127.0.0.1:${l.port + 1}`);
    await Promise.all([imapRoundTrip(l.port), popRoundTrip(l.port + 1, false, { user: 'bob', pass: 'secret', count: 3 })]);
    await l.stop();
  });

  it('demo builds a site with user demo/demo and six messages, reachable by IMAP and POP3', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dmail-demo-'));
    dirs.push(dir);
    const demoDir = join(dir, 'demo');
    const l = await launch((port) => spawn(BIN.dmailctl, ['demo', '--dir', demoDir, '--imap-port', String(port), '--pop-port', String(port + 1)], {
      stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(),
    }), /^serving /m);
    running.push(l);
    expect(l.output()).toContain(`telnet 127.0.0.1 ${l.port}`);
    await imapRoundTrip(l.port, false, { user: 'demo', pass: 'demo', exists: 6 });
    await popRoundTrip(l.port + 1, false, { user: 'demo', pass: 'demo', count: 6 });
    await l.stop();
    const check = spawnSync(BIN.dmailctl, ['config', 'check', '-i', join(demoDir, 'dmail.conf')], { encoding: 'utf8', env: cleanEnv() });
    expect(check.status).toBe(0);
    // Made by root, the demo allows root sessions, and config check says so (issue 13); otherwise clean.
    const root = process.getuid?.() === 0;
    expect(check.stderr).toContain(`${root ? 1 : 0} warning(s), 0 error(s)`);
    if (root) expect(check.stderr).toContain('warning: allow_root_login true');
  });
});

describe('logs', () => {
  it('after logins, no password is in any log, and lines carry pid, protocol and client', async () => {
    const i = await socketActivate('inetd', [BIN.imapd, '-i', site.conf]);
    running.push(i);
    await imapRoundTrip(i.port, false, { user: 'bob', pass: 'secret', exists: 3 });
    await i.stop();
    const p = await socketActivate('inetd', [BIN.dpop, '-i', site.conf]);
    running.push(p);
    await popRoundTrip(p.port, false, { user: 'bob', pass: 'secret', count: 3 });
    await p.stop();
    const files = readdirSync(site.logs).filter((f) => f.endsWith('.log'));
    expect(files).toEqual(expect.arrayContaining(['imapd.log', 'dpop.log']));
    for (const f of files) {
      const text = readFileSync(join(site.logs, f), 'utf8');
      expect(text).not.toContain('secret');
      const first = JSON.parse(text.split('\n')[0]) as Record<string, unknown>;
      expect(first.pid).toBeTypeOf('number');
      expect(first.protocol).toBe(f === 'imapd.log' ? 'imap' : 'pop3');
      expect(first.remote).toBe('127.0.0.1');
      expect(text).toContain('"user":"bob"'); // bound after login
    }
  });
});

describe('bin/ start-up errors', () => {
  it.each(['imapd', 'dpop'] as const)('bin/%s -i missing.conf: clear error, non-zero exit, no stack trace', (p) => {
    const r = spawnSync(BIN[p], ['-i', 'missing.conf'], { encoding: 'utf8', env: cleanEnv(), cwd: site.dir });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`${p}: cannot read configuration file ${join(site.dir, 'missing.conf')}: no such file\n`);
    expect(r.stdout).toBe('');
  });
});
