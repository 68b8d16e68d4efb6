// Identities written `${a}.${b}` of two numbers (the mbox store's size and hash of a message): the one rule
// by which the facts file and the keys file compare them as numbers instead of strings. Any other identity
// (maildir's, a third store's) reads as NaN and is compared as a string by its callers.

/** A run of ASCII digits b[s..e) as a number when it is how `String(n)` writes a safe integer (no leading
 *  zero but "0" itself, at most 15 digits); NaN otherwise. */
export function digitsAt(b: Uint8Array, s: number, e: number): number {
  if (e <= s || e - s > 15 || (b[s] === 0x30 && e - s > 1)) return NaN;
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = b[i]! - 0x30;
    if (c < 0 || c > 9) return NaN;
    v = v * 10 + c;
  }
  return v;
}

/** An identity `${a}.${b}` of two numbers, as [a, b]; [NaN, NaN] for any other form. */
export function pairOf(identity: string): [number, number] {
  const dot = identity.indexOf('.');
  if (dot > 0) {
    const a = Number(identity.slice(0, dot));
    const b = Number(identity.slice(dot + 1));
    if (`${a}.${b}` === identity) return [a, b];
  }
  return [NaN, NaN];
}
