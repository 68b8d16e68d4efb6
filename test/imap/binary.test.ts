// RFC 3516 BINARY over the real bin/imapd: FETCH BINARY[part]<partial>, BINARY.PEEK, BINARY.SIZE with
// base64 and quoted-printable removed (7bit/8bit/binary as is), [UNKNOWN-CTE], literal8 answers when the
// decoded bytes hold a NUL, and APPEND of literal8 (~{n}) message data, on the test store.
import { afterEach, describe, expect, it } from 'vitest';
import { connectImap, last, siteWithMessages, type Imap, type TestSite } from './imap-client.js';

let t: TestSite | undefined;
let c: Imap | undefined;
afterEach(() => { c?.close(); t?.cleanup(); c = undefined; t = undefined; });

/** Send a tagged command; collect response lines and the literals (`{n}` or `~{n}`) in them. */
async function raw(i: Imap, text: string | Buffer): Promise<{ lines: string[]; literals: { binary: boolean; data: Buffer }[] }> {
  const tag = i.nextTag();
  i.send(Buffer.concat([Buffer.from(`${tag} `), Buffer.isBuffer(text) ? text : Buffer.from(text), Buffer.from('\r\n')]));
  const lines: string[] = [];
  const literals: { binary: boolean; data: Buffer }[] = [];
  for (;;) {
    const l = await i.c.line();
    lines.push(l);
    const m = /(~?)\{(\d+)\}$/.exec(l);
    if (m) {
      literals.push({ binary: m[1] === '~', data: await i.c.bytes(Number(m[2])) });
      continue;
    }
    if (l.startsWith(`${tag} `)) return { lines, literals };
  }
}

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0xff, 0x7f]);
const b64 = (b: Buffer) => b.toString('base64').replace(/.{1,76}/g, '$&\n');
const MIXED = [
  'From: a@example.com', 'To: bob@example.com', 'Subject: binary parts', 'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="XX"', '', 'preamble',
  '--XX', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable', '',
  'Caf=C3=A9 au lait, a soft =', 'break and =3D sign.',
  '--XX', 'Content-Type: image/png', 'Content-Transfer-Encoding: BASE64', '', b64(PNG).trimEnd(),
  '--XX', 'Content-Type: text/plain', 'Content-Transfer-Encoding: 8bit', '', 'plain 8bit text',
  '--XX', 'Content-Type: application/octet-stream', 'Content-Transfer-Encoding: x-uuencode', '', 'begin 644 f', '`', 'end',
  '--XX--', '',
].join('\n');

async function withMessage(text: string): Promise<Imap> {
  t = siteWithMessages(0);
  c = await connectImap(t.site);
  expect(last(await c.login())).toMatch(/OK/);
  const msg = Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1');
  expect(last((await raw(c, Buffer.concat([Buffer.from(`APPEND INBOX {${msg.length}+}\r\n`), msg]))).lines)).toMatch(/OK/);
  expect(last(await c.cmd('SELECT INBOX'))).toMatch(/OK/);
  return c;
}

