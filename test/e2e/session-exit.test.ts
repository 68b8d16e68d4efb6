// A per-connection server ends when its client goes, under the real xinetd (which puts the socket on fd 0,
// 1 and 2): after LOGOUT/QUIT, when the client drops without a word (before, during or after the TLS
// handshake, implicit or STARTTLS/STLS), and when the idle timeout ends a client that stays connected.
// Then a client dropping before the TLS handshake under the other per-connection launchers (systemd in
// inetd style and with fd 3, the real OpenBSD inetd when .ci/run unpacked it).
// Each case finds the server process holding the connection and requires it to be gone within a generous
// bound (10 s; a bound, not a timing: a lingering process stays for the whole idle timeout, minutes).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { existsSync, writeFileSync } from 'node:fs';
import { BIN, makeSite, mbox, removeSite, simpleMessage, type Site } from '../helpers/site.js';
import { makeTestCert, type TestCert } from '../helpers/tls-cert.js';
import { expectNoServersLeft, gone, OPENBSD_INETD, openbsdInetd, serverPidOf, socketActivate, xinetd, type Launched } from './launchers.js';

let cert: TestCert;
let site: Site;
/** The same users, with short idle timeouts (1 s) for the timeout cases. */
let quick: Site;
const running: Launched[] = [];

beforeAll(() => {
  cert = makeTestCert();
  site = makeSite({ tls_cert: cert.cert, tls_key: cert.key });
  quick = makeSite({ tls_cert: cert.cert, tls_key: cert.key, imapd_login_timeout: 1, imapd_timeout: 1, pop_timeout: 1 });
  for (const s of [site, quick]) {
    s.addUser('bob', { pass: 'secret' });
    writeFileSync(s.drop('bob'), mbox([1, 2].map((i) => ({ text: simpleMessage(i) }))));
  }
});
afterEach(async () => {
  await expectNoServersLeft(site.dir);
  await expectNoServersLeft(quick.dir);
});
afterAll(async () => {
  for (const l of running) await l.stop();
  cert?.cleanup();
  for (const s of [site, quick]) if (s) removeSite(s.dir);
});

type Kind = 'imap' | 'pop3';
const launchers = new Map<string, Launched>();

/** One private xinetd per (program, TLS, site), shared by the cases. */
async function service(kind: Kind, tls: boolean, s: Site = site): Promise<Launched> {
  const key = `${kind} ${tls} ${s.dir}`;
  let l = launchers.get(key);
  if (!l) {
    l = await xinetd(kind === 'imap' ? BIN.imapd : BIN.dpop, ['-i', s.conf, ...(tls ? ['--tls'] : [])], `dmailexit${launchers.size}`);
    launchers.set(key, l);
    running.push(l);
  }
  return l;
}

/** A line reader over a plain or TLS socket. */
function lines(sock: Socket) {
  let buf = '';
  let ended = false;
  const waiters: (() => void)[] = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  const onData = (d: Buffer) => { buf += d.toString('latin1'); wake(); };
  sock.on('data', onData);
  sock.on('close', () => { ended = true; wake(); });
  sock.on('error', () => { ended = true; wake(); });
  return {
    async line(): Promise<string> {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const i = buf.indexOf('\r\n');
        if (i >= 0) { const l = buf.slice(0, i); buf = buf.slice(i + 2); return l; }
        if (ended || Date.now() > deadline) throw new Error(`no line; buffered ${JSON.stringify(buf)}`);
        await new Promise<void>((r) => { waiters.push(r); setTimeout(r, 100); });
      }
    },
    async until(prefix: string): Promise<string[]> {
      const out: string[] = [];
      for (;;) { const l = await this.line(); out.push(l); if (l.startsWith(prefix)) return out; }
    },
    /** Stop reading here (before a STARTTLS upgrade takes the socket over). */
    detach() { sock.removeListener('data', onData); },
    closed: () => ended,
  };
}

async function tcp(port: number): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  await new Promise<void>((res, rej) => { s.once('connect', res); s.once('error', rej); });
  return s;
}

async function tlsOver(port: number, raw?: Socket): Promise<TLSSocket> {
  const s = tlsConnect({ ...(raw ? { socket: raw } : { port, host: '127.0.0.1' }), rejectUnauthorized: false });
  await new Promise<void>((res, rej) => { s.once('secureConnect', res); s.once('error', rej); });
  return s;
}

/** Connect (plain TCP, or TLS with `tls`), find the server process, run `then`, return its pid. */
async function withServer(l: Launched, tls: boolean, then: (sock: Socket, r: ReturnType<typeof lines>) => Promise<void>): Promise<number> {
  const sock = tls ? await tlsOver(l.port) : await tcp(l.port);
  const pid = await serverPidOf(l.port, sock.localPort!);
  await then(sock, lines(sock));
  return pid;
}

async function login(kind: Kind, r: ReturnType<typeof lines>, sock: Socket, greeted = false): Promise<void> {
  if (kind === 'imap') {
    if (!greeted) expect(await r.line()).toMatch(/^\* OK/);
    sock.write('a LOGIN bob secret\r\n');
    expect((await r.until('a ')).pop()).toMatch(/^a OK/);
    sock.write('b SELECT INBOX\r\n');
    expect((await r.until('b ')).pop()).toMatch(/^b OK/);
  } else {
    if (!greeted) expect(await r.line()).toMatch(/^\+OK/);
    sock.write('USER bob\r\n');
    expect(await r.line()).toMatch(/^\+OK/);
    sock.write('PASS secret\r\n');
    expect(await r.line()).toMatch(/^\+OK/);
    sock.write('STAT\r\n');
    expect(await r.line()).toMatch(/^\+OK 2 /);
  }
}

