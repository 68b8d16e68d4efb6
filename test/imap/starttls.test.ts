// STARTTLS and login_disabled (LOGINDISABLED) against the real binary with an openssl-made certificate.
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCert, type TestCert } from '../helpers/tls-cert.js';
import { connectImap, last, siteWithMessages, type TestSite } from './imap-client.js';

let t: TestSite;
let cert: TestCert;
beforeAll(() => {
  cert = makeTestCert();
  t = siteWithMessages(2, { tls_cert: cert.cert, tls_key: cert.key, login_disabled: true });
});
afterAll(() => {
  t.cleanup();
  cert.cleanup();
});

/** Line reader over the TLS side of the connection. */
function tlsLines(sock: TLSSocket) {
  let buf = '';
  let wake: (() => void) | null = null;
  sock.on('data', (d: Buffer) => { buf += d.toString('latin1'); wake?.(); });
  const line = async (): Promise<string> => {
    for (;;) {
      const i = buf.indexOf('\r\n');
      if (i >= 0) { const l = buf.slice(0, i); buf = buf.slice(i + 2); return l; }
      await new Promise<void>((r, j) => { wake = r; setTimeout(() => j(new Error(`timeout: ${buf}`)), 10_000); });
    }
  };
  return {
    async cmd(tag: string, text: string): Promise<string[]> {
      sock.write(`${tag} ${text}\r\n`);
      const out: string[] = [];
      for (;;) { const l = await line(); out.push(l); if (l.startsWith(`${tag} `)) return out; }
    },
  };
}

describe('STARTTLS', () => {
  it('advertises STARTTLS and LOGINDISABLED, refuses plaintext login, then works over TLS', async () => {
    const s = await connectImap(t.site);
    expect(s.greeting).toContain('STARTTLS');
    expect(s.greeting).toContain('LOGINDISABLED');
    expect(s.greeting).not.toContain('AUTH=PLAIN');
    expect(last(await s.login())).toMatch(/^t\d+ NO \[PRIVACYREQUIRED\]/);
    expect(last(await s.cmd(`AUTHENTICATE PLAIN ${Buffer.from('\0bob\0secret').toString('base64')}`))).toMatch(/NO \[PRIVACYREQUIRED\]/);
    expect(last(await s.cmd('STARTTLS'))).toMatch(/^t\d+ OK Begin TLS/);
    const secure = tlsConnect({ socket: s.c.socket, rejectUnauthorized: false });
    await new Promise<void>((r, j) => { secure.once('secureConnect', () => r()); secure.once('error', j); });
    const c = tlsLines(secure);
    const caps = await c.cmd('a', 'CAPABILITY');
    expect(caps[0]).not.toContain('STARTTLS');
    expect(caps[0]).not.toContain('LOGINDISABLED');
    expect(caps[0]).toContain('AUTH=PLAIN');
    expect(last(await c.cmd('b', 'STARTTLS'))).toMatch(/^b BAD/);
    expect(last(await c.cmd('c', 'LOGIN bob secret'))).toMatch(/^c OK/);
    const sel = await c.cmd('d', 'SELECT INBOX');
    expect(sel[0]).toBe('* 2 EXISTS');
    expect(last(await c.cmd('e', 'LOGOUT'))).toMatch(/^e OK/);
    secure.destroy();
  });

  it('refuses STARTTLS with plaintext pipelined behind it (command injection)', async () => {
    const s = await connectImap(t.site);
    s.send('x1 STARTTLS\r\nx2 LOGIN bob secret\r\n');
    const lines = await s.c.until('x1 ');
    expect(last(lines)).toMatch(/^x1 BAD/);
    expect(await s.c.line()).toMatch(/^x2 NO \[PRIVACYREQUIRED\]/);
    s.close();
  });
});
