// What SEARCH uses: decoded headers and bodies, and the matcher.
import { describe, expect, it } from 'vitest';
import { bodyText, decodeSearchString, headerValues, matchText, parseMessage, searchText } from '../../src/mime/index.js';

const crlf = (s: string): Buffer => Buffer.from(s.replace(/\n/g, '\r\n'), 'latin1');

const MSG = crlf(`From: =?UTF-8?Q?Ren=C3=A9?= <rene@example.com>
Subject: =?ISO-8859-1?Q?R=E9sum=E9?= attached
Subject: second
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

${Buffer.from('Grüße aus Köln, das Café ist offen.\n', 'utf8').toString('base64')}
--b
Content-Type: text/html; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

<p>Prix: 10=80 le d=E9jeuner, tr=
=E8s bon</p>
--b
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

${Buffer.from('SECRETWORD in a binary part').toString('base64')}
--b
Content-Type: message/rfc822

Subject: =?UTF-8?B?${Buffer.from('Innere Nachricht').toString('base64')}?=

inner body text
--b--
`);

describe('search decoding', () => {
  const root = parseMessage(MSG);
  const text = bodyText(MSG, root);

  it('decodes base64 and quoted-printable text parts with their charsets', () => {
    expect(text).toContain('Grüße aus Köln, das Café ist offen.');
    expect(text).toContain('Prix: 10€ le déjeuner, très bon');
  });

  it('skips non-text parts; encapsulated messages give their text, and their header only for TEXT', () => {
    expect(text).not.toContain('SECRETWORD');
    expect(text).toContain('inner body text');
    expect(text).not.toContain('Innere Nachricht');
    expect(bodyText(MSG, root, true)).toContain('Innere Nachricht');
    const all = searchText(MSG, root);
    expect(all).toContain('Subject: Résumé attached');
    expect(all).toContain('Innere Nachricht');
    expect(all).toContain('inner body text');
  });

  it('headerValues decodes every occurrence of a field, case-insensitively', () => {
    expect(headerValues(MSG, root, 'SUBJECT')).toEqual(['Résumé attached', 'second']);
    expect(headerValues(MSG, root, 'from')).toEqual(['René <rene@example.com>']);
    expect(headerValues(MSG, root, 'x-none')).toEqual([]);
  });

  it('matchText is case-insensitive, Unicode-aware and whitespace-normalising', () => {
    expect(matchText(text, 'CAFÉ')).toBe(true);
    expect(matchText(text, 'grüsse')).toBe(false);
    expect(matchText(text, 'GRÜSSE'.toLowerCase().replace('ss', 'ß'))).toBe(true);
    expect(matchText('hello   world\r\n again', 'WORLD AGAIN')).toBe(true);
    expect(matchText('Ｆｕｌｌ ｗｉｄｔｈ', 'full width')).toBe(true);
    expect(matchText('anything', '')).toBe(true);
    expect(matchText('abc', 'abd')).toBe(false);
  });

  it('decodeSearchString: known charsets decode, unknown ones are null (BADCHARSET)', () => {
    expect(decodeSearchString(Buffer.from('caf\xe9', 'latin1'), 'ISO-8859-1')).toBe('café');
    expect(decodeSearchString(Buffer.from('café', 'utf8'), 'UTF-8')).toBe('café');
    expect(decodeSearchString(Buffer.from('plain'), 'US-ASCII')).toBe('plain');
    expect(decodeSearchString(Buffer.from('x'), 'X-NO-SUCH')).toBeNull();
  });

  it('a message without Content-Type is text: its body is searched', () => {
    const raw = crlf('Subject: x\n\nJust Text\n');
    expect(bodyText(raw, parseMessage(raw))).toBe('Just Text\r\n');
  });
});
