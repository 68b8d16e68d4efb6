// SEARCH helpers against the real Dovecot 2.3 binary: the same messages and terms, SEARCH BODY /
// TEXT / SUBJECT / FROM / HEADER in Dovecot versus bodyText / searchText / headerValues +
// matchText here. One deliberate difference: we normalise whitespace, Dovecot does not.
import { describe, expect, it } from 'vitest';
import { bodyText, foldText, headerValues, matchText, parseMessage, searchText } from '../../src/mime/index.js';
import { dovecotAvailable, dovecotSearch } from './dovecot-oracle.js';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

const MESSAGES = [
  `Subject: =?UTF-8?Q?caf=C3=A9?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64('Grüße aus Köln')}\r\n`,
  `Subject: plain\r\nX-Custom: Some Value\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64('SECRETWORD binary')}\r\n--b\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>d=E9jeuner tr=\r\n=E8s bon</p>\r\n--b--\r\n`,
  `Subject: fwd\r\nContent-Type: message/rfc822\r\n\r\nSubject: Innere\r\nFrom: inner@x.y\r\n\r\ninner BODY text\r\n`,
  `Subject: x\r\nFrom: =?ISO-8859-1?Q?Ren=E9?= <rene@example.com>\r\n\r\nhello   world\r\n again\r\n`,
  `Subject: =?ISO-2022-JP?B?GyRCRnxLXDhsJWEhPCVrJUYlOSVIGyhC?=\r\nContent-Type: text/plain; charset=iso-2022-jp\r\n\r\n\x1b$BF|K\\8l\x1b(B\r\n`,
  `Subject: =?UTF-8?B?${b64('Ünïcödé')}?= and =?UTF-8?Q?more?=\r\nContent-Type: text/plain; charset=windows-1252\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nprice 10=80 =93quoted=94\r\n`,
].map((m) => Buffer.from(m, 'latin1'));

const TERMS = ['café', 'CAFE', 'grüße', 'GRÜSSE', 'köln', 'secretword', 'déjeuner', 'très bon', 'tr=', 'innere', 'inner body', 'inner@x.y', 'René', 'rene@example', 'world', '日本語', 'メール', 'p>d', 'ünïcödé', 'ÜNÏCÖDÉ', 'and more', '10€', '“quoted”', 'some value', 'plain', 'x'];
const KEYS = ['BODY', 'TEXT', 'SUBJECT', 'FROM', 'HEADER X-Custom'];

function ours(raw: Buffer, key: string, term: string): boolean {
  const root = parseMessage(raw);
  if (key === 'BODY') return matchText(bodyText(raw, root), term);
  if (key === 'TEXT') return matchText(searchText(raw, root), term);
  const name = key.startsWith('HEADER ') ? key.slice(7) : key;
  return headerValues(raw, root, name).some((v) => matchText(v, term));
}

describe.skipIf(!dovecotAvailable())('search decoding vs the Dovecot 2.3 binary', () => {
  it('finds the same messages for every key and term', () => {
    const queries = KEYS.flatMap((key) => TERMS.map((term) => ({ key, term })));
    const dovecot = dovecotSearch(MESSAGES, queries);
    expect(dovecot.length).toBe(queries.length);
    const diffs: string[] = [];
    queries.forEach((q, i) => {
      const mine = MESSAGES.map((m, j) => (ours(m, q.key, q.term) ? j + 1 : 0)).filter(Boolean);
      if (JSON.stringify(mine) !== JSON.stringify(dovecot[i])) diffs.push(`${q.key} ${q.term}: ours ${mine} dovecot ${dovecot[i]}`);
    });
    expect(diffs).toEqual([]);
    // The matches are not trivially empty or total.
    expect(dovecot.filter((r) => r.length > 0 && r.length < MESSAGES.length).length).toBeGreaterThan(30);
  });

  it('deliberate difference: whitespace runs and line breaks match a single space here, not in Dovecot', () => {
    const queries = ['hello world', 'world again'].map((term) => ({ key: 'BODY', term }));
    expect(dovecotSearch(MESSAGES, queries)).toEqual([[], []]);
    for (const q of queries) expect(ours(MESSAGES[3], q.key, q.term)).toBe(true);
    expect(foldText('hello   world\r\n again')).toBe('hello world again');
  });
});