describe('FETCH BINARY (RFC 3516)', () => {
  it('is advertised', async () => {
    t = siteWithMessages(0);
    c = await connectImap(t.site);
    await c.login();
    const caps = (await c.cmd('CAPABILITY')).find((l) => l.startsWith('* CAPABILITY'))!;
    expect(caps.split(' ')).toContain('BINARY');
  });

  it('removes quoted-printable and base64; 8bit as is; sizes agree', async () => {
    const i = await withMessage(MIXED);
    const r = await raw(i, 'FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1] BINARY.SIZE[2] BINARY.PEEK[2] BINARY.PEEK[3] BINARY.SIZE[3])');
    expect(last(r.lines)).toMatch(/OK/);
    const qp = Buffer.from('Café au lait, a soft break and = sign.');
    expect(r.literals[0]).toEqual({ binary: false, data: qp });
    // The PNG signature holds NULs: a literal8.
    expect(r.literals[1]).toEqual({ binary: true, data: PNG });
    expect(r.literals[2]).toEqual({ binary: false, data: Buffer.from('plain 8bit text') });
    const all = r.lines.join('\n');
    expect(all).toContain(`BINARY.SIZE[1] ${qp.length}`);
    expect(all).toContain(`BINARY.SIZE[2] ${PNG.length}`);
    expect(all).toContain('BINARY.SIZE[3] 15');
    expect(all).toContain('BINARY[2] ~{');
    // PEEK leaves \Seen alone.
    expect((await i.cmd('FETCH 1 FLAGS')).join('\n')).not.toContain('\\Seen');
  });

  it('<partial> cuts the decoded bytes and names the origin; BINARY sets \\Seen', async () => {
    const i = await withMessage(MIXED);
    const r = await raw(i, 'FETCH 1 (BINARY[2]<8.4> BINARY[1]<5.2>)');
    expect(last(r.lines)).toMatch(/OK/);
    expect(r.lines[0]).toContain('BINARY[2]<8> ~{4}');
    expect(r.literals[0]!.data).toEqual(PNG.subarray(8, 12));
    // 'Café' is 5 bytes in UTF-8: bytes 5 and 6 of the decoded text.
    expect(r.literals[1]!.data.toString()).toBe(' a');
    expect(r.lines.join('\n')).toContain('\\Seen');
    // Past the end: empty.
    const e = await raw(i, 'FETCH 1 BINARY.PEEK[3]<100.5>');
    expect(e.lines[0]).toContain('BINARY[3]<100> {0}');
  });

  it('the whole message ([]) and a single-part message\'s part 1', async () => {
    // (Without MIME-Version or Content-Type the encoding header is ignored, as by Dovecot and BODYSTRUCTURE.)
    const single = 'From: a@example.com\nSubject: one\nMIME-Version: 1.0\nContent-Transfer-Encoding: base64\n\n' + b64(Buffer.from('hello\x00world'));
    const i = await withMessage(single);
    const r = await raw(i, 'FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1] BINARY.PEEK[])');
    expect(r.literals[0]).toEqual({ binary: true, data: Buffer.from('hello\x00world') });
    expect(r.lines.join('\n')).toContain('BINARY.SIZE[1] 11');
    expect(r.literals[1]!.data.toString('latin1')).toBe(single.replace(/\n/g, '\r\n'));
  });

  it('an unknown transfer encoding is NO [UNKNOWN-CTE]; a missing part is NIL', async () => {
    const i = await withMessage(MIXED);
    expect(last(await i.cmd('FETCH 1 BINARY.PEEK[4]'))).toMatch(/^t\d+ NO \[UNKNOWN-CTE\]/);
    expect(last(await i.cmd('FETCH 1 BINARY.SIZE[4]'))).toMatch(/^t\d+ NO \[UNKNOWN-CTE\]/);
    const r = await i.cmd('FETCH 1 (BINARY.PEEK[9] BINARY.SIZE[9])');
    expect(r[0]).toContain('BINARY[9] NIL');
    expect(r[0]).toContain('BINARY.SIZE[9] 0');
    expect(last(r)).toMatch(/OK/);
  });

  it('only part numbers are sections: HEADER, TEXT, MIME are BAD', async () => {
    const i = await withMessage(MIXED);
    for (const s of ['BINARY[HEADER]', 'BINARY.PEEK[1.MIME]', 'BINARY.SIZE[TEXT]', 'BINARY[1.]', 'BINARY[0]', 'BINARY[1]<1.0>']) {
      expect(last(await i.cmd(`FETCH 1 ${s}`)), s).toMatch(/^t\d+ BAD/);
    }
  });

  it('streams a big base64 part (several MB) exactly', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 5);
    for (let k = 0; k < big.length; k++) big[k] = (k * 2654435761) >>> 24;
    const text = ['From: a@example.com', 'Subject: big', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary=B', '',
      '--B', 'Content-Type: application/octet-stream', 'Content-Transfer-Encoding: base64', '', b64(big).trimEnd(), '--B--', ''].join('\n');
    const i = await withMessage(text);
    const r = await raw(i, 'FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1] BINARY.PEEK[1]<1000000.17>)');
    expect(last(r.lines)).toMatch(/OK/);
    expect(r.lines[0]).toContain(`BINARY.SIZE[1] ${big.length}`);
    expect(r.literals[0]!.binary).toBe(true);
    expect(r.literals[0]!.data.equals(big)).toBe(true);
    expect(r.literals[1]!.data).toEqual(big.subarray(1000000, 1000017));
  });
});

