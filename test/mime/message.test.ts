// The cached ParsedMessage facade gives the same answers as the plain functions.
import { describe, expect, it } from 'vitest';
import { ParsedMessage, bodyStructure, envelope, parseMessage } from '../../src/mime/index.js';

const RAW = Buffer.from(
  'From: =?UTF-8?Q?Ren=C3=A9?= <rene@example.com>\r\nSubject: Hello\r\nX-Tag: one\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9   au\r\n lait\r\n--b--\r\n',
  'latin1',
);

describe('ParsedMessage', () => {
  const m = new ParsedMessage(RAW);
  it('matches envelope/bodyStructure and caches them', () => {
    const root = parseMessage(RAW);
    expect(m.envelope()).toBe(envelope(root, RAW));
    expect(m.bodyStructure(true)).toBe(bodyStructure(root, RAW, true));
    expect(m.bodyStructure(false)).toBe(bodyStructure(root, RAW, false));
    expect(m.envelope()).toBe(m.envelope());
  });

  it('sections and ranges', () => {
    expect(m.section({ path: [1] })?.toString()).toBe('caf=C3=A9   au\r\n lait');
    const r = m.sectionRange({ path: [], kind: 'TEXT' });
    expect(r && RAW.subarray(r.start, r.end).toString().startsWith('--b')).toBe(true);
    expect(m.section({ path: [3] })).toBeNull();
  });

  it('search predicates decode and fold', () => {
    expect(m.bodyMatches('CAFÉ AU LAIT')).toBe(true);
    expect(m.bodyMatches('hello')).toBe(false);
    expect(m.textMatches('hello')).toBe(true);
    expect(m.headerMatches('from', 'rené')).toBe(true);
    expect(m.headerMatches('x-tag', 'ONE')).toBe(true);
    expect(m.headerMatches('x-tag', 'two')).toBe(false);
  });
});
