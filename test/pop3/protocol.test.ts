// RFC 1939 commands and their error paths against the real bin/dpop over a real socket.
import { describe, expect, it } from 'vitest';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readText, simpleMessage } from '../helpers/site.js';
import { popFixture, crlf, NOT_MBOX, writeMail } from './pop-client.js';

const { site, connect } = popFixture();
const octets = (text: string) => Buffer.byteLength(crlf(text), 'latin1');

describe('POP3 greeting and AUTHORIZATION state', () => {
  it('greets in DPOP form with an APOP timestamp and lists capabilities', async () => {
    const c = await connect(site(1));
    expect(c.greeting).toMatch(/^\+OK DPOP Version \S+\. <\d+\.\d+@[^<>\s]+>$/);
    const capa = await c.multiCmd('CAPA');
    expect(capa.status).toMatch(/^\+OK/);
    for (const cap of ['TOP', 'USER', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'SASL PLAIN LOGIN', 'EXPIRE NEVER', 'LOGIN-DELAY 0']) {
      expect(capa.lines).toContain(cap);
    }
    expect(capa.lines.some((l) => l.startsWith('IMPLEMENTATION '))).toBe(true);
    expect(capa.lines).not.toContain('STLS'); // no certificate configured
  });

  it('refuses transaction commands before login and unknown commands anywhere', async () => {
    const c = await connect(site(1));
    for (const cmd of ['STAT', 'LIST', 'RETR 1', 'DELE 1', 'UIDL', 'TOP 1 0', 'RSET', 'LAST', 'NOOP']) {
      expect(await c.cmd(cmd)).toMatch(/^-ERR/);
    }
    expect(await c.cmd('XYZZY')).toMatch(/^-ERR/);
    expect(await c.cmd('')).toMatch(/^-ERR/);
    expect(await c.cmd('PASS secret')).toMatch(/^-ERR/); // no USER yet
    expect(await c.cmd('USER')).toMatch(/^-ERR/);
    expect(await c.cmd('APOP bob 0123456789abcdef0123456789abcdef')).toMatch(/^-ERR/); // APOP off
    expect(await c.cmd('STLS')).toMatch(/^-ERR/); // no certificate
    expect(await c.cmd('QUIT')).toMatch(/^\+OK/);
    expect(await c.exited()).toBe(0);
  });

  it('answers a wrong password with -ERR [AUTH] and disconnects after auth_max_failures', async () => {
    const c = await connect(site(1, { auth_max_failures: 3 }));
    expect(await c.cmd('USER bob')).toMatch(/^\+OK bob /);
    expect(await c.cmd('PASS wrong')).toMatch(/^-ERR \[AUTH\]/);
    expect(await c.login('nobody', 'x')).toMatch(/^-ERR \[AUTH\]/);
    expect(await c.login('bob', 'wrong')).toMatch(/^-ERR \[AUTH\]/);
    await expect(c.line(15_000)).rejects.toThrow(/closed/);
  });

  it('logs in with USER/PASS, DPOP wording, and refuses authorization commands afterwards', async () => {
    const msgs = [simpleMessage(1), simpleMessage(2)];
    const s = site(0);
    writeMail(s, 'bob', msgs);
    const c = await connect(s);
    expect(await c.cmd('USER bob')).toBe('+OK bob nice to hear from you - password required');
    const total = msgs.reduce((a, m) => a + octets(m), 0);
    expect(await c.cmd('PASS secret')).toBe(`+OK bob has 2 msgs (${total} octets)`);
    expect(await c.cmd('USER bob')).toMatch(/^-ERR/);
    expect(await c.cmd('PASS secret')).toMatch(/^-ERR/);
    expect(await c.cmd('AUTH PLAIN AGJvYgBzZWNyZXQ=')).toMatch(/^-ERR/);
    const capa = await c.multiCmd('CAPA');
    expect(capa.lines).not.toContain('USER');
    expect(capa.lines).toContain('TOP');
  });

  it('accepts a password containing spaces (rest of the line)', async () => {
    const s = site(1);
    s.addUser('sp', { pass: 'two words' });
    const c = await connect(s);
    // The test auth module splits on whitespace, so it cannot check such a password: a failure here
    // must still be an [AUTH] failure, not a syntax error.
    expect(await c.login('sp', 'two words')).toMatch(/^(\+OK|-ERR \[AUTH\])/);
  });
});

