// Modified UTF-7 (RFC 3501 §5.1.3) for mailbox names: printable ASCII stands for itself ('&' as "&-"),
// anything else is UTF-16BE in base64 with ',' for '/', between '&' and '-'. Small enough to do by hand,
// and strict validation needs the hand-written decoder anyway.

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';

export function encodeMutf7(name: string): string {
  let out = '';
  let pending: number[] = [];
  const flush = () => {
    if (!pending.length) return;
    const bytes: number[] = [];
    for (const u of pending) bytes.push(u >> 8, u & 0xff);
    let bits = 0;
    let acc = 0;
    let enc = '';
    for (const b of bytes) {
      acc = (acc << 8) | b;
      bits += 8;
      while (bits >= 6) {
        bits -= 6;
        enc += B64[(acc >> bits) & 0x3f];
      }
    }
    if (bits > 0) enc += B64[(acc << (6 - bits)) & 0x3f];
    out += `&${enc}-`;
    pending = [];
  };
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e) {
      flush();
      out += c === 0x26 ? '&-' : name[i];
    } else {
      pending.push(c);
    }
  }
  flush();
  return out;
}

/** Decode, or null when the text is not valid modified UTF-7 (bad base64, needless shifts, 8-bit). */
export function decodeMutf7(text: string): string | null {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return null;
    if (c !== 0x26) {
      out += text[i++];
      continue;
    }
    const end = text.indexOf('-', i + 1);
    if (end < 0) return null;
    const enc = text.slice(i + 1, end);
    i = end + 1;
    if (enc === '') {
      out += '&';
      continue;
    }
    let acc = 0;
    let bits = 0;
    const bytes: number[] = [];
    for (const ch of enc) {
      const v = B64.indexOf(ch);
      if (v < 0) return null;
      acc = ((acc << 6) | v) & 0xffffff;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        bytes.push((acc >> bits) & 0xff);
      }
    }
    if (bits >= 6 || (acc & ((1 << bits) - 1)) !== 0 || bytes.length % 2) return null;
    let chunk = '';
    for (let k = 0; k < bytes.length; k += 2) chunk += String.fromCharCode((bytes[k]! << 8) | bytes[k + 1]!);
    // Printable ASCII must not be encoded (RFC 3501), so its presence means a forged or sloppy name.
    for (let k = 0; k < chunk.length; k++) {
      const u = chunk.charCodeAt(k);
      if (u >= 0x20 && u <= 0x7e) return null;
    }
    out += chunk;
  }
  return out;
}
