// The launcher files shipped in inetd/ really work: each xinetd service file and each systemd unit pair
// and each inetd.conf line is run for real (under systemd-socket-activate and the real OpenBSD inetd) (paths rewritten to this checkout and a test site, port moved
// to a random loopback one) and answers an IMAP or POP3 round trip.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeSite, mbox, ROOT, simpleMessage, type Site, removeSite } from '../helpers/site.js';
import { makeTestCert, type TestCert } from '../helpers/tls-cert.js';
import { expectNoServersLeft, openbsdInetd, socketActivate, xinetdWith, type Launched } from './launchers.js';
import { imapRoundTrip, popRoundTrip } from './roundtrip.js';

const INSTALL = '/usr/local/dmail-imapd';
let site: Site;
let cert: TestCert;
const running: Launched[] = [];

beforeAll(() => {
  cert = makeTestCert();
  site = makeSite({ tls_cert: cert.cert, tls_key: cert.key });
  site.addUser('bob', { pass: 'secret' });
  writeFileSync(site.drop('bob'), mbox([1, 2].map((i) => ({ text: simpleMessage(i) }))));
});
// Every server process a test started must be gone soon after its clients (a per-connection process that
// outlives its client holds a launcher slot and the mailbox; the launchers here do not kill them).
afterEach(async () => {
  if (site) await expectNoServersLeft(site.dir);
});
afterAll(async () => {
  for (const l of running) await l.stop();
  cert?.cleanup();
  if (site) removeSite(site.dir);
});

const localize = (text: string) => text.split(INSTALL).join(ROOT).split('/etc/dmail.conf').join(site.conf);
const read = (p: string) => readFileSync(join(ROOT, 'inetd', p), 'utf8');

async function roundTrip(kind: 'imap' | 'pop3', port: number, tls: boolean) {
  if (kind === 'imap') await imapRoundTrip(port, tls, { user: 'bob', pass: 'secret', exists: 2 });
  else await popRoundTrip(port, tls, { user: 'bob', pass: 'secret', count: 2 });
}

const SERVICES = [
  { file: 'dmail-imap', kind: 'imap', tls: false, unit: 'imapd', port: 143 },
  { file: 'dmail-pop3', kind: 'pop3', tls: false, unit: 'dpop', port: 110 },
  { file: 'dmail-imaps', kind: 'imap', tls: true, unit: 'imaps', port: 993 },
  { file: 'dmail-pop3s', kind: 'pop3', tls: true, unit: 'pop3s', port: 995 },
] as const;