describe('APPEND with literal8 (RFC 3516 §4.4)', () => {
  it('stores binary content with NULs; FETCH BINARY gives it back', async () => {
    t = siteWithMessages(0);
    c = await connectImap(t.site);
    await c.login();
    // (Ends with a line break: a stored message always does.)
    const content = Buffer.from([0x00, 0x01, 0x02, 0xff, 0x00, 0x41, 0x42, 0x00, 0x0d, 0x0a]);
    const msg = Buffer.concat([Buffer.from('From: a@example.com\r\nSubject: bin\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n'), content]);
    // Synchronising literal8: the server asks for the data.
    const tag = c.nextTag();
    c.send(`${tag} APPEND INBOX (\\Seen) ~{${msg.length}}\r\n`);
    expect(await c.c.line()).toMatch(/^\+ /);
    c.send(Buffer.concat([msg, Buffer.from('\r\n')]));
    expect(last(await c.c.until(`${tag} `))).toMatch(/^t\d+ OK \[APPENDUID \d+ 1\]/);
    // Non-synchronising literal8.
    expect(last((await raw(c, Buffer.concat([Buffer.from(`APPEND INBOX ~{${msg.length}+}\r\n`), msg]))).lines)).toMatch(/OK \[APPENDUID \d+ 2\]/);
    await c.cmd('SELECT INBOX');
    for (const n of [1, 2]) {
      const r = await raw(c, `FETCH ${n} (BINARY.PEEK[1] BINARY.SIZE[1] RFC822.SIZE)`);
      expect(r.literals[0]).toEqual({ binary: true, data: content });
      expect(r.lines.join('\n')).toContain(`BINARY.SIZE[1] ${content.length} RFC822.SIZE ${msg.length})`);
    }
  });

  it('binary parts the store would alter (bare LF, CR CR LF) are kept in base64: BINARY gives the same bytes', async () => {
    t = siteWithMessages(0);
    c = await connectImap(t.site);
    await c.login();
    const data = Buffer.from([0x0a, 0x00, 0x0d, 0x0d, 0x0a, 0x41, 0x0a, 0x0d, 0xff]);
    const msg = Buffer.concat([
      Buffer.from('From: a@example.com\r\nSubject: bare\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\nContent-Type: text/plain\r\n\r\nhi\r\n--z\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n'),
      data, Buffer.from('\r\n--z--\r\n')]);
    expect(last((await raw(c, Buffer.concat([Buffer.from(`APPEND INBOX ~{${msg.length}+}\r\n`), msg]))).lines)).toMatch(/OK/);
    await c.cmd('SELECT INBOX');
    const r = await raw(c, 'FETCH 1 (BINARY.PEEK[2] BINARY.SIZE[2] BODYSTRUCTURE)');
    expect(r.literals[0]).toEqual({ binary: true, data });
    expect(r.lines.join('\n')).toContain(`BINARY.SIZE[2] ${data.length}`);
    expect(r.lines.join('\n')).toMatch(/"base64"/i);
  });

  it('literal8 anywhere but APPEND is BAD, and the connection stays usable', async () => {
    t = siteWithMessages(1);
    c = await connectImap(t.site);
    await c.login();
    expect(last(await c.cmd('SELECT ~{5}'))).toMatch(/^t\d+ BAD/);
    expect(last(await c.cmd('NOOP'))).toMatch(/OK/);
    // A non-synchronising one is skipped whole.
    expect(last((await raw(c, 'EXAMINE ~{5+}\r\nINBOX')).lines)).toMatch(/BAD/);
    expect(last(await c.cmd('NOOP'))).toMatch(/OK/);
  });
});
