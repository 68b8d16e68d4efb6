// APPEND of binary content (RFC 3516 §4.4): the stores keep messages with normalised line ends (a bare
// LF comes back as CRLF, CR CR LF as CR LF, a missing final line end is added), which would change the
// bytes of a part sent with no transfer encoding. Such parts are re-encoded in base64 (the server MAY
// change the CTE as long as no data is lost), and the result is checked: every non-text part must
// decode to the same bytes after the store's round trip, or the APPEND fails with [UNKNOWN-CTE].
import { parseMessage } from './parser.js';
import type { MimePart } from './types.js';
import { decodeBody, transferKind } from './binary.js';

/** What the stores give back for `raw`: CRLF line ends, CR LF LF-normalised, a final line end. */
export function storeRoundTrip(raw: Buffer): Buffer {
  let s = raw.toString('latin1').replace(/\r\n/g, '\n').replace(/\n/g, '\r\n');
  if (s.length && !s.endsWith('\n')) s += '\r\n';
  return Buffer.from(s, 'latin1');
}

/** Leaves in order (multipart children, encapsulated messages' parts). */
function leaves(p: MimePart, out: MimePart[] = []): MimePart[] {
  if (p.isMultipart) for (const c of p.children) leaves(c, out);
  else if (p.isMessage && p.message) leaves(p.message, out);
  else out.push(p);
  return out;
}

/** Decoded bytes of every non-text leaf (null: an encoding we cannot decode). */
function binaryLeaves(raw: Buffer): (Buffer | null)[] {
  return leaves(parseMessage(raw)).filter((p) => !p.isText).map((p) => {
    const kind = transferKind(p.encoding);
    return kind ? decodeBody(raw.subarray(p.bodyStart, p.bodyEnd), kind) : null;
  });
}

function same(a: (Buffer | null)[], b: (Buffer | null)[]): boolean {
  return a.length === b.length && a.every((x, i) => (x === null ? b[i] === null : b[i] !== null && x.equals(b[i]!)));
}

const CTE = Buffer.from('Content-Transfer-Encoding: base64\r\n');

/**
 * The message to store for a literal8 APPEND: `raw` itself when the store keeps its binary parts
 * intact, else `raw` with those parts re-encoded in base64; null when that cannot be done without loss.
 */
export function storableBinary(raw: Buffer): Buffer | null {
  const want = binaryLeaves(raw);
  if (same(want, binaryLeaves(storeRoundTrip(raw)))) return raw;
  // Every non-text part sent as is gets base64 (also those the round trip would have kept: simpler).
  const root = parseMessage(raw);
  const chunks: Buffer[] = [];
  let pos = 0;
  for (const p of leaves(root)) {
    if (p.isText || transferKind(p.encoding) !== 'identity' || !p.hasBlankLine) continue;
    const body = raw.subarray(p.bodyStart, p.bodyEnd);
    const atEnd = p.bodyEnd === raw.length;
    chunks.push(raw.subarray(pos, p.headerStart));
    let blank = p.headerStart;
    for (const f of p.fields) {
      blank = Math.max(blank, f.end);
      if (f.hasColon && f.name.toLowerCase() === 'content-transfer-encoding') continue;
      chunks.push(raw.subarray(f.start, f.end));
    }
    chunks.push(CTE, raw.subarray(blank, p.bodyStart));
    const b64 = body.toString('base64').replace(/.{76}(?=.)/g, '$&\r\n');
    chunks.push(Buffer.from(atEnd ? `${b64}\r\n` : b64, 'latin1'));
    pos = p.bodyEnd;
  }
  chunks.push(raw.subarray(pos));
  const out = Buffer.concat(chunks);
  return same(want, binaryLeaves(storeRoundTrip(out))) ? out : null;
}
