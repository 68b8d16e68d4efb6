// Transports through the real entry-point code (bundled echo fixture): inetd socket on fd 0/1, plain pipes,
// STARTTLS and implicit TLS with an openssl-made certificate, the output cap, the idle timeout, and the
// start-up failures an administrator sees.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Duplex } from 'node:stream';
import { connect, createServer, type Socket } from 'node:net';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants as zc, createDeflateRaw, createInflateRaw } from 'node:zlib';
import { inetdConnect, cleanEnv } from '../helpers/inetd.js';
import { makeSite, type Site, removeSite } from '../helpers/site.js';
import { makeTestCert, type TestCert } from '../helpers/tls-cert.js';
import { buildEcho } from './echo-build.js';

let echo: { file: string; cleanup: () => void };
let cert: TestCert;
const sites: Site[] = [];

beforeAll(async () => {
  echo = await buildEcho();
  cert = makeTestCert();
});
afterAll(() => {
  echo?.cleanup();
  cert?.cleanup();
  for (const s of sites) removeSite(s.dir);
});

function site(extra: Record<string, string | number | boolean> = {}): Site {
  const s = makeSite(extra);
  sites.push(s);
  return s;
}

const logOf = (s: Site, program = 'imapd') => {
  const p = join(s.logs, `${program}.log`);
  return existsSync(p) ? readFileSync(p, 'utf8') : '';
};

/** Line reader over any stream. */
function lines(stream: NodeJS.ReadableStream) {
  let buf = '';
  let closed = false;
  const waiters: (() => void)[] = [];
  stream.on('data', (d: Buffer) => { buf += d.toString('latin1'); waiters.splice(0).forEach((w) => w()); });
  stream.on('end', () => { closed = true; waiters.splice(0).forEach((w) => w()); });
  stream.on('close', () => { closed = true; waiters.splice(0).forEach((w) => w()); });
  return async function next(ms = 10_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = buf.indexOf('\r\n');
      if (i >= 0) { const l = buf.slice(0, i); buf = buf.slice(i + 2); return l; }
      if (closed) throw new Error(`closed; buffered ${JSON.stringify(buf.slice(0, 200))}`);
      if (Date.now() > deadline) throw new Error(`timeout; buffered ${JSON.stringify(buf.slice(0, 200))}`);
      await new Promise<void>((r) => { waiters.push(r); setTimeout(r, 200); });
    }
  };
}


/** The echo fixture as classic inetd and xinetd start it: the accepted connection on fds 0, 1 and 2. */
async function underInetd(conf: string): Promise<{ client: Socket; child: ChildProcess }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const client = connect((server.address() as { port: number }).port, '127.0.0.1');
  const sock = await accepted;
  server.close();
  const child = spawn(process.execPath, [echo.file, '-i', conf], { stdio: [sock, sock, sock], env: cleanEnv() });
  sock.destroy();
  return { client, child };
}

describe('inetd socket on fd 0/1', () => {
  it('greets with the peer and local addresses, echoes, quits and exits 0', async () => {
    const s = site();
    const c = await inetdConnect(process.execPath, [echo.file, '-i', s.conf]);
    expect(await c.line()).toBe('* OK echo secure=false tls=false remote=127.0.0.1 local=127.0.0.1');
    c.send('hello there\r\n');
    expect(await c.line()).toBe('ECHO hello there');
    c.send('QUIT\r\n');
    expect(await c.line()).toBe('BYE');
    expect(await c.exited()).toBe(0);
    const log = logOf(s);
    const first = JSON.parse(log.split('\n')[0]) as Record<string, unknown>;
    expect(first).toMatchObject({ program: 'imapd', protocol: 'imap', remote: '127.0.0.1', local: '127.0.0.1', msg: 'echo session start' });
    expect(first.pid).toBeTypeOf('number');
    expect(log).not.toContain('hunter2');
    expect(log).toContain('"password":"[redacted]"');
    expect(c.stderr()).toBe('');
  });

  it('a client that goes away ends the process', async () => {
    const s = site();
    const c = await inetdConnect(process.execPath, [echo.file, '-i', s.conf]);
    await c.line();
    c.close();
    expect(await c.exited()).toBe(0);
    expect(logOf(s)).toMatch(/"reason":"(eof|error|closed)"/);
  });
});