async function bye(kind: Kind, r: ReturnType<typeof lines>, sock: Socket): Promise<void> {
  sock.write(kind === 'imap' ? 'z LOGOUT\r\n' : 'QUIT\r\n');
  expect((await r.until(kind === 'imap' ? 'z ' : '+OK')).pop()).toMatch(/^(z OK|\+OK)/);
}

/** Upgrade a plain session with STARTTLS / STLS; returns the TLS socket and its reader. */
async function startTls(kind: Kind, port: number, sock: Socket, r: ReturnType<typeof lines>) {
  expect(await r.line()).toMatch(/^(\* OK|\+OK)/);
  sock.write(kind === 'imap' ? 's STARTTLS\r\n' : 'STLS\r\n');
  expect((await r.until(kind === 'imap' ? 's ' : '+OK')).pop()).toMatch(/^(s OK|\+OK)/);
  r.detach();
  const t = await tlsOver(port, sock);
  return { t, rt: lines(t) };
}

describe.each(['imap', 'pop3'] as const)('%s under xinetd: the server process ends with the session', (kind) => {
  it('implicit TLS: LOGOUT/QUIT after login, the client closes', async () => {
    const l = await service(kind, true);
    const pid = await withServer(l, true, async (sock, r) => {
      await login(kind, r, sock);
      await bye(kind, r, sock);
      sock.end();
    });
    expect(await gone(pid)).toBe(true);
  });

  it('implicit TLS: the client drops after login without LOGOUT/QUIT', async () => {
    const l = await service(kind, true);
    const pid = await withServer(l, true, async (sock, r) => {
      await login(kind, r, sock);
      sock.destroy();
    });
    expect(await gone(pid)).toBe(true);
  });

  it('implicit TLS: the client connects and drops before the TLS handshake', async () => {
    const l = await service(kind, true);
    const pid = await withServer(l, false, async (sock) => { sock.end(); });
    expect(await gone(pid)).toBe(true);
  });

  it('implicit TLS: the client drops in the middle of the TLS handshake', async () => {
    const l = await service(kind, true);
    const pid = await withServer(l, false, async (sock) => {
      // A ClientHello's record header only: the server waits for the rest, then sees the end.
      sock.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
      sock.end();
    });
    expect(await gone(pid)).toBe(true);
  });

  it('implicit TLS: the client completes the handshake and drops without a word', async () => {
    const l = await service(kind, true);
    const pid = await withServer(l, true, async (sock, r) => {
      expect(await r.line()).toMatch(/^(\* OK|\+OK)/);
      sock.destroy();
    });
    expect(await gone(pid)).toBe(true);
  });

  it(`${kind === 'imap' ? 'STARTTLS' : 'STLS'}: the client drops before the handshake`, async () => {
    const l = await service(kind, false);
    const pid = await withServer(l, false, async (sock, r) => {
      expect(await r.line()).toMatch(/^(\* OK|\+OK)/);
      sock.write(kind === 'imap' ? 's STARTTLS\r\n' : 'STLS\r\n');
      expect((await r.until(kind === 'imap' ? 's ' : '+OK')).pop()).toMatch(/^(s OK|\+OK)/);
      sock.end();
    });
    expect(await gone(pid)).toBe(true);
  });

  it(`${kind === 'imap' ? 'STARTTLS' : 'STLS'}: login over TLS, then LOGOUT/QUIT, and a drop without it`, async () => {
    const l = await service(kind, false);
    for (const polite of [true, false]) {
      const pid = await withServer(l, false, async (sock, r) => {
        const { t, rt } = await startTls(kind, l.port, sock, r);
        await login(kind, rt, t, true);
        if (polite) { await bye(kind, rt, t); t.end(); } else t.destroy();
      });
      expect(await gone(pid)).toBe(true);
    }
  });

  it('the idle timeout ends a silent client that stays connected (implicit TLS: before and after the handshake)', async () => {
    const l = await service(kind, true, quick);
    const socks: Socket[] = [];
    try {
      // Never starts the handshake.
      const before = await withServer(l, false, async (sock) => { socks.push(sock); });
      // Greeted, then silent.
      const after = await withServer(l, true, async (sock, r) => { socks.push(sock); expect(await r.line()).toMatch(/^(\* OK|\+OK)/); });
      expect(await gone(before)).toBe(true);
      expect(await gone(after)).toBe(true);
    } finally {
      for (const s of socks) s.destroy();
    }
  });
});

// The other per-connection launchers: the same code ends the same sessions (fd 2 is the client under the
// OpenBSD inetd as under xinetd; systemd passes the socket on fd 0/1, or on fd 3 without inetd style).
const OTHERS = [
  { name: 'systemd-socket-activate --inetd', start: (cmd: string[]) => socketActivate('inetd', cmd) },
  { name: 'systemd-socket-activate --accept (fd 3)', start: (cmd: string[]) => socketActivate('accept', cmd) },
  ...(existsSync(OPENBSD_INETD) ? [{
    name: 'OpenBSD inetd',
    start: (cmd: string[]) => openbsdInetd((port) => [`127.0.0.1:${port} stream tcp nowait root ${cmd[0]} ${cmd[0].split('/').pop()} ${cmd.slice(1).join(' ')}`]),
  }] : []),
];

describe.each(OTHERS)('$name: implicit TLS', ({ start }) => {
  it.each(['imap', 'pop3'] as const)('%s: a client that drops before the handshake', async (kind) => {
    // (LOGOUT/QUIT round trips under these launchers: deploy-files.test.ts, with the same leftover check.)
    const l = await start([kind === 'imap' ? BIN.imapd : BIN.dpop, '-i', site.conf, '--tls']);
    running.push(l);
    const pid = await withServer(l, false, async (sock) => { sock.end(); });
    expect(await gone(pid)).toBe(true);
    await l.stop();
  });
});
