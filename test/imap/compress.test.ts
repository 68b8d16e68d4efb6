// RFC 4978 COMPRESS=DEFLATE over the real bin/imapd: the RFC's flow (capability, OK in plain, then raw
// deflate both ways, COMPRESSIONACTIVE), after STARTTLS, pipelined compressed input, half-close, a
// compressed "zip bomb" line and a client that stops reading (memory stays bounded: the child's peak
// RSS, never a timing), Python's zlib over a socket, and imapflow (which compresses when advertised).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { constants as zc, createDeflateRaw, createInflateRaw, deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ImapFlow } from 'imapflow';
import { BIN } from '../helpers/site.js';
import { listen } from '../helpers/listener.js';
import { RESIDENT } from '../helpers/resident.js';
import { makeTestCert } from '../helpers/tls-cert.js';
import { connectImap, imapFixture, last } from './imap-client.js';
import { setInbox } from '../maildir/site-store.js';

const fx = imapFixture();

// The resident mode offers COMPRESS only after login: the logged-in connection moves from the pre-login
// process to a worker as a bare socket, which a deflate stream begun before login could not follow
// (src/resident/README.md). Per-connection processes offer it from the greeting on (RFC 4978 allows both).
const BEFORE_LOGIN = !RESIDENT;

/** A line client speaking raw DEFLATE over `sock` (TCP or TLS), from the first byte it is given, or
 *  after one plain line (`plainFirst`: the OK of a COMPRESS sent with compressed commands behind it). */
function deflateClient(sock: Duplex, plainFirst = false) {
  const inf = createInflateRaw();
  const def = createDeflateRaw();
  let buf = '';
  let ended = false;
  let wake: (() => void) | null = null;
  let plain: Buffer | null = plainFirst ? Buffer.alloc(0) : null;
  let plainLine = '';
  sock.on('data', (d: Buffer) => {
    if (plain) {
      plain = Buffer.concat([plain, d]);
      const i = plain.indexOf('\r\n');
      if (i < 0) return;
      plainLine = plain.subarray(0, i).toString('latin1');
      d = plain.subarray(i + 2);
      plain = null;
      wake?.();
    }
    inf.write(d);
  });
  // What arrived before the close is still being inflated: the end counts once it is through.
  sock.on('close', () => { if (!inf.destroyed) inf.flush(() => { ended = true; wake?.(); }); else ended = true; wake?.(); });
  inf.on('data', (d: Buffer) => { buf += d.toString('latin1'); wake?.(); });
  inf.on('end', () => { ended = true; wake?.(); });
  inf.on('error', () => { ended = true; wake?.(); });
  def.on('data', (d: Buffer) => sock.write(d));
  const line = async (ms = 10_000): Promise<string> => {
    for (;;) {
      const i = buf.indexOf('\r\n');
      if (i >= 0) { const l = buf.slice(0, i); buf = buf.slice(i + 2); return l; }
      if (ended) throw new Error(`connection ended; buffered: ${buf.slice(0, 200)}`);
      await new Promise<void>((r, j) => { wake = r; setTimeout(() => j(new Error(`timeout; buffered: ${buf.slice(0, 200)}`)), ms); });
    }
  };
  const self = {
    inflater: inf,
    send(text: string | Buffer) { def.write(text); def.flush(zc.Z_SYNC_FLUSH); },
    /** Resolves once everything sent so far is compressed and written to the socket. */
    flushed(): Promise<void> { return new Promise((r) => def.flush(zc.Z_SYNC_FLUSH, () => r())); },
    line,
    async until(prefix: string, ms?: number): Promise<string[]> {
      const out: string[] = [];
      for (;;) { const l = await line(ms); out.push(l); if (l.startsWith(prefix)) return out; }
    },
    async cmd(tag: string, text: string): Promise<string[]> {
      self.send(`${tag} ${text}\r\n`);
      return self.until(`${tag} `);
    },
    /** Resolves once the server ended its deflate stream or the connection closed. */
    async ended(): Promise<void> {
      while (!ended) await new Promise<void>((r) => { wake = r; });
    },
    async plainLine(): Promise<string> {
      while (plain) await new Promise<void>((r) => { wake = r; });
      return plainLine;
    },
    /** Whatever the server sent that was not read as lines yet. */
    rest: () => buf,
  };
  return self;
}

/** Peak RSS (MB) of a running process, from /proc. */
function peakMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