describe('a client that half-closes after pipelining', () => {
  it('still gets the answers to slow commands; the protocol told of the end closes at once after them', async () => {
    const s = site();
    const c = await inetdConnect(process.execPath, [echo.file, '-i', s.conf]);
    await c.line();
    c.socket.end('SLOW 1500\r\nafter\r\n'); // FIN right after the commands
    expect(await c.line()).toBe('ECHO after');
    expect(await c.line(5000)).toBe('OK slow 1500');
    expect(await c.exited()).toBe(0);
    expect(logOf(s)).toContain('input ended, nothing pending');
    expect(logOf(s)).toContain('"reason":"closed"');
  });

  it('a protocol with no onEnd handler: the connection closes after a silent grace period', async () => {
    const s = site();
    const c = await inetdConnect(process.execPath, [echo.file, '-i', s.conf], { ECHO_NO_ONEND: '1' });
    await c.line();
    c.socket.end('SLOW 1500\r\nafter\r\n');
    expect(await c.line()).toBe('ECHO after');
    expect(await c.line(5000)).toBe('OK slow 1500');
    expect(await c.exited()).toBe(0);
    expect(logOf(s)).not.toContain('input ended');
    expect(logOf(s)).toContain('"reason":"eof"');
  });
});

describe('plain pipes (run by hand)', () => {
  it('serves over stdin/stdout with local defaults for the addresses', async () => {
    const s = site();
    const child = spawn(process.execPath, [echo.file, '--config', s.conf], { stdio: ['pipe', 'pipe', 'pipe'], env: cleanEnv({ ECHO_PROGRAM: 'dpop' }) });
    const next = lines(child.stdout!);
    expect(await next()).toBe('* OK echo secure=false tls=false remote=127.0.0.1 local=127.0.0.1');
    child.stdin!.write('one\r\ntwo\r\n');
    expect(await next()).toBe('ECHO one');
    expect(await next()).toBe('ECHO two');
    child.stdin!.end('three\r\n'); // pipelined then EOF: the answer still comes
    expect(await next()).toBe('ECHO three');
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(0);
    expect(logOf(s, 'dpop')).toContain('"protocol":"pop3"');
  });

  it('takes addresses from TCPREMOTEIP/TCPLOCALIP when a launcher sets them', async () => {
    const s = site();
    const child = spawn(process.execPath, [echo.file, '-i', s.conf], { stdio: ['pipe', 'pipe', 'pipe'], env: cleanEnv({ TCPREMOTEIP: '192.0.2.7', TCPLOCALIP: '198.51.100.1' }) });
    const next = lines(child.stdout!);
    expect(await next()).toBe('* OK echo secure=false tls=false remote=192.0.2.7 local=198.51.100.1');
    child.stdin!.end();
    await new Promise((r) => child.on('exit', r));
  });

  it('STARTTLS works over a pair of pipes', async () => {
    const s = site({ tls_cert: cert.cert, tls_key: cert.key });
    const child = spawn(process.execPath, [echo.file, '-i', s.conf], { stdio: ['pipe', 'pipe', 'pipe'], env: cleanEnv() });
    let plain = '';
    const onPlain = (d: Buffer) => { plain += d.toString('latin1'); };
    child.stdout!.on('data', onPlain);
    child.stdin!.write('STARTTLS\r\n');
    for (let i = 0; i < 100 && !plain.includes('OK begin TLS\r\n'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(plain).toContain('tls=true');
    child.stdout!.removeListener('data', onPlain);
    const duplex = Duplex.from({ readable: child.stdout!, writable: child.stdin! });
    duplex.on('error', () => {}); // the child closing its end is expected
    const secure = tlsConnect({ socket: duplex as never, rejectUnauthorized: false });
    secure.on('error', () => {});
    const next = lines(secure);
    expect(await next()).toBe('OK secure=true');
    secure.write('QUIT\r\n');
    expect(await next()).toBe('BYE');
    expect(await new Promise((r) => child.on('exit', r))).toBe(0);
  });
});

describe('TLS', () => {
  it('STARTTLS upgrades the inetd socket in place', async () => {
    const s = site({ tls_cert: cert.cert, tls_key: cert.key });
    const c = await inetdConnect(process.execPath, [echo.file, '-i', s.conf]);
    expect(await c.line()).toContain('tls=true');
    c.send('STARTTLS\r\n');
    expect(await c.line()).toBe('OK begin TLS');
    const secure: TLSSocket = tlsConnect({ socket: c.socket, rejectUnauthorized: false });
    const next = lines(secure);
    expect(await next()).toBe('OK secure=true');
    secure.write('after tls\r\n');
    expect(await next()).toBe('ECHO after tls');
    expect(secure.getPeerCertificate().subject.CN).toBe('localhost');
    secure.write('QUIT\r\n');
    expect(await next()).toBe('BYE');
    expect(await c.exited()).toBe(0);
  });

  it('--tls speaks TLS from the first byte (imaps/pop3s)', async () => {
    const s = site({ tls_cert: cert.cert, tls_key: cert.key, tls_min_version: 'TLSv1.3' });
    const c = await inetdConnect(process.execPath, [echo.file, '-i', s.conf, '--tls']);
    const secure = tlsConnect({ socket: c.socket, rejectUnauthorized: false });
    const next = lines(secure);
    expect(await next()).toBe('* OK echo secure=true tls=true remote=127.0.0.1 local=127.0.0.1');
    expect(secure.getProtocol()).toBe('TLSv1.3');
    secure.write('QUIT\r\n');
    expect(await next()).toBe('BYE');
    expect(await c.exited()).toBe(0);
  });

  it('--tls: a client that never starts the handshake is dropped at the login timeout', async () => {
    const s = site({ tls_cert: cert.cert, tls_key: cert.key, imapd_login_timeout: 1 });
    const c = await inetdConnect(process.execPath, [echo.file, '-i', s.conf, '--tls']);
    expect(await c.exited()).toBe(1);
    expect(logOf(s)).toContain('implicit TLS failed');
    c.close();
  });

  // A port probe or health check: connect, then close without a ClientHello (or with half of one). The
  // TLS socket is half-open like the raw one, so it only ends; the process must not wait for the timeout.
  it.each([['no ClientHello', ''], ['half a ClientHello', '\x16\x03\x01\x02\x00\x01']])(
    '--tls: a client that leaves before the handshake (%s) ends the process at once, exit 0', async (_, bytes) => {
      const s = site({ tls_cert: cert.cert, tls_key: cert.key });
      const c = await inetdConnect(process.execPath, [echo.file, '-i', s.conf, '--tls']);
      if (bytes) c.send(Buffer.from(bytes, 'latin1'));
      c.socket.end();
      expect(await c.exited()).toBe(0);
      expect(logOf(s)).toContain('the client left before the handshake');
    });

  it('STARTTLS: a client that leaves before the handshake ends the process at once', async () => {
    const s = site({ tls_cert: cert.cert, tls_key: cert.key });
    const c = await inetdConnect(process.execPath, [echo.file, '-i', s.conf]);
    expect(await c.line()).toContain('tls=true');
    c.send('STARTTLS\r\n');
    expect(await c.line()).toBe('OK begin TLS');
    c.socket.end();
    expect(await c.exited()).toBe(0);
  });

  it('--tls without a certificate fails with a logged reason and no protocol garbage', async () => {
    const s = site();
    const c = await inetdConnect(process.execPath, [echo.file, '-i', s.conf, '--tls']);
    expect(await c.exited()).toBe(1);
    expect(logOf(s)).toContain('implicit TLS failed');
  });
});

describe('limits', () => {
  it('drops a client that stops reading once pending output passes max_output_buffer', async () => {
    const s = site({ max_output_buffer: 1_000_000 });
    const c = await inetdConnect(process.execPath, [echo.file, '-i', s.conf]);
    await c.line();
    c.socket.pause(); // stop reading: the kernel buffers fill, then ours
    c.send('BIG 200000000\r\n');
    expect(await c.exited()).toBe(0);
    expect(logOf(s)).toContain('"reason":"overflow"');
    c.close();
  });

  it('with COMPRESS the cap counts what waits in the compressor: a non-reader of a huge answer is dropped', async () => {
    const s = site({ max_output_buffer: 1_000_000 });
    const c = await inetdConnect(process.execPath, [echo.file, '-i', s.conf]);
    await c.line();
    c.send('COMPRESS\r\n');
    expect(await c.line()).toBe('OK compress');
    const z = createDeflateRaw();
    z.on('data', (d: Buffer) => c.send(d));
    const inf = createInflateRaw();
    let echoed = '';
    c.socket.on('data', (d: Buffer) => inf.write(d));
    inf.on('data', (d: Buffer) => { echoed += d.toString('latin1'); });
    z.write('hello\r\n');
    z.flush(zc.Z_SYNC_FLUSH);
    while (!echoed.includes('\r\n')) await new Promise((r) => setTimeout(r, 10));
    expect(echoed).toBe('ECHO hello\r\n');
    c.socket.pause(); // stop reading
    // 200 MB of 'x' compresses to a few hundred KB: only counting the compressor's input catches it.
    z.write('BIG 200000000\r\n');
    z.flush(zc.Z_SYNC_FLUSH);
    expect(await c.exited()).toBe(0);
    expect(logOf(s)).toContain('"reason":"overflow"');
    c.close();
  });

  it('idle timeout: the protocol says goodbye, then the connection closes', async () => {
    const s = site();
    const c = await inetdConnect(process.execPath, [echo.file, '-i', s.conf]);
    await c.line();
    c.send('TIMEOUT 1\r\n');
    expect(await c.line()).toBe('OK timeout set');
    expect(await c.line(5000)).toBe('* BYE idle');
    expect(await c.exited()).toBe(0);
    expect(logOf(s)).toContain('"reason":"timeout"');
  });
});

describe('start-up failures', () => {
  it('a missing config: clear message on stderr, non-zero exit, no stack trace', async () => {
    const child = spawn(process.execPath, [echo.file, '-i', '/nonexistent/dmail.conf'], { stdio: ['pipe', 'pipe', 'pipe'], env: cleanEnv() });
    let err = '';
    let out = '';
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => (out += d));
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).not.toBe(0);
    expect(err).toContain('cannot read configuration file /nonexistent/dmail.conf: no such file');
    expect(err).not.toMatch(/\n\s+at /);
    expect(out).toBe(''); // stdout is a pipe here, not a client socket: nothing on it
  });

  it('a missing config under inetd: the client gets a protocol goodbye', async () => {
    const c = await inetdConnect(process.execPath, [echo.file, '-i', '/nonexistent/dmail.conf']);
    expect(await c.line()).toBe('* BYE Server configuration error, try again later');
    expect(await c.exited()).toBe(1);
  });

  it('an unknown argument is refused with usage', async () => {
    const child = spawn(process.execPath, [echo.file, '--bogus'], { stdio: ['pipe', 'pipe', 'pipe'], env: cleanEnv() });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    expect(await new Promise((r) => child.on('exit', r))).toBe(2);
    expect(err).toContain('unknown argument "--bogus"');
    expect(err).toContain('usage:');
  });

  it('under inetd with stderr on the client socket too, admin messages never reach the client', async () => {
    const s = site();
    const notADir = join(s.dir, 'file');
    writeFileSync(notADir, '');
    writeFileSync(s.conf, readFileSync(s.conf, 'utf8').replace(/^log_path .*$/m, `log_path ${notADir}`));
    const { client, child } = await underInetd(s.conf);
    const next = lines(client);
    expect(await next()).toContain('* OK echo');
    client.write('QUIT\r\n');
    expect(await next()).toBe('BYE');
    expect(await new Promise((r) => child.on('exit', r))).toBe(0);
    await expect(next(2000)).rejects.toThrow(/closed; buffered ""/);
    client.destroy();
  });

  it('under inetd with stderr on the client socket, Node\'s own warnings go to the log, never to the client', async () => {
    const s = site();
    const { client, child } = await underInetd(s.conf);
    let all = '';
    client.on('data', (d: Buffer) => (all += d.toString('latin1')));
    const closed = new Promise((r) => client.on('close', r));
    client.write('WARN\r\n');
    while (!all.includes('OK warned\r\n')) await new Promise((r) => setTimeout(r, 20));
    client.write('QUIT\r\n');
    expect(await new Promise((r) => child.on('exit', r))).toBe(0);
    await closed;
    expect(all).toMatch(/^\* OK echo[^\n]*\r\nOK warned\r\nBYE\r\n$/);
    expect(logOf(s)).toContain('echo test warning');
  });

  it('a log that cannot be opened: told once on stderr, still serving', async () => {
    const s = site();
    const notADir = join(s.dir, 'file');
    writeFileSync(notADir, '');
    writeFileSync(s.conf, readFileSync(s.conf, 'utf8').replace(/^log_path .*$/m, `log_path ${notADir}`));
    const c = await inetdConnect(process.execPath, [echo.file, '-i', s.conf]);
    expect(await c.line()).toContain('* OK echo');
    c.send('QUIT\r\n');
    expect(await c.line()).toBe('BYE');
    expect(await c.exited()).toBe(0);
    expect(c.stderr()).toMatch(/cannot open log file .*imapd\.log/);
    expect(c.stderr().match(/cannot open log file/g)).toHaveLength(1);
  });
});
