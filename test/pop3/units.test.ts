// UIDL assignment, SASL decoding, command-line splitting and the maildrop snapshot.
import { describe, expect, it } from 'vitest';
import { assignUidls, derivedUidl, isValidUidl } from '../../src/pop3/uidl.js';
import { decodeBase64, parsePlain, clientText } from '../../src/pop3/sasl.js';
import { LineQueue } from '../../src/pop3/line-queue.js';
import { Maildrop } from '../../src/pop3/maildrop.js';
import type { MessageInfo } from '../../src/store/types.js';

describe('UIDL', () => {
  it('derives Dovecot-format ids from UIDVALIDITY and UID', () => {
    expect(derivedUidl(0x5f00aa11, 7)).toBe('000000075F00AA11');
    expect(isValidUidl(derivedUidl(0xffffffff, 0xffffffff))).toBe(true);
  });

  it('keeps valid unique X-UIDL values and derives the rest', () => {
    const ids = assignUidls(1234, [
      { uid: 1, uidl: 'abc123' },
      { uid: 2 },
      { uid: 3, uidl: 'abc123' }, // duplicate
      { uid: 4, uidl: 'has space' }, // invalid
      { uid: 5, uidl: 'x'.repeat(71) }, // too long
      { uid: 6, uidl: '000000020000' + '04D2' }, // collides with uid 2's derived id
    ]);
    expect(ids[0]).toBe('abc123');
    expect(ids[2]).toBe(derivedUidl(1234, 3));
    expect(ids[3]).toBe(derivedUidl(1234, 4));
    expect(ids[4]).toBe(derivedUidl(1234, 5));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(isValidUidl(id)).toBe(true);
  });
});

describe('SASL', () => {
  it('decodes PLAIN with and without authzid, rejects proxying and junk', () => {
    expect(parsePlain(Buffer.from('\0bob\0pw d'))).toEqual({ name: 'bob', password: 'pw d' });
    expect(parsePlain(Buffer.from('bob\0bob\0pw'))).toEqual({ name: 'bob', password: 'pw' });
    expect(parsePlain(Buffer.from('admin\0bob\0pw'))).toHaveProperty('error');
    expect(parsePlain(Buffer.from('bob\0pw'))).toHaveProperty('error');
    expect(parsePlain(Buffer.from('\0\0pw'))).toHaveProperty('error');
  });

  it('checks base64 strictly and decodes 8-bit text', () => {
    expect(decodeBase64('Ym9i')?.toString()).toBe('bob');
    expect(decodeBase64('Ym9i!')).toBeNull();
    expect(decodeBase64('Ym9')).toBeNull();
    expect(clientText(Buffer.from('pässword', 'utf8'))).toBe('pässword');
    expect(clientText(Buffer.from('p\xe4ss', 'latin1'))).toBe('p\xe4ss');
  });
});

describe('LineQueue', () => {
  const flow = () => { const f = { paused: 0, resumed: 0, pause() { f.paused++; }, resume() { f.resumed++; } }; return f; };

  it('splits pipelined input, any chunking, CRLF or LF', async () => {
    const q = new LineQueue(100, flow());
    for (const c of ['US', 'ER bob\r', '\nPASS x y\r\nSTAT\nNO', 'OP\r\n']) q.push(Buffer.from(c));
    q.end();
    const lines: string[] = [];
    for (let l = await q.next(); l; l = await q.next()) lines.push(l.bytes.toString());
    expect(lines).toEqual(['USER bob', 'PASS x y', 'STAT', 'NOOP']);
  });

  it('discards an over-long line without keeping it, then goes on', async () => {
    const q = new LineQueue(10, flow());
    q.push(Buffer.from('x'.repeat(8)));
    q.push(Buffer.from('x'.repeat(100000)));
    q.push(Buffer.from('\r\nSTAT\r\n0123456789\r\n'));
    const a = (await q.next())!;
    expect(a.tooLong).toBe(true);
    expect(a.length).toBeGreaterThan(100000);
    expect((await q.next())!.bytes.toString()).toBe('STAT');
    expect((await q.next())!.bytes.toString()).toBe('0123456789');
  });

  it('pauses input while too much is queued and resumes when consumed', async () => {
    const f = flow();
    const q = new LineQueue(100, f, 50);
    q.push(Buffer.from('NOOP\r\n'.repeat(20)));
    expect(f.paused).toBe(1);
    for (let i = 0; i < 20; i++) await q.next();
    expect(f.resumed).toBe(1);
  });

  it('clear() forgets input sent before a TLS handshake', async () => {
    const q = new LineQueue(100, flow());
    q.push(Buffer.from('STLS\r\nUSER evil\r\n'));
    expect((await q.next())!.bytes.toString()).toBe('STLS');
    q.clear();
    q.push(Buffer.from('CAPA\r\n'));
    expect((await q.next())!.bytes.toString()).toBe('CAPA');
  });
});

describe('Maildrop snapshot', () => {
  const msg = (uid: number, size: number, seen = false): MessageInfo =>
    ({ uid, size, flags: new Set(seen ? ['\\Seen'] : []), internalDate: new Date(0), recent: false, modseq: 1 });

  it('tracks deletions, RSET, LAST and what add_status marks', () => {
    const d = new Maildrop(99, [msg(10, 100), msg(11, 200, true), msg(12, 300)]);
    expect(d.stat()).toEqual({ count: 3, octets: 600 });
    d.markRetrieved(2);
    d.markRetrieved(3);
    d.markDeleted(3);
    expect(d.last).toBe(3);
    expect(d.stat()).toEqual({ count: 2, octets: 300 });
    expect(d.deletedUids()).toEqual([12]);
    expect(d.seenUids()).toEqual([]); // 11 already \Seen, 12 deleted
    expect([...d.live()]).toEqual([1, 2]);
    d.reset();
    expect(d.last).toBe(0);
    expect(d.seenUids()).toEqual([12]);
    expect(d.message(0)).toBeUndefined();
    expect(d.message(4)).toBeUndefined();
  });
});
