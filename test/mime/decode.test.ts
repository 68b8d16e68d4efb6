// RFC 2047 encoded words, transfer encodings and charsets.
import { describe, expect, it } from 'vitest';
import { charsetKnown, decodeCharset, decodeHeaderValue, decodeQuotedPrintable, decodeTransfer, loadCharsets } from '../../src/mime/index.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('decodeHeaderValue', () => {
  it('decodes Q and B words in UTF-8 and ISO-8859-1', () => {
    expect(decodeHeaderValue(b('=?UTF-8?Q?caf=C3=A9?='))).toBe('café');
    expect(decodeHeaderValue(b('=?iso-8859-1?b?Y2Fm6Q==?='))).toBe('café');
    expect(decodeHeaderValue(b('=?utf-8?q?two_words?='))).toBe('two words');
  });

  it('drops whitespace between adjacent encoded words but keeps it around plain text', () => {
    expect(decodeHeaderValue(b('=?UTF-8?Q?a?= =?UTF-8?Q?b?='))).toBe('ab');
    expect(decodeHeaderValue(b('=?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?='))).toBe('ab');
    expect(decodeHeaderValue(b('=?UTF-8?Q?a?= x =?UTF-8?Q?b?='))).toBe('a x b');
    expect(decodeHeaderValue(b('Re: =?UTF-8?Q?caf=C3=A9?= now'))).toBe('Re: café now');
  });

  it('joins a multi-byte character split across two words', () => {
    expect(decodeHeaderValue(b('=?UTF-8?Q?=C3?= =?UTF-8?Q?=A9?='))).toBe('é');
  });

  it('decodes ISO-2022-JP (corpus 0124) and other multi-byte charsets', () => {
    expect(decodeHeaderValue(b('=?ISO-2022-JP?B?GyRCRnxLXDhsJWEhPCVrJUYlOSVIGyhCICh0ZXN0aW5nIEph?=\r\n =?ISO-2022-JP?B?cGFuZXNlIGVtYWlscyk=?='))).toBe('日本語メールテスト (testing Japanese emails)');
    expect(decodeHeaderValue(b('=?koi8-r?B?8NLJ18XU?='))).toBe('Привет');
    expect(decodeHeaderValue(b('=?windows-1251?Q?=CF=F0=E8=E2=E5=F2?='))).toBe('Привет');
  });

  it('takes raw 8-bit header bytes as UTF-8, or Windows-1252 when not valid UTF-8', () => {
    expect(decodeHeaderValue(Buffer.from('Grüße', 'utf8'))).toBe('Grüße');
    expect(decodeHeaderValue(b('Gr\xfc\xdfe'))).toBe('Grüße');
  });

  it('survives bad encodings without throwing', () => {
    expect(decodeHeaderValue(b('=?x-no-such-charset?Q?abc?='))).toBe('abc');
    expect(() => decodeHeaderValue(b('=?UTF-8?B?####?='))).not.toThrow();
    expect(decodeHeaderValue(b('=?UTF-8?Q?unterminated'))).toBe('=?UTF-8?Q?unterminated');
    expect(decodeHeaderValue(b('=?UTF-8?Q?bad=ZZhex?='))).toBe('bad=ZZhex');
    expect(decodeHeaderValue(b('=??Q?x?='))).toBe('=??Q?x?=');
    expect(decodeHeaderValue(b('a\0b'))).toBe('a\0b');
  });

  it('unfolds folded values', () => {
    expect(decodeHeaderValue(b('long\r\n subject'))).toBe('long subject');
  });
});

describe('transfer encodings', () => {
  it('quoted-printable: escapes, soft breaks, bad escapes kept', () => {
    expect(decodeQuotedPrintable(b('caf=C3=A9 =\r\nnext=3D=zz=')).toString('utf8')).toBe('café next==zz');
    expect(decodeQuotedPrintable(b('soft =  \r\nbreak')).toString()).toBe('soft break');
  });

  it('base64 with line breaks and junk', () => {
    expect(decodeTransfer(b('aGVs\r\nbG8g\r\nd29y bGQ=\r\n'), 'BASE64').toString()).toBe('hello world');
    expect(decodeTransfer(b('plain'), null).toString()).toBe('plain');
    expect(decodeTransfer(b('plain'), 'x-unknown').toString()).toBe('plain');
  });
});

describe('charsets', () => {
  it('knows common charsets without iconv-lite, and UTF-7 after loadCharsets()', async () => {
    expect(charsetKnown('ISO-8859-15')).toBe(true);
    expect(charsetKnown('shift_jis')).toBe(true);
    expect(charsetKnown('x-bogus')).toBe(false);
    expect(decodeCharset(b('abc'), 'x-bogus')).toBeNull();
    await loadCharsets();
    expect(charsetKnown('utf-7')).toBe(true);
    expect(decodeCharset(b('Hi Mom -+Jjo--!'), 'UTF-7')).toBe('Hi Mom -☺-!');
  });
});

describe('paramText', () => {
  it('decodes RFC 2231 charset values, continuations and RFC 2047 words', async () => {
    const { paramText, parseMessage } = await import('../../src/mime/index.js');
    const raw = Buffer.from(
      "Content-Type: text/plain; name*0*=utf-8''caf%C3%A9; name*1=\".txt\"; title==?UTF-8?Q?na=C3=AFve?=\r\nContent-Disposition: attachment; filename=\"=?ISO-8859-1?Q?r=E9sum=E9.pdf?=\"; size=3\r\n\r\nx\r\n",
      'latin1',
    );
    const root = parseMessage(raw);
    expect(root.params.map((p) => p.name)).toEqual(['title', 'name*']);
    expect(paramText(root.params, 'NAME')).toBe('café.txt');
    expect(paramText(root.params, 'title')).toBe('naïve');
    expect(paramText(root.disposition!.params, 'filename')).toBe('résumé.pdf');
    expect(paramText(root.disposition!.params, 'size')).toBe('3');
    expect(paramText(root.params, 'none')).toBeNull();
  });
});
