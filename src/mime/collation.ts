// The i;unicode-casemap collation (RFC 5051) that SORT and THREAD use (RFC 5256 §4, I18NLEVEL=1):
// every character mapped to its (simple) titlecase, then the string canonically decomposed (NFD);
// two strings then compare as i;octet, i.e. by Unicode code point (UTF-8 byte order).

/** Simple titlecase mappings that differ from a one-character toUpperCase(): the Latin digraphs,
 *  whose titlecase is their own middle form, and the Greek letters with ypogegrammeni, whose full
 *  uppercase is two characters but whose simple titlecase is one. */
const TITLE: Record<number, number> = {
  0x01c4: 0x01c5, 0x01c5: 0x01c5, 0x01c6: 0x01c5,
  0x01c7: 0x01c8, 0x01c8: 0x01c8, 0x01c9: 0x01c8,
  0x01ca: 0x01cb, 0x01cb: 0x01cb, 0x01cc: 0x01cb,
  0x01f1: 0x01f2, 0x01f2: 0x01f2, 0x01f3: 0x01f2,
  0x1fb3: 0x1fbc, 0x1fbc: 0x1fbc, 0x1fc3: 0x1fcc, 0x1fcc: 0x1fcc, 0x1ff3: 0x1ffc, 0x1ffc: 0x1ffc,
};
for (const base of [0x1f80, 0x1f90, 0x1fa0]) {
  for (let i = 0; i < 8; i++) {
    TITLE[base + i] = base + 8 + i;
    TITLE[base + 8 + i] = base + 8 + i;
  }
}

function titlecaseChar(ch: string, cp: number): string {
  const t = TITLE[cp];
  if (t !== undefined) return String.fromCodePoint(t);
  if (cp < 0x61) return ch;
  if (cp <= 0x7a) return String.fromCharCode(cp - 32);
  if (cp < 0x80) return ch;
  const up = ch.toUpperCase();
  // Full mappings that expand (ß → SS, ŉ → ʼN) are not simple mappings: the character stays.
  return up.length === ch.length || [...up].length === 1 ? up : ch;
}

/** The collation key of i;unicode-casemap: titlecase, then NFD. */
export function unicodeCasemap(s: string): string {
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return s.toUpperCase();
  let out = '';
  for (const ch of s) out += titlecaseChar(ch, ch.codePointAt(0)!);
  return out.normalize('NFD');
}

/** i;octet on the UTF-8 forms of two strings: code point order (UTF-16 code unit order differs for
 *  characters above U+FFFF against U+E000-U+FFFF). */
export function compareCodepoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && x <= 0xdfff && y >= 0xd800 && y <= 0xdfff) return x - y;
    if (x >= 0xd800 && x <= 0xdfff) return y >= 0xe000 ? 1 : x - y;
    if (y >= 0xd800 && y <= 0xdfff) return x >= 0xe000 ? -1 : x - y;
    return x - y;
  }
  return a.length - b.length;
}