describe.each(SERVICES)('inetd/xinetd.d/$file', (svc) => {
  it('runs under a private xinetd', async () => {
    const text = localize(read(`xinetd.d/${svc.file}`));
    expect(text).toMatch(/^\s*server\s*=\s*\S+$/m);
    const l = await xinetdWith((port) => text
      // A private instance: unlisted service on our own loopback port.
      .replace(/^(\s*)disable(\s*)= no$/m, `$1disable$2= no\n$1type = UNLISTED\n$1port = ${port}\n$1bind = 127.0.0.1`)
      .replace(/^\s*#bind.*$/m, ''));
    running.push(l);
    await roundTrip(svc.kind, l.port, svc.tls);
    await l.stop();
  });
});

function unitValue(text: string, key: string): string {
  const m = new RegExp(`^${key}=(.*)$`, 'm').exec(text);
  if (!m) throw new Error(`no ${key}=`);
  return m[1].trim();
}

describe.each(SERVICES)('inetd/systemd/$unit.socket + $unit@.service', (svc) => {
  it('the socket is Accept=yes on the standard port and the service line answers over the socket', async () => {
    const socket = read(`systemd/${svc.unit}.socket`);
    expect(unitValue(socket, 'ListenStream')).toBe(String(svc.port));
    expect(unitValue(socket, 'Accept')).toBe('yes');
    const service = localize(read(`systemd/${svc.unit}@.service`));
    expect(unitValue(service, 'StandardInput')).toBe('socket');
    expect(unitValue(service, 'StandardOutput')).toBe('socket');
    const l = await socketActivate('inetd', unitValue(service, 'ExecStart').split(/\s+/));
    running.push(l);
    await roundTrip(svc.kind, l.port, svc.tls);
    await l.stop();
  });
});

describe.each([
  { unit: 'imapd', kind: 'imap', port: 143, tls: false },
  { unit: 'dpop', kind: 'pop3', port: 110, tls: false },
  { unit: 'imaps', kind: 'imap', port: 993, tls: true },
  { unit: 'pop3s', kind: 'pop3', port: 995, tls: true },
] as const)('inetd/systemd/resident/$unit.socket + .service (Accept=no, resident mode)', (svc) => {
  it('one master accepts and serves every connection', async () => {
    const socket = read(`systemd/resident/${svc.unit}.socket`);
    expect(unitValue(socket, 'ListenStream')).toBe(String(svc.port));
    expect(unitValue(socket, 'Accept')).toBe('no');
    const service = localize(read(`systemd/resident/${svc.unit}.service`));
    expect(service).not.toMatch(/^StandardInput=/m);
    const l = await socketActivate('listen', unitValue(service, 'ExecStart').split(/\s+/));
    running.push(l);
    await roundTrip(svc.kind, l.port, svc.tls);
    await roundTrip(svc.kind, l.port, svc.tls); // sequential: a second POP3 login on one maildrop is IN-USE
    await l.stop();
  });
});

describe('inetd/inetd.conf', () => {
  const lines = read('inetd.conf').split('\n')
    .map((l) => l.replace(/^#(?=(imap|pop3|imaps|pop3s)\s)/, ''))
    .filter((l) => /^(imap|pop3|imaps|pop3s)\s/.test(l));

  it('has imap, pop3, imaps and pop3s lines, with and without tcpd', () => {
    const names = lines.map((l) => l.split(/\s+/)[0]);
    for (const n of ['imap', 'pop3', 'imaps', 'pop3s']) expect(names.filter((x) => x === n)).toHaveLength(2);
    expect(lines.filter((l) => l.includes('/usr/sbin/tcpd'))).toHaveLength(4);
  });

  // inetd execs field 6 with fields 7.. as argv (argv[0] first). tcpd then execs its argv[0] with the rest.
  it.each(['imap', 'pop3', 'imaps', 'pop3s'])('the %s line without tcpd runs as inetd would run it', async (name) => {
    const line = lines.find((l) => l.startsWith(`${name} `) && !l.includes('tcpd'))!;
    const [, type, proto, wait, user, server, , ...args] = localize(line).split(/\s+/);
    expect([type, proto, user]).toEqual(['stream', 'tcp', 'root']);
    expect(wait).toMatch(/^nowait/);
    const l = await socketActivate('inetd', [server, ...args]);
    running.push(l);
    await roundTrip(name.startsWith('imap') ? 'imap' : 'pop3', l.port, name.endsWith('s'));
    await l.stop();
  });

  // The lines as they are, under the real OpenBSD inetd (Debian's openbsd-inetd), with and without tcpd:
  // only the service field becomes a private loopback port and the paths this checkout and test site.
  it.each(['imap', 'pop3', 'imaps', 'pop3s'].flatMap((name) => [[name, false], [name, true]] as const))(
    'the %s line (tcpd: %s) serves a round trip under the real OpenBSD inetd', async (name, tcpd) => {
      const line = lines.find((l) => l.startsWith(`${name} `) && l.includes('tcpd') === tcpd)!;
      const l = await openbsdInetd((port) => [localize(line).replace(/^\S+/, `127.0.0.1:${port}`)]);
      running.push(l);
      await roundTrip(name.startsWith('imap') ? 'imap' : 'pop3', l.port, name.endsWith('s'));
      await l.stop();
    });

  it.each(['imap', 'pop3', 'imaps', 'pop3s'])('the tcpd %s line names the same program and arguments', (name) => {
    const plain = lines.find((l) => l.startsWith(`${name} `) && !l.includes('tcpd'))!.split(/\s+/);
    const wrapped = lines.find((l) => l.startsWith(`${name} `) && l.includes('tcpd'))!.split(/\s+/);
    expect(wrapped[5]).toBe('/usr/sbin/tcpd');
    expect(wrapped.slice(6)).toEqual([plain[5], ...plain.slice(7)]);
  });
});
