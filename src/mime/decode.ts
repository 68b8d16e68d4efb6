// Content-Transfer-Encoding and RFC 2047 encoded-word decoding, tolerant of the broken input real
// mail carries. Linear in the input; never throws.
import { decodeCharset, decodeUnlabelled } from './charset.js';

/** Quoted-printable → bytes. Bad escapes are kept literally; soft line breaks vanish. */
export function decodeQuotedPrintable(src: Uint8Array, underscoreIsSpace = false): Buffer {
  const out = Buffer.allocUnsafe(src.length);
  let o = 0;
  const hex = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1);
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === 0x3d) {
      // Soft line break: '=' then optional trailing whitespace then (CR)LF.
      let j = i + 1;
      while (j < src.length && (src[j] === 0x20 || src[j] === 0x09)) j++;
      if (j < src.length && (src[j] === 0x0a || (src[j] === 0x0d && src[j + 1] === 0x0a))) {
        i = src[j] === 0x0d ? j + 1 : j;
        continue;
      }
      if (j >= src.length) break;
      const h = i + 2 < src.length ? hex(src[i + 1]) : -1;
      const l = h >= 0 ? hex(src[i + 2]) : -1;
      if (h >= 0 && l >= 0) {
        out[o++] = (h << 4) | l;
        i += 2;
        continue;
      }
      out[o++] = c;
    } else if (c === 0x5f && underscoreIsSpace) {
      out[o++] = 0x20;
    } else {
      out[o++] = c;
    }
  }
  return out.subarray(0, o);
}

/** Base64 → bytes; characters outside the alphabet are skipped, as Node does. */
export function decodeBase64(src: Uint8Array): Buffer {
  return Buffer.from(Buffer.from(src.buffer, src.byteOffset, src.byteLength).toString('latin1'), 'base64');
}

/** Decodes a body by its Content-Transfer-Encoding (null/7bit/8bit/binary/unknown: unchanged). */
export function decodeTransfer(body: Uint8Array, encoding: string | null): Buffer {
  const enc = (encoding ?? '').toLowerCase();
  if (enc === 'base64') return decodeBase64(body);
  if (enc === 'quoted-printable') return decodeQuotedPrintable(body);
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=/g;

function decodeWordBytes(enc: string, text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  return enc === 'b' || enc === 'B' ? decodeBase64(bytes) : decodeQuotedPrintable(bytes, true);
}

/**
 * A header value (raw bytes, possibly folded) → Unicode text: RFC 2047 encoded words decoded in
 * any charset, whitespace between adjacent encoded words dropped, adjacent words in one charset
 * joined before decoding (multi-byte characters may be split across words), raw 8-bit text taken
 * as UTF-8 or Windows-1252, line folding removed.
 */
export function decodeHeaderValue(raw: Uint8Array | string): string {
  const wire = typeof raw === 'string' ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1');
  const unfolded = wire.replace(/\r?\n(?=[ \t])/g, '').replace(/\r?\n/g, '');
  let out = '';
  let last = 0;
  let pendingCharset: string | null = null;
  let pending: Buffer[] = [];
  const flush = (): void => {
    if (pendingCharset === null) return;
    const bytes = Buffer.concat(pending);
    out += decodeCharset(bytes, pendingCharset) ?? decodeUnlabelled(bytes);
    pendingCharset = null;
    pending = [];
  };
  const plain = (s: string): string => decodeUnlabelled(Buffer.from(s, 'latin1'));
  ENCODED_WORD.lastIndex = 0;
  for (let m = ENCODED_WORD.exec(unfolded); m; m = ENCODED_WORD.exec(unfolded)) {
    const between = unfolded.slice(last, m.index);
    const adjacent = pendingCharset !== null && /^[ \t]*$/.test(between);
    const charset = m[1].split('*')[0].toLowerCase();
    if (!adjacent) {
      flush();
      out += plain(between);
    } else if (charset !== pendingCharset) {
      flush();
    }
    pendingCharset = charset;
    pending.push(decodeWordBytes(m[2], m[3]));
    last = m.index + m[0].length;
  }
  flush();
  out += plain(unfolded.slice(last));
  return out;
}
