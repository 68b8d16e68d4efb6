// Content-Transfer-Encoding removal for FETCH BINARY (RFC 3516), incrementally: a big part is decoded
// chunk by chunk (size first, then the bytes), so the decoded copy is never held whole beside the raw
// message. Deterministic: the chunked and the whole-buffer decodings give the same bytes, so a
// BINARY.SIZE always matches the BINARY literal that follows.

/** How a part's body is decoded: as is (7bit, 8bit, binary, none given), base64 or quoted-printable. */
export type TransferKind = 'identity' | 'base64' | 'quoted-printable';

/** The decoding for a Content-Transfer-Encoding token (null: none given, 7bit), or null when unknown
 *  (RFC 3516: the server answers NO [UNKNOWN-CTE]). */
export function transferKind(encoding: string | null): TransferKind | null {
  const e = (encoding ?? '7bit').trim().toLowerCase();
  if (e === '7bit' || e === '8bit' || e === 'binary') return 'identity';
  if (e === 'base64') return 'base64';
  if (e === 'quoted-printable') return 'quoted-printable';
  return null;
}

const B64 = new Int16Array(256).fill(-1);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((c, i) => (B64[c.charCodeAt(0)] = i));

const HEX = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1);

/**
 * An incremental decoder: push() input in any pieces, then end(). Base64 skips every character outside
 * its alphabet ('=' included) and decodes a trailing group of 2 or 3 characters to 1 or 2 bytes.
 * Quoted-printable keeps bad escapes literally and drops soft line breaks (`=` + optional blanks +
 * line end), as src/mime/decode.ts does for SEARCH.
 */
export class TransferDecoder {
  private bits = 0;
  private nbits = 0;
  /** Quoted-printable bytes held back because the next piece decides what they mean. */
  private held: Buffer = Buffer.alloc(0);

  constructor(readonly kind: TransferKind) {}

  push(chunk: Buffer): Buffer {
    if (this.kind === 'identity') return chunk;
    if (this.kind === 'base64') return this.base64(chunk);
    const src = this.held.length ? Buffer.concat([this.held, chunk]) : chunk;
    // Everything up to the last line end is decided; a tail without one waits for more.
    const cut = src.lastIndexOf(0x0a) + 1;
    this.held = Buffer.from(src.subarray(cut));
    return qp(src.subarray(0, cut), false);
  }

  end(): Buffer {
    if (this.kind !== 'quoted-printable') return Buffer.alloc(0);
    const rest = this.held;
    this.held = Buffer.alloc(0);
    return qp(rest, true);
  }

  private base64(chunk: Buffer): Buffer {
    const out = Buffer.allocUnsafe(Math.ceil((chunk.length * 3) / 4) + 3);
    let o = 0;
    let bits = this.bits;
    let nbits = this.nbits;
    for (let i = 0; i < chunk.length; i++) {
      const v = B64[chunk[i]!]!;
      if (v < 0) continue;
      bits = ((bits << 6) | v) & 0xffffff;
      nbits += 6;
      if (nbits >= 8) {
        nbits -= 8;
        out[o++] = (bits >> nbits) & 0xff;
      }
    }
    this.bits = bits;
    this.nbits = nbits;
    return out.subarray(0, o);
  }
}

/** Quoted-printable of whole lines (or the final tail when `last`). */
function qp(src: Buffer, last: boolean): Buffer {
  const out = Buffer.allocUnsafe(src.length);
  let o = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c !== 0x3d) {
      out[o++] = c;
      continue;
    }
    let j = i + 1;
    while (j < src.length && (src[j] === 0x20 || src[j] === 0x09)) j++;
    if (j < src.length && (src[j] === 0x0a || (src[j] === 0x0d && src[j + 1] === 0x0a))) {
      i = src[j] === 0x0d ? j + 1 : j;
      continue;
    }
    // '=' and blanks at the very end of the body: a soft break with nothing after it.
    if (j >= src.length && last) break;
    const h = i + 2 < src.length ? HEX(src[i + 1]!) : -1;
    const l = h >= 0 ? HEX(src[i + 2]!) : -1;
    if (h >= 0 && l >= 0) {
      out[o++] = (h << 4) | l;
      i += 2;
    } else {
      out[o++] = c;
    }
  }
  return out.subarray(0, o);
}

/** Input piece size for chunked decoding. */
export const DECODE_CHUNK = 256 * 1024;

/** The decoded body in pieces of about DECODE_CHUNK bytes. */
export function* decodedChunks(body: Buffer, kind: TransferKind): Generator<Buffer> {
  if (kind === 'identity') {
    for (let p = 0; p < body.length; p += DECODE_CHUNK) yield body.subarray(p, Math.min(body.length, p + DECODE_CHUNK));
    return;
  }
  const d = new TransferDecoder(kind);
  for (let p = 0; p < body.length; p += DECODE_CHUNK) {
    const out = d.push(body.subarray(p, Math.min(body.length, p + DECODE_CHUNK)));
    if (out.length) yield out;
  }
  const tail = d.end();
  if (tail.length) yield tail;
}

/** Size of the decoded body and whether it holds a NUL byte (the response then needs a literal8),
 *  without keeping the decoded bytes. */
export function decodedInfo(body: Buffer, kind: TransferKind): { size: number; hasNul: boolean } {
  if (kind === 'identity') return { size: body.length, hasNul: body.includes(0) };
  let size = 0;
  let hasNul = false;
  for (const c of decodedChunks(body, kind)) {
    size += c.length;
    if (!hasNul && c.includes(0)) hasNul = true;
  }
  return { size, hasNul };
}

/** The whole decoded body (for small parts and CATENATE). */
export function decodeBody(body: Buffer, kind: TransferKind): Buffer {
  if (kind === 'identity') return body;
  return Buffer.concat([...decodedChunks(body, kind)]);
}