describe('SASL AUTH (RFC 5034)', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');

  it('lists mechanisms for a bare AUTH', async () => {
    const c = await connect(site(1));
    const r = await c.multiCmd('AUTH');
    expect(r.status).toMatch(/^\+OK/);
    expect(r.lines).toEqual(['PLAIN', 'LOGIN']);
  });

  it('PLAIN with an initial response', async () => {
    const c = await connect(site(2));
    expect(await c.cmd(`AUTH PLAIN ${b64('\0bob\0secret')}`)).toMatch(/^\+OK bob has 2 msgs/);
  });

  it('PLAIN with a continuation, and a cancelled exchange', async () => {
    const c = await connect(site(2));
    expect(await c.cmd('AUTH PLAIN')).toBe('+ ');
    expect(await c.cmd('*')).toMatch(/^-ERR/);
    expect(await c.cmd('AUTH PLAIN')).toBe('+ ');
    expect(await c.cmd(b64('bob\0bob\0secret'))).toMatch(/^\+OK bob has 2 msgs/);
  });

  it('LOGIN with prompts', async () => {
    const c = await connect(site(1));
    expect(await c.cmd('AUTH LOGIN')).toBe(`+ ${b64('Username:')}`);
    expect(await c.cmd(b64('bob'))).toBe(`+ ${b64('Password:')}`);
    expect(await c.cmd(b64('secret'))).toMatch(/^\+OK bob has 1 msgs/);
  });

  it('rejects bad base64, a wrong password and an unknown mechanism', async () => {
    const c = await connect(site(1, { auth_max_failures: 10 }));
    expect(await c.cmd('AUTH PLAIN !!!!')).toMatch(/^-ERR \[AUTH\]/);
    expect(await c.cmd(`AUTH PLAIN ${b64('\0bob\0nope')}`)).toMatch(/^-ERR \[AUTH\]/);
    expect(await c.cmd('AUTH CRAM-MD5')).toMatch(/^-ERR/);
    expect(await c.cmd(`AUTH PLAIN ${b64('\0bob\0secret')}`)).toMatch(/^\+OK/);
  });
});

