// STLS (RFC 2595) with a real certificate and a TLS client on the same socket, login_disabled lifted by
// TLS, and APOP (RFC 1939 §7) with a secrets file.
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { makeTestCert } from '../helpers/tls-cert.js';
import { popFixture } from './pop-client.js';

const { site, connect, cleanup } = popFixture();

/** Line reader over an upgraded TLS socket. */
function tlsLines(sock: TLSSocket) {
  let buf = '';
  let waiter: (() => void) | null = null;
  sock.on('data', (d: Buffer) => { buf += d.toString('latin1'); waiter?.(); });
  const line = async (): Promise<string> => {
    for (;;) {
      const i = buf.indexOf('\r\n');
      if (i >= 0) { const l = buf.slice(0, i); buf = buf.slice(i + 2); return l; }
      await new Promise<void>((r, j) => { const t = setTimeout(() => j(new Error(`timeout: ${buf}`)), 10_000); waiter = () => { clearTimeout(t); waiter = null; r(); }; });
    }
  };
  const cmd = async (s: string) => { sock.write(s + '\r\n'); return line(); };
  const multi = async (s: string) => {
    const status = await cmd(s);
    const lines: string[] = [];
    for (let l = await line(); l !== '.'; l = await line()) lines.push(l);
    return { status, lines };
  };
  return { line, cmd, multi };
}

describe('STLS', () => {
  it('is offered with a certificate, upgrades, and then allows login under login_disabled', async () => {
    const cert = makeTestCert();
    cleanup.push(() => cert.cleanup());
    const s = site(2, { tls_cert: cert.cert, tls_key: cert.key, login_disabled: true });
    const c = await connect(s);
    expect((await c.multiCmd('CAPA')).lines).toContain('STLS');
    expect(await c.cmd('USER bob')).toMatch(/^-ERR \[AUTH\]/);
    // Pipelined plaintext after STLS must be ignored once TLS is up.
    c.send('STLS\r\nUSER injected\r\n');
    expect(await c.line()).toMatch(/^\+OK/);
    const secure = tlsConnect({ socket: c.socket, rejectUnauthorized: false, servername: 'localhost' });
    await new Promise<void>((r, j) => { secure.once('secureConnect', r); secure.once('error', j); });
    const t = tlsLines(secure);
    const capa = await t.multi('CAPA');
    expect(capa.lines).not.toContain('STLS');
    expect(capa.lines).toContain('USER');
    expect(await t.cmd('PASS secret')).toMatch(/^-ERR/); // the injected USER was not obeyed
    expect(await t.cmd('STLS')).toMatch(/^-ERR/);
    expect(await t.cmd('USER bob')).toMatch(/^\+OK/);
    expect(await t.cmd('PASS secret')).toMatch(/^\+OK bob has 2 msgs/);
    const retr = await t.multi('RETR 1');
    expect(retr.lines).toContain('Subject: Test message 1');
    expect(await t.cmd('QUIT')).toMatch(/^\+OK/);
    secure.destroy();
  });
});

describe('APOP', () => {
  it('logs in with MD5(timestamp + secret) when apop_enable and a secret are set', async () => {
    const s = site(1, { apop_enable: true });
    const secrets = join(s.dir, 'apop-secrets');
    writeFileSync(secrets, '# user secret\nbob apopsecret\n', { mode: 0o600 });
    s.setConfig({ apop_enable: true, apop_secrets: secrets, auth_max_failures: 5 });
    const c = await connect(s);
    const stamp = /<[^>]+>/.exec(c.greeting)![0];
    const digest = (secret: string) => createHash('md5').update(stamp + secret).digest('hex');
    expect(await c.cmd(`APOP bob ${digest('wrong')}`)).toMatch(/^-ERR \[AUTH\]/);
    expect(await c.cmd('APOP bob nothex')).toMatch(/^-ERR/);
    expect(await c.cmd(`APOP bob ${digest('apopsecret')}`)).toMatch(/^\+OK bob has 1 msgs/);
  });

  it('is refused when apop_enable is off', async () => {
    const c = await connect(site(1));
    const stamp = /<[^>]+>/.exec(c.greeting)![0];
    expect(await c.cmd(`APOP bob ${createHash('md5').update(stamp + 'x').digest('hex')}`)).toMatch(/^-ERR/);
  });
});
