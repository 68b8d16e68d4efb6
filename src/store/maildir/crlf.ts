// Line-ending conversions. Messages are stored with LF endings (Dovecot's default, and what MDAs
// write); the protocol sees CRLF. RFC822.SIZE (Dovecot's "virtual size", W=) counts every LF as CRLF.

const LF = 0x0a;
const CR = 0x0d;

/** Bytes the message has once every bare LF becomes CRLF. */
export function crlfSize(buf: Buffer): number {
  let extra = 0;
  let i = buf.indexOf(LF);
  while (i >= 0) {
    if (i === 0 || buf[i - 1] !== CR) extra += 1;
    i = buf.indexOf(LF, i + 1);
  }
  return buf.length + extra;
}

export function toCrlf(buf: Buffer): Buffer {
  const extra = crlfSize(buf) - buf.length;
  if (extra === 0) return buf;
  const out = Buffer.allocUnsafe(buf.length + extra);
  let o = 0;
  let start = 0;
  let i = buf.indexOf(LF);
  while (i >= 0) {
    if (i === 0 || buf[i - 1] !== CR) {
      o += buf.copy(out, o, start, i);
      out[o++] = CR;
      start = i;
    }
    i = buf.indexOf(LF, i + 1);
  }
  o += buf.copy(out, o, start);
  return out;
}

/** CRLF → LF for storage. A lone CR is left alone (it is message content). */
export function toLf(buf: Buffer): Buffer {
  let i = buf.indexOf(CR);
  if (i < 0) return buf;
  const out = Buffer.allocUnsafe(buf.length);
  let o = 0;
  let start = 0;
  while (i >= 0) {
    if (buf[i + 1] === LF) {
      o += buf.copy(out, o, start, i);
      start = i + 1;
    }
    i = buf.indexOf(CR, i + 1);
  }
  o += buf.copy(out, o, start);
  return out.subarray(0, o);
}

/** CRLF-converts a stream of file chunks and yields only output bytes [start, end). */
export async function* crlfSlice(chunks: AsyncIterable<Buffer>, start: number, end: number): AsyncGenerator<Buffer> {
  let prevCr = false;
  let pos = 0;
  for await (const chunk of chunks) {
    if (pos >= end) break;
    if (chunk.length === 0) continue;
    let out = toCrlf(chunk);
    // A chunk starting with LF after one ending in CR is already CRLF: drop the CR toCrlf inserted.
    if (prevCr && chunk[0] === LF) out = out.subarray(1);
    prevCr = chunk[chunk.length - 1] === CR;
    const from = Math.max(0, start - pos);
    const to = Math.min(out.length, end - pos);
    if (from < to) yield out.subarray(from, to);
    pos += out.length;
  }
}
