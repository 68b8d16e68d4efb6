// FETCH BINARY[part]<partial>, BINARY.PEEK and BINARY.SIZE (RFC 3516): a part with its transfer
// encoding removed. Small parts are decoded in memory; a big one is measured in a first pass and sent
// in a second, chunk by chunk, so its decoded copy is never held whole beside the message. A literal8
// (`~{n}`) is used when the decoded bytes hold a NUL, a plain literal otherwise.
import { Readable } from 'node:stream';
import { decodeBody, decodedChunks, decodedInfo, transferKind, type TransferKind } from '../mime/binary.js';
import { messageBinaryPart } from './message-data.js';

/** The part's transfer encoding is none we can remove: the command fails with NO [UNKNOWN-CTE]. */
export class UnknownCte extends Error {
  constructor(readonly encoding: string) {
    super(`Unknown Content-Transfer-Encoding ${encoding}`);
    this.name = 'UnknownCte';
  }
}

export type BinaryPiece = string | Buffer | { stream: () => Readable; length: number };

/** Parts whose encoded body is at most this big are decoded at once. */
const IN_MEMORY = 1 << 20;

function decodable(raw: Buffer, path: readonly number[]): { body: Buffer; kind: TransferKind } | null {
  const p = messageBinaryPart(raw, path);
  if (!p) return null;
  const kind = transferKind(p.encoding);
  if (!kind) throw new UnknownCte(p.encoding ?? '');
  return { body: p.body, kind };
}

/** `BINARY.SIZE[part] n`; a part that does not exist has size 0. */
export function binarySize(raw: Buffer, path: readonly number[], label: string): string {
  const d = decodable(raw, path);
  const size = !d ? 0 : d.kind === 'base64' ? base64Size(d.body) : decodedInfo(d.body, d.kind).size;
  return `${label} ${size}`;
}

/** Decoded size of base64 without decoding: 6 bits per alphabet character, whole bytes. */
function base64Size(body: Buffer): number {
  let n = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f) n++;
  }
  return Math.floor((n * 6) / 8);
}

/** The response pieces of `BINARY[part]<partial> data`; NIL for a part that does not exist. */
export function binaryPieces(raw: Buffer, path: readonly number[], label: string, partial?: { start: number; length: number }): BinaryPiece[] {
  const d = decodable(raw, path);
  if (!d) return [`${label} NIL`];
  if (d.body.length <= IN_MEMORY) {
    let data = decodeBody(d.body, d.kind);
    if (partial) {
      const start = Math.min(partial.start, data.length);
      data = data.subarray(start, Math.min(data.length, start + partial.length));
    }
    return [`${label} ${data.includes(0) ? '~' : ''}{${data.length}}\r\n`, data];
  }
  // Big: measure first (NUL anywhere makes it a literal8, which is always allowed for BINARY), then
  // stream only the bytes of [start, end).
  const info = decodedInfo(d.body, d.kind);
  const start = Math.min(partial?.start ?? 0, info.size);
  const end = partial ? Math.min(info.size, start + partial.length) : info.size;
  const head = `${label} ${info.hasNul ? '~' : ''}{${end - start}}\r\n`;
  if (end <= start) return [head];
  return [head, { stream: () => Readable.from(slice(decodedChunks(d.body, d.kind), start, end)), length: end - start }];
}

function* slice(chunks: Iterable<Buffer>, start: number, end: number): Generator<Buffer> {
  let pos = 0;
  for (const c of chunks) {
    const cStart = pos;
    pos += c.length;
    if (pos <= start) continue;
    if (cStart >= end) return;
    yield c.subarray(Math.max(0, start - cStart), Math.min(c.length, end - cStart));
  }
}
