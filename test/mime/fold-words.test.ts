// caseFold (mime/search.ts): SEARCH BODY/TEXT skips the whitespace step of foldText for a needle without
// a space. Property: for any text and any needle whose folded form has no space, finding it in the
// caseFold form answers exactly as finding it in the foldText form (random texts of letters that fold
// in interesting ways — ligatures, full-width forms, final sigma, accents — and every kind of
// whitespace, including no-break and line/paragraph separators).
import { describe, expect, it } from 'vitest';
import { caseFold, foldText, foldWhitespace } from '../../src/mime/search.js';
import { rng } from '../helpers/xorshift.js';

const PIECES = ['a', 'B', 'x', 'ab', 'ﬁ', 'fi', 'ＦＵ', 'fu', 'Σ', 'σ', 'ς', 'é', 'e\u0301', 'İ', 'ß', 'K', '\u212a', '1', '-', '.'];
const SPACES = [' ', '  ', '\t', '\r\n', '\n ', '\u00a0', '\u2028', '\u3000', ' \t '];

describe('caseFold', () => {
  it('finds a needle without a space exactly where foldText finds it', () => {
    const r = rng(2047);
    const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
    let hits = 0;
    let misses = 0;
    for (let n = 0; n < 4000; n++) {
      let text = '';
      for (let k = Math.floor(r() * 30); k > 0; k--) text += r() < 0.25 ? pick(SPACES) : pick(PIECES);
      let needle = '';
      for (let k = 1 + Math.floor(r() * 3); k > 0; k--) needle += pick(PIECES);
      // Sometimes a piece of the text itself, so that hits are common.
      if (r() < 0.5 && text.length > 2) {
        const a = Math.floor(r() * text.length);
        needle = text.slice(a, a + 1 + Math.floor(r() * 4));
      }
      const folded = foldText(needle);
      if (folded.includes(' ') || folded === '') continue;
      const want = foldText(text).includes(folded);
      expect(caseFold(text).includes(folded), JSON.stringify({ text, needle })).toBe(want);
      if (want) hits++;
      else misses++;
    }
    expect(hits).toBeGreaterThan(300);
    expect(misses).toBeGreaterThan(300);
  });

  it('with foldWhitespace is foldText', () => {
    for (const s of ['Hello   World', 'ﬁne\r\n\tday', 'ΣΑΣ σ', '\u00a0x\u2028y ', '']) expect(foldWhitespace(caseFold(s))).toBe(foldText(s));
  });
});