describe('COMPRESS=DEFLATE (RFC 4978)', () => {
  it('advertises it, answers OK in plain, then compresses both ways; a second COMPRESS is NO [COMPRESSIONACTIVE]', async () => {
    const t = fx.site(3);
    const s = await connectImap(t.site);
    if (BEFORE_LOGIN) expect(s.greeting).toMatch(/ COMPRESS=DEFLATE[ \]]/);
    else expect(s.greeting).not.toMatch(/COMPRESS/);
    expect(last(await s.login())).toMatch(/OK/);
    const caps = await s.cmd('CAPABILITY');
    expect(caps[0]).toMatch(/^\* CAPABILITY .* COMPRESS=DEFLATE( |$)/);
    expect(last(caps)).toMatch(/OK/);
    expect(last(await s.cmd('COMPRESS DEFLATE'))).toMatch(/^t\d+ OK DEFLATE active$/);
    const z = deflateClient(s.c.socket);
    const sel = await z.cmd('b', 'SELECT INBOX');
    expect(sel).toContain('* 3 EXISTS');
    expect(last(sel)).toMatch(/^b OK \[READ-WRITE\]/);
    const f = await z.cmd('c', 'FETCH 2 BODY.PEEK[]');
    expect(f[0]).toMatch(/^\* 2 FETCH \(BODY\[\] \{\d+\}$/);
    expect(f.join('\n')).toContain('Hello, this is message 2.');
    expect(last(await z.cmd('d', 'COMPRESS DEFLATE'))).toMatch(/^d NO \[COMPRESSIONACTIVE\]/);
    expect(last(await z.cmd('e', 'NOOP'))).toBe('e OK NOOP completed');
    const bye = await z.cmd('f', 'LOGOUT');
    expect(bye[0]).toMatch(/^\* BYE/);
    expect(last(bye)).toMatch(/^f OK/);
    await z.ended();
    expect(await s.c.exited()).toBe(0);
  });

  it('refuses an unknown mechanism or a missing one with BAD and stays uncompressed; works before login', async () => {
    const t = fx.site(1);
    const s = await connectImap(t.site);
    expect(last(await s.cmd('COMPRESS LZW'))).toMatch(/^t\d+ BAD/);
    expect(last(await s.cmd('COMPRESS'))).toMatch(/^t\d+ BAD/);
    expect(last(await s.cmd('NOOP'))).toMatch(/^t\d+ OK/);
    if (!BEFORE_LOGIN) {
      // Not offered before login here: refused, and the connection goes on uncompressed.
      expect(last(await s.cmd('COMPRESS deflate'))).toMatch(/^t\d+ NO /);
      expect(last(await s.login())).toMatch(/OK/);
    }
    // Allowed in the not-authenticated state (RFC 4978's example compresses before LOGIN).
    expect(last(await s.cmd('COMPRESS deflate'))).toMatch(/^t\d+ OK/);
    const z = deflateClient(s.c.socket);
    if (BEFORE_LOGIN) expect(last(await z.cmd('a', 'LOGIN bob secret'))).toMatch(/^a OK/);
    expect(last(await z.cmd('b', 'STATUS INBOX (MESSAGES)'))).toBe('b OK STATUS completed');
    s.close();
  });

  it('inflates compressed input pipelined right behind the COMPRESS command', async () => {
    const t = fx.site(2);
    const s = await connectImap(t.site);
    expect(last(await s.login())).toMatch(/OK/);
    const z = deflateClient(s.c.socket, true);
    const compressed = deflateRawSync(Buffer.from('b SELECT INBOX\r\nc FETCH 1:2 (UID)\r\n'), { finishFlush: zc.Z_SYNC_FLUSH });
    // One write: the command in plain, the next ones compressed.
    s.c.socket.write(Buffer.concat([Buffer.from('a COMPRESS DEFLATE\r\n'), compressed]));
    expect(await z.plainLine()).toBe('a OK DEFLATE active');
    expect(last(await z.until('b '))).toMatch(/^b OK/);
    const f = await z.until('c ');
    expect(f.slice(0, 2)).toEqual(['* 1 FETCH (UID 1)', '* 2 FETCH (UID 2)']);
    s.close();
  });

  it('answers everything sent before a half-close, without the client finishing its deflate stream', async () => {
    const t = fx.site(2);
    const s = await connectImap(t.site);
    expect(last(await s.login())).toMatch(/OK/);
    expect(last(await s.cmd('COMPRESS DEFLATE'))).toMatch(/OK/);
    const z = deflateClient(s.c.socket);
    z.send('x SELECT INBOX\r\ny FETCH 2 (FLAGS)\r\n');
    await z.flushed(); // the compressed bytes go before the FIN
    s.c.socket.end();
    expect(last(await z.until('x '))).toMatch(/^x OK/);
    expect(last(await z.until('y '))).toBe('y OK FETCH completed');
    expect(await s.c.exited()).toBe(0);
  });

  it('STARTTLS then COMPRESS works (compression above TLS); STARTTLS after COMPRESS is refused', async () => {
    const cert = makeTestCert();
    fx.onCleanup(() => cert.cleanup());
    const t = fx.site(1, { tls_cert: cert.cert, tls_key: cert.key });
    const s = await connectImap(t.site);
    expect(last(await s.cmd('STARTTLS'))).toMatch(/OK/);
    const secure = tlsConnect({ socket: s.c.socket, rejectUnauthorized: false });
    await new Promise<void>((r, j) => { secure.once('secureConnect', () => r()); secure.once('error', j); });
    let plain = '';
    const onPlain = (d: Buffer) => { plain += d.toString('latin1'); };
    secure.on('data', onPlain);
    const plainLine = async () => {
      while (!plain.includes('\r\n')) await new Promise((r) => setTimeout(r, 5));
      const l = plain.slice(0, plain.indexOf('\r\n') + 2);
      plain = plain.slice(l.length);
      return l;
    };
    // Resident mode: log in first (over TLS, relayed by the pre-login process), then compress in the worker.
    if (!BEFORE_LOGIN) {
      secure.write('l LOGIN bob secret\r\n');
      expect(await plainLine()).toMatch(/^l OK /);
    }
    secure.write('a COMPRESS DEFLATE\r\n');
    expect(await plainLine()).toBe('a OK DEFLATE active\r\n');
    secure.removeListener('data', onPlain);
    const z = deflateClient(secure);
    if (BEFORE_LOGIN) expect(last(await z.cmd('b', 'LOGIN bob secret'))).toMatch(/^b OK/);
    expect(last(await z.cmd('c', 'SELECT INBOX'))).toMatch(/^c OK/);
    secure.destroy();

    const p = await connectImap(t.site);
    if (!BEFORE_LOGIN) expect(last(await p.login())).toMatch(/OK/);
    expect(last(await p.cmd('COMPRESS DEFLATE'))).toMatch(/OK/);
    const z2 = deflateClient(p.c.socket);
    expect(last(await z2.cmd('a', 'STARTTLS'))).toMatch(/^a BAD/);
    expect(last(await z2.cmd('b', 'NOOP'))).toMatch(/^b OK/);
    p.close();
  });

  it('garbage instead of deflate data ends the connection', async () => {
    const t = fx.site(1);
    const s = await connectImap(t.site);
    if (!BEFORE_LOGIN) expect(last(await s.login())).toMatch(/OK/);
    expect(last(await s.cmd('COMPRESS DEFLATE'))).toMatch(/OK/);
    s.c.socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0d, 0x0a]));
    expect(await s.c.exited()).toBe(0);
  });

  it('a compressed line of 200 MB (a few hundred KB on the wire) is refused without the server growing', async () => {
    const t = fx.site(1);
    const s = await connectImap(t.site);
    expect(last(await s.login())).toMatch(/OK/);
    expect(last(await s.cmd('COMPRESS DEFLATE'))).toMatch(/OK/);
    const z = deflateClient(s.c.socket);
    const def = createDeflateRaw({ level: 9 });
    def.on('data', (d: Buffer) => s.c.socket.write(d));
    def.write('bomb NOOP ');
    const zeros = Buffer.alloc(1 << 20, 0x41);
    for (let i = 0; i < 200; i++) def.write(zeros);
    def.write('\r\nnext NOOP\r\n');
    def.flush(zc.Z_SYNC_FLUSH);
    // The stream is not the one deflateClient sends on: read the answers only.
    expect(last(await z.until('bomb ', 30_000))).toMatch(/^bomb BAD Command line too long/);
    expect(last(await z.until('next '))).toMatch(/^next OK/);
    const peak = peakMb(s.c.serverPid());
    expect(peak, `peak RSS ${peak.toFixed(1)} MB`).toBeLessThan(120);
    s.close();
  });

  it('a client that stops reading compressed FETCH answers does not make the server buffer them', async () => {
    // 24 messages of 200 KB of base64 noise (it compresses to about 3/4): each FETCH 1:* is ~4.8 MB.
    // FETCH waits for the client every megabyte (backpressure through the compressor): the session
    // just waits, holding little, until the idle timeout drops it.
    const t = fx.site(0, { imapd_timeout: 2 });
    const body = (i: number) => `From: n${i}@example.com\nSubject: noise ${i}\n\n${randomBytes(150_000).toString('base64').replace(/.{76}/g, '$&\n')}\n`;
    setInbox(t.site, 'bob', Array.from({ length: 24 }, (_, i) => ({ text: body(i) })));
    const s = await connectImap(t.site);
    expect(last(await s.login())).toMatch(/OK/);
    expect(last(await s.cmd('SELECT INBOX'))).toMatch(/OK/);
    expect(last(await s.cmd('COMPRESS DEFLATE'))).toMatch(/OK/);
    const z = deflateClient(s.c.socket);
    s.c.socket.pause(); // never read again
    for (let i = 0; i < 40; i++) z.send(`f${i} FETCH 1:* BODY.PEEK[]\r\n`); // ~190 MB of answers if buffered
    const pid = s.c.serverPid();
    let peak = 0;
    const sample = setInterval(() => { try { peak = Math.max(peak, peakMb(pid)); } catch { /* exited */ } }, 50);
    const code = await s.c.exited(); // dropped by the idle timeout: nothing was read
    clearInterval(sample);
    expect(code, s.c.stderr()).toBe(0);
    const log = join(t.site.logs, 'imapd.log');
    const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
    expect(peak, `peak RSS ${peak.toFixed(1)} MB; log ${text.slice(-1500)}`).toBeGreaterThan(0);
    expect(peak, `peak RSS ${peak.toFixed(1)} MB`).toBeLessThan(120);
    expect(text).toMatch(/"reason":"timeout"/);
    s.close();
  }, 30_000);

  it('works for Python (zlib over a plain socket)', async () => {
    const t = fx.site(3);
    const l = await listen(BIN.imapd, ['-i', t.site.conf]);
    fx.onCleanup(() => void l.close());
    const py = `
import socket, sys, zlib
s = socket.create_connection(('127.0.0.1', ${l.port}))
f = s.makefile('rb')
def plain(cmd):
    s.sendall(cmd)
    while True:
        l = f.readline()
        if l.startswith(cmd.split(b' ')[0] + b' '): return l
f.readline()
r = plain(b'a LOGIN bob secret\\r\\n')
assert r.startswith(b'a OK') and b'COMPRESS=DEFLATE' in r, r
assert plain(b'b COMPRESS DEFLATE\\r\\n').startswith(b'b OK')
c = zlib.compressobj(6, zlib.DEFLATED, -15)
d = zlib.decompressobj(-15)
buf = b''
def cmd(tag, text):
    global buf
    s.sendall(c.compress(tag + b' ' + text + b'\\r\\n') + c.flush(zlib.Z_SYNC_FLUSH))
    out = []
    while True:
        i = buf.find(b'\\r\\n')
        if i >= 0:
            line, buf = buf[:i], buf[i + 2:]
            out.append(line)
            if line.startswith(tag + b' '): return b'\\n'.join(out)
            continue
        chunk = s.recv(65536)
        if not chunk: raise SystemExit('closed: ' + repr(buf[:200]))
        buf += d.decompress(chunk)
r = cmd(b'c', b'SELECT INBOX')
assert b'* 3 EXISTS' in r, r
r = cmd(b'd', b'FETCH 1:3 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
assert r.count(b'Subject: Test message') == 3, r
r = cmd(b'e', b'LOGOUT')
assert b'* BYE' in r and b'e OK' in r, r
print('python ok')
`;
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn('python3', ['-c', py], { stdio: ['ignore', 'pipe', 'pipe'] });
      let o = '';
      p.stdout.on('data', (d: Buffer) => (o += d.toString()));
      p.stderr.on('data', (d: Buffer) => (o += d.toString()));
      p.on('exit', (code) => (code === 0 ? resolve(o) : reject(new Error(o))));
    });
    expect(out).toContain('python ok');
  });

  it('imapflow negotiates it on its own and works over it', async () => {
    const t = fx.site(3);
    const l = await listen(BIN.imapd, ['-i', t.site.conf]);
    fx.onCleanup(() => void l.close());
    const c = new ImapFlow({ host: '127.0.0.1', port: l.port, secure: false, auth: { user: 'bob', pass: 'secret' }, logger: false });
    await c.connect();
    const lock = await c.getMailboxLock('INBOX');
    try {
      const msgs = [];
      for await (const m of c.fetch('1:*', { uid: true, envelope: true, source: true })) msgs.push(m);
      expect(msgs.map((m) => m.envelope!.subject)).toEqual(['Test message 1', 'Test message 2', 'Test message 3']);
      expect(msgs[2]!.source!.toString()).toContain('Hello, this is message 3.');
      await c.messageFlagsAdd('1', ['\\Flagged']);
      expect(await c.search({ flagged: true })).toEqual([1]);
    } finally {
      lock.release();
    }
    await c.logout();
    await l.close();
    expect(readFileSync(join(t.site.logs, 'imapd.log'), 'utf8')).toContain('COMPRESS DEFLATE active');
  });
});
