// foldText (SEARCH's matching form) takes shortcuts for speed: it must give exactly what NFKD + lower
// case + every whitespace run as one space gives, for any text.
import { describe, expect, it } from 'vitest';
import { foldText } from '../../src/mime/search.js';

const reference = (s: string) => s.normalize('NFKD').toLowerCase().replace(/\s+/g, ' ');

describe('foldText', () => {
  it('equals the plain definition on random mixes of blanks, ASCII and non-ASCII', () => {
    const chars = [' ', ' ', '\t', '\r', '\n', '\u00a0', '\u2003', '\ufeff', '\u3000', 'a', 'Z', 'é', 'ﬁ', 'Ａ', 'İ', 'ß', '\u0301'];
    let seed = 14;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    for (let k = 0; k < 20000; k++) {
      let s = '';
      for (let j = rand(14); j > 0; j--) s += chars[rand(chars.length)];
      expect(foldText(s), JSON.stringify(s)).toBe(reference(s));
    }
    expect(foldText('Hello   World\r\n\tAgain')).toBe('hello world again');
  });
});