describe('TRANSACTION state', () => {
  it('STAT, LIST, UIDL, RETR agree with each other and with the spool', async () => {
    const msgs = [simpleMessage(1), simpleMessage(2, 'X-Extra: yes\n'), simpleMessage(3)];
    const s = site(0);
    writeMail(s, 'bob', msgs);
    const c = await connect(s);
    await c.login();
    const sizes = msgs.map(octets);
    expect(await c.cmd('STAT')).toBe(`+OK 3 ${sizes[0]! + sizes[1]! + sizes[2]!}`);
    const list = await c.multiCmd('LIST');
    expect(list.lines).toEqual(sizes.map((sz, i) => `${i + 1} ${sz}`));
    expect(await c.cmd('LIST 2')).toBe(`+OK 2 ${sizes[1]}`);
    const uidl = await c.multiCmd('UIDL');
    expect(uidl.lines).toHaveLength(3);
    const ids = uidl.lines.map((l) => l.split(' ')[1]!);
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(/^[\x21-\x7e]{1,70}$/);
    expect(await c.cmd('UIDL 3')).toBe(`+OK 3 ${ids[2]}`);
    for (let i = 0; i < 3; i++) {
      c.send(`RETR ${i + 1}\r\n`);
      const r = await c.multi();
      expect(r.status).toBe(`+OK ${sizes[i]} octets`);
      expect(r.lines.join('\r\n') + '\r\n').toBe(crlf(msgs[i]!));
    }
  });

  it('answers bad message numbers and argument errors with -ERR', async () => {
    const c = await connect(site(2));
    await c.login();
    for (const cmd of ['RETR 0', 'RETR 3', 'RETR -1', 'RETR x', 'RETR', 'RETR 1 2', 'LIST 9', 'LIST 0', 'UIDL 99',
      'DELE 3', 'DELE', 'TOP 1', 'TOP 1 x', 'TOP 1 -1', 'TOP 5 0', 'STAT 1', 'RETR 99999999999999999999999']) {
      expect(await c.cmd(cmd), cmd).toMatch(/^-ERR/);
    }
    expect(await c.cmd('NOOP')).toMatch(/^\+OK/);
  });

  it('DELE hides a message until RSET; LAST tracks RETR', async () => {
    const c = await connect(site(3));
    await c.login();
    expect(await c.cmd('LAST')).toBe('+OK 0');
    await c.multiCmd('RETR 2');
    expect(await c.cmd('LAST')).toBe('+OK 2');
    expect(await c.cmd('DELE 1')).toMatch(/^\+OK/);
    expect(await c.cmd('DELE 1')).toMatch(/^-ERR/);
    expect(await c.cmd('RETR 1')).toMatch(/^-ERR/);
    expect(await c.cmd('TOP 1 0')).toMatch(/^-ERR/);
    expect(await c.cmd('LIST 1')).toMatch(/^-ERR/);
    expect(await c.cmd('UIDL 1')).toMatch(/^-ERR/);
    expect((await c.multiCmd('LIST')).lines.map((l) => l.split(' ')[0])).toEqual(['2', '3']);
    expect((await c.multiCmd('UIDL')).lines.map((l) => l.split(' ')[0])).toEqual(['2', '3']);
    expect(await c.cmd('STAT')).toMatch(/^\+OK 2 /);
    expect(await c.cmd('RSET')).toMatch(/^\+OK/);
    expect(await c.cmd('STAT')).toMatch(/^\+OK 3 /);
    expect(await c.cmd('LAST')).toBe('+OK 0');
    expect((await c.multiCmd('RETR 1')).status).toMatch(/^\+OK/);
  });

  it('TOP gives the header and n body lines, any n', async () => {
    const text = 'Subject: top\nFrom: a@b\n\nline 1\nline 2\nline 3\n';
    const s = site(0);
    writeMail(s, 'bob', [text]);
    const c = await connect(s);
    await c.login();
    expect((await c.multiCmd('TOP 1 0')).lines).toEqual(['Subject: top', 'From: a@b', '']);
    expect((await c.multiCmd('TOP 1 2')).lines).toEqual(['Subject: top', 'From: a@b', '', 'line 1', 'line 2']);
    const all = ['Subject: top', 'From: a@b', '', 'line 1', 'line 2', 'line 3'];
    expect((await c.multiCmd('TOP 1 3')).lines).toEqual(all);
    expect((await c.multiCmd('TOP 1 1000000')).lines).toEqual(all);
    expect((await c.multiCmd('TOP 1 123456789012345678901234567890')).lines).toEqual(all);
    expect(await c.cmd('LAST')).toBe('+OK 0'); // TOP is not a retrieval
  });

  it.skipIf(NOT_MBOX)('sends CRLF whatever the spool uses (CRLF spool, LF spool, >From unquoting)', async () => {
    const s = site(0);
    const crlfSpool = 'From a@b Tue Jan 02 03:04:05 2024\r\nSubject: crlf\r\n\r\nline\r\n>From the start\r\n\r\n';
    const lfSpool = 'From a@b Tue Jan 02 03:04:05 2024\nSubject: lf\n\nline\n>From the start\n\n';
    writeFileSync(s.drop('bob'), crlfSpool + lfSpool);
    const c = await connect(s);
    expect(await c.login()).toMatch(/^\+OK bob has 2 msgs/);
    for (const [n, subject] of [[1, 'crlf'], [2, 'lf']] as const) {
      c.send(`RETR ${n}\r\n`);
      const status = await c.line();
      const size = Number(/^\+OK (\d+) octets$/.exec(status)![1]);
      const raw = await c.bytes(size + 3);
      expect(raw.toString('latin1')).toBe(`Subject: ${subject}\r\n\r\nline\r\nFrom the start\r\n.\r\n`);
    }
  });

  it('byte-stuffs lines that start with a dot', async () => {
    const text = 'Subject: dots\n\n.leading\n..two\n.\nnormal\n. space\n';
    const s = site(0);
    writeMail(s, 'bob', [text]);
    const c = await connect(s);
    await c.login();
    c.send('RETR 1\r\n');
    const raw: string[] = [];
    for (;;) { const l = await c.line(); raw.push(l); if (l === '.') break; }
    expect(raw.slice(1)).toEqual(['Subject: dots', '', '..leading', '...two', '..', 'normal', '.. space', '.']);
    c.send('TOP 1 3\r\n');
    const top: string[] = [];
    for (;;) { const l = await c.line(); top.push(l); if (l === '.') break; }
    expect(top.slice(1)).toEqual(['Subject: dots', '', '..leading', '...two', '..', '.']);
  });

  it('answers an over-long line with -ERR and carries on; a 300-byte line still works', async () => {
    const c = await connect(site(1, { max_line_length: 1000 }));
    expect(await c.cmd('NOOP' + ' x'.repeat(5000))).toMatch(/^-ERR .*long/i);
    expect(await c.cmd('USER ' + 'b'.repeat(300))).toMatch(/^\+OK/);
    expect(await c.login()).toMatch(/^\+OK/);
    expect(await c.cmd('LIST 1' + ' '.repeat(200000))).toMatch(/^-ERR/);
    expect(await c.cmd('STAT')).toMatch(/^\+OK 1 /);
  });

  it('answers pipelined commands in order', async () => {
    const c = await connect(site(3));
    c.send('CAPA\r\nUSER bob\r\nPASS secret\r\nSTAT\r\nLIST\r\nRETR 1\r\nDELE 2\r\nUIDL\r\nTOP 3 0\r\nNOOP\r\nRSET\r\nQUIT\r\n');
    const capa = await c.multi();
    expect(capa.lines).toContain('PIPELINING');
    expect(await c.line()).toMatch(/^\+OK bob nice/);
    expect(await c.line()).toMatch(/^\+OK bob has 3 msgs/);
    expect(await c.line()).toMatch(/^\+OK 3 \d+$/);
    expect((await c.multi()).lines).toHaveLength(3);
    expect((await c.multi()).lines).toContain('Subject: Test message 1');
    expect(await c.line()).toMatch(/^\+OK/);
    expect((await c.multi()).lines.map((l) => l.split(' ')[0])).toEqual(['1', '3']);
    expect((await c.multi()).lines).toContain('Subject: Test message 3');
    expect(await c.line()).toBe('+OK ');
    expect(await c.line()).toMatch(/^\+OK maildrop has 3/);
    expect(await c.line()).toMatch(/^\+OK .*signing off/);
    expect(await c.exited()).toBe(0);
  });

  it('an empty maildrop: STAT 0 0, empty listings, QUIT says empty', async () => {
    const c = await connect(site(0));
    expect(await c.login()).toMatch(/^\+OK bob has 0 msgs/);
    expect(await c.cmd('STAT')).toBe('+OK 0 0');
    expect((await c.multiCmd('LIST')).lines).toEqual([]);
    expect((await c.multiCmd('UIDL')).lines).toEqual([]);
    expect(await c.cmd('RETR 1')).toMatch(/^-ERR/);
    expect(await c.cmd('QUIT')).toMatch(/maildrop empty/);
  });
});

