// Charset names come from mail: the decoders remembered by name stay bounded however many distinct
// (mostly bogus) names a long-lived resident worker meets, and decoding stays right across a reset.
import { describe, expect, it } from 'vitest';
import { charsetCacheSize, decodeCharset } from '../../src/mime/charset.js';

describe('charset decoder cache', () => {
  it('stays bounded over many distinct charset names', () => {
    const bytes = Buffer.from('caf\xe9', 'latin1');
    for (let i = 0; i < 5000; i++) {
      decodeCharset(bytes, `x-bogus-${i}`);
      if (i % 1000 === 0) expect(decodeCharset(bytes, 'iso-8859-15')).toBe('café');
    }
    expect(charsetCacheSize()).toBeLessThanOrEqual(256);
    expect(decodeCharset(bytes, 'ISO-8859-15')).toBe('café');
  });
});
