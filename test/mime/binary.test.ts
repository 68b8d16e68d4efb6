// The incremental transfer decoder behind FETCH BINARY (src/mime/binary.ts): any split of the input
// gives the same bytes as decoding it whole, and the same as the SEARCH decoder (decode.ts) for
// quoted-printable and Node for base64, so BINARY.SIZE always matches the BINARY literal.
import { describe, expect, it } from 'vitest';
import { TransferDecoder, decodeBody, decodedInfo, transferKind, type TransferKind } from '../../src/mime/binary.js';
import { decodeQuotedPrintable } from '../../src/mime/decode.js';
import { storableBinary, storeRoundTrip } from '../../src/mime/binary-store.js';
import { parseMessage } from '../../src/mime/parser.js';

function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function split(kind: TransferKind, input: Buffer, r: () => number): Buffer {
  const d = new TransferDecoder(kind);
  const out: Buffer[] = [];
  for (let p = 0; p < input.length;) {
    const n = 1 + Math.floor(r() * 40);
    out.push(d.push(input.subarray(p, p + n)));
    p += n;
  }
  out.push(d.end());
  return Buffer.concat(out);
}

describe('TransferDecoder', () => {
  it('maps encodings; unknown ones are null', () => {
    expect(transferKind(null)).toBe('identity');
    expect(transferKind(' 8BIT ')).toBe('identity');
    expect(transferKind('Binary')).toBe('identity');
    expect(transferKind('BASE64')).toBe('base64');
    expect(transferKind('Quoted-Printable')).toBe('quoted-printable');
    expect(transferKind('x-uuencode')).toBeNull();
  });

  it('base64: any split equals Node, whitespace and junk skipped, short tails decoded', () => {
    const r = rng(7);
    for (let k = 0; k < 200; k++) {
      const data = Buffer.from(Array.from({ length: Math.floor(r() * 300) }, () => Math.floor(r() * 256)));
      const enc = Buffer.from(data.toString('base64').replace(/.{1,76}/g, '$&\r\n'));
      expect(split('base64', enc, r)).toEqual(data);
      expect(decodeBody(enc, 'base64')).toEqual(data);
      expect(decodedInfo(enc, 'base64')).toEqual({ size: data.length, hasNul: data.includes(0) });
    }
    expect(decodeBody(Buffer.from('aGk'), 'base64').toString()).toBe('hi');
    expect(decodeBody(Buffer.from('a G\r\n*k='), 'base64').toString()).toBe('hi');
  });

  it('quoted-printable: any split equals the whole-buffer decoder, soft breaks and bad escapes included', () => {
    const r = rng(11);
    const alphabet = ['=', '=3D', '=C3=A9', '=\r\n', '= \t\r\n', '=\n', '=zz', '=4', 'a', ' ', '\r\n', '\n', '\t', 'x='];
    for (let k = 0; k < 300; k++) {
      const s = Buffer.from(Array.from({ length: Math.floor(r() * 60) }, () => alphabet[Math.floor(r() * alphabet.length)]).join(''), 'latin1');
      const whole = decodeQuotedPrintable(s);
      expect(split('quoted-printable', s, r), JSON.stringify(s.toString('latin1'))).toEqual(whole);
      expect(decodeBody(s, 'quoted-printable')).toEqual(whole);
    }
  });

  it('identity passes bytes through; NUL detection', () => {
    const b = Buffer.from([1, 0, 2]);
    expect(decodeBody(b, 'identity')).toBe(b);
    expect(decodedInfo(b, 'identity')).toEqual({ size: 3, hasNul: true });
    expect(decodedInfo(Buffer.from('=00'), 'quoted-printable')).toEqual({ size: 1, hasNul: true });
  });
});

describe('storableBinary (APPEND of literal8 content)', () => {
  const part2 = (raw: Buffer) => {
    const p = parseMessage(raw).children[1]!;
    return { enc: p.encoding, data: decodeBody(raw.subarray(p.bodyStart, p.bodyEnd), transferKind(p.encoding)!) };
  };
  const msg = (data: Buffer, tail = '\r\n--b--\r\n') => Buffer.concat([
    Buffer.from('MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\ntext\nwith bare LF\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n'),
    data, Buffer.from(tail)]);

  it('keeps a message the store keeps intact as it is', () => {
    const m = msg(Buffer.from([0, 1, 2, 0x0d, 0x0a, 0xff]));
    expect(storableBinary(m)).toBe(m);
  });

  it('re-encodes binary parts holding bare LF, CR CR LF or random bytes in base64: the store round trip then loses nothing', () => {
    const r = rng(3);
    for (let k = 0; k < 50; k++) {
      const data = Buffer.from(Array.from({ length: 1 + Math.floor(r() * 500) }, () => Math.floor(r() * 256)));
      data[0] = 0x0a;
      const m = msg(data);
      const kept = storableBinary(m)!;
      expect(kept).not.toBeNull();
      const back = part2(storeRoundTrip(kept));
      expect(back.enc).toBe('base64');
      expect(back.data).toEqual(data);
      // The text part is left alone.
      expect(kept.toString('latin1')).toContain('text\nwith bare LF');
    }
    // A single-part binary message without a final line end.
    const single = Buffer.from('MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\n\r\nab\r\r\ncd\nno end');
    const kept = storableBinary(single)!;
    const p = parseMessage(storeRoundTrip(kept));
    expect(decodeBody(storeRoundTrip(kept).subarray(p.bodyStart, p.bodyEnd), transferKind(p.encoding)!).toString('latin1')).toBe('ab\r\r\ncd\nno end');
  });
});