describe('logging', () => {
  it('never writes a password to the log, whichever way it was sent', async () => {
    const s = site(1, { auth_max_failures: 10 });
    const c = await connect(s);
    const b64 = (t: string) => Buffer.from(t).toString('base64');
    await c.login('bob', 'wrongPw1');
    await c.cmd(`AUTH PLAIN ${b64('\0bob\0wrongPw2')}`);
    await c.cmd('AUTH LOGIN');
    await c.cmd(b64('bob'));
    await c.cmd(b64('wrongPw3'));
    await c.cmd('wrongPw4 stray line');
    await c.cmd('wrongPw5');
    expect(await c.login()).toMatch(/^\+OK/);
    await c.cmd('QUIT');
    await c.exited();
    const logs = readdirSync(s.logs).map((f) => readText(join(s.logs, f))).join('\n');
    expect(logs).toMatch(/bob/); // the log was written at all
    for (const secret of ['secret', 'wrongpw', b64('\0bob\0wrongPw2'), b64('wrongPw3')]) expect(logs.toLowerCase()).not.toContain(secret.toLowerCase());
  });
});

describe('login_disabled', () => {
  it('refuses USER, PASS and AUTH without TLS and leaves them out of CAPA', async () => {
    const c = await connect(site(1, { login_disabled: true }));
    const capa = await c.multiCmd('CAPA');
    expect(capa.lines).not.toContain('USER');
    expect(capa.lines.some((l) => l.startsWith('SASL'))).toBe(false);
    expect(await c.cmd('USER bob')).toMatch(/^-ERR \[AUTH\]/);
    expect(await c.cmd('PASS secret')).toMatch(/^-ERR \[AUTH\]/);
    expect(await c.cmd('AUTH PLAIN AGJvYgBzZWNyZXQ=')).toMatch(/^-ERR \[AUTH\]/);
  });
});
