// Real clients using BINARY, MULTIAPPEND and CATENATE against bin/imapd over real TCP: imapflow (its
// append() sends a literal8 when the message holds NUL bytes; fetch with `binary: true` asks BINARY.PEEK)
// and Python: imaplib for BINARY fetches it can parse, a raw socket for literal8 and MULTIAPPEND,
// which imaplib cannot send.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import type { Listener } from '../helpers/listener.js';
import { imapdOverTcp, type TestSite } from '../imap/imap-client.js';

let t: TestSite;
let l: Listener;
imapdOverTcp(1, (site, listener) => { t = site; l = listener; });

const PAYLOAD = Buffer.from([0x00, 0x10, 0x20, 0xff, 0x00, 0x0d, 0x0a, 0x00, 0x7f]);

describe('imapflow', () => {
  it('appends a message holding NULs (literal8) and fetches a base64 part decoded by BINARY', async () => {
    const c = new ImapFlow({ host: '127.0.0.1', port: l.port, secure: false, auth: { user: 'bob', pass: 'secret' }, logger: false });
    await c.connect();
    try {
      expect(c.capabilities.has('BINARY')).toBe(true);
      await c.mailboxCreate('Bin');
      const raw = Buffer.concat([Buffer.from('From: a@example.com\r\nSubject: raw\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n'), PAYLOAD, Buffer.from('\r\n')]);
      const r1 = await c.append('Bin', raw);
      expect(r1 && r1.uid).toBe(1);
      const b64 = ['From: a@example.com', 'Subject: encoded', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary=b', '',
        '--b', 'Content-Type: text/plain', '', 'see attachment', '--b', 'Content-Type: application/octet-stream', 'Content-Transfer-Encoding: base64', '',
        PAYLOAD.toString('base64'), '--b--', ''].join('\r\n');
      const r2 = await c.append('Bin', b64);
      expect(r2 && r2.uid).toBe(2);
      const lock = await c.getMailboxLock('Bin');
      try {
        const one = await c.fetchOne('1', { bodyParts: ['1'], size: true }, { uid: true, binary: true });
        expect(one && one.size).toBe(raw.length);
        expect(one && one.bodyParts?.get('1')).toEqual(Buffer.concat([PAYLOAD, Buffer.from('\r\n')]));
        const two = await c.fetchOne('2', { bodyParts: ['2'] }, { uid: true, binary: true });
        expect(two && two.bodyParts?.get('2')).toEqual(PAYLOAD);
      } finally {
        lock.release();
      }
    } finally {
      await c.logout();
    }
  });
});

const SCRIPT = String.raw`
import imaplib, json, socket, sys, base64
port = int(sys.argv[1])
out = {}
M = imaplib.IMAP4('127.0.0.1', port, timeout=30)
out['caps'] = sorted(c for c in M.capabilities if c in ('BINARY', 'MULTIAPPEND', 'CATENATE'))
M.login('bob', 'secret')
M.create('Py')
# imaplib's own APPEND still works (one message, plain literal).
typ, data = M.append('Py', '(\\Seen)', None, b'Subject: single\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nna=C3=AFve =\r\ntext\r\n')
out['append'] = [typ, data[0].decode()]
M.select('Py')
typ, data = M.fetch('1', '(BINARY.PEEK[1] BINARY.SIZE[1])')
out['binary'] = [typ, data[0][1].decode('utf-8'), data[1].decode() if isinstance(data[1], bytes) else str(data[1])]
M.logout()

# Raw socket: MULTIAPPEND with a literal8 and a synchronising literal, then FETCH BINARY of it.
s = socket.create_connection(('127.0.0.1', port), timeout=30)
f = s.makefile('rb')
def line():
    return f.readline().decode('latin1').rstrip('\r\n')
line()
s.sendall(b'a LOGIN bob secret\r\n')
while not line().startswith('a '): pass
m1 = b'Subject: one\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\x01\x02\r\n'
m2 = b'Subject: two\r\n\r\ntwo\r\n'
s.sendall(b'b APPEND Py (\\Flagged) ~{%d}\r\n' % len(m1))
out['cont1'] = line()[:1]
s.sendall(m1 + b' {%d}\r\n' % len(m2))
out['cont2'] = line()[:1]
s.sendall(m2 + b'\r\n')
l = line()
while not l.startswith('b '): l = line()
out['multiappend'] = l
s.sendall(b'c SELECT Py\r\n')
while not line().startswith('c '): pass
s.sendall(b'd FETCH 2 BINARY.PEEK[1]\r\n')
head = line()
out['head'] = head
n = int(head[head.index('~{') + 2:-1])
out['data'] = base64.b64encode(f.read(n)).decode()
while not line().startswith('d '): pass
s.sendall(b'e LOGOUT\r\n')
s.close()
print(json.dumps(out))
`;

describe('python3 imaplib and a raw socket', () => {
  it('APPEND, FETCH BINARY, MULTIAPPEND with literal8', async () => {
    const { stdout } = await promisify(execFile)('python3', ['-c', SCRIPT, String(l.port)], { encoding: 'utf8', timeout: 50_000 });
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out.caps).toEqual(['BINARY', 'CATENATE', 'MULTIAPPEND']);
    expect((out.append as string[])[0]).toBe('OK');
    expect((out.append as string[])[1]).toMatch(/^\[APPENDUID \d+ 1\]/);
    expect(out.binary).toEqual(['OK', 'naïve text\r\n', expect.stringContaining('BINARY.SIZE[1] 13')]);
    expect(out.cont1).toBe('+');
    expect(out.cont2).toBe('+');
    expect(out.multiappend).toMatch(/^b OK \[APPENDUID \d+ 2:3\]/);
    expect(out.head).toBe('* 2 FETCH (BINARY[1] ~{5}');
    expect(Buffer.from(out.data as string, 'base64')).toEqual(Buffer.from([0, 1, 2, 13, 10]));
  });
});
