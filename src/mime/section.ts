// BODY[section] per RFC 3501 §6.4.5, with Dovecot's answers where the RFC is vague
// (e.g. `1.MIME` of a non-multipart message is the message header).
import { newPart } from './parser.js';
import type { MimePart, SectionSpec } from './types.js';

export interface ByteRange {
  start: number;
  end: number;
}

/**
 * The part a section path names, or null if there is none. Numbers step into multipart children;
 * on a message/rfc822 part they step into the encapsulated message first; `1` of a non-multipart
 * entity is the entity itself.
 */
export function resolvePart(root: MimePart, path: readonly number[]): MimePart | null {
  let cur: MimePart | null = root;
  for (let i = 0; i < path.length && cur; i++) {
    const n = path[i];
    if (!Number.isInteger(n) || n < 1) return null;
    const more = i + 1 < path.length;
    if (cur.isMultipart) {
      // A multipart without any parts reads as one empty text/plain part (its BODYSTRUCTURE says so).
      cur = cur.children.length === 0 && n === 1 ? newPart(cur.bodyEnd, cur.depth + 1) : (cur.children[n - 1] ?? null);
    } else if (n !== 1 || (more && !cur.isMessage)) {
      return null;
    }
    // More path after a message/rfc822 part continues inside the encapsulated message.
    if (cur && more && cur.isMessage) cur = cur.message;
  }
  return cur;
}

/** The message whose HEADER/TEXT a path names: the root for [], else a message/rfc822 part's message. */
function messageFor(root: MimePart, path: readonly number[]): MimePart | null | 'not-message' {
  if (path.length === 0) return root;
  const part = resolvePart(root, path);
  if (!part) return null;
  if (!part.isMessage) return 'not-message';
  // A message/rfc822 part cut short by a boundary (or by the nesting cap) holds an empty message.
  return part.message ?? newPart(part.bodyEnd, part.depth + 1);
}

/**
 * Byte range of a section that is a contiguous slice of raw (all but HEADER.FIELDS(.NOT)).
 * null: the part does not exist or the section is not a slice. {start, end} equal: empty.
 */
export function sectionRange(raw: Buffer, root: MimePart, section: SectionSpec): ByteRange | null {
  const { path, kind } = section;
  if (kind === 'HEADER.FIELDS' || kind === 'HEADER.FIELDS.NOT') return null;
  if (kind === undefined) {
    if (path.length === 0) return { start: 0, end: raw.length };
    const part = resolvePart(root, path);
    return part ? { start: part.bodyStart, end: part.bodyEnd } : null;
  }
  if (kind === 'MIME') {
    if (path.length === 0) return null;
    const part = resolvePart(root, path);
    return part ? { start: part.headerStart, end: part.bodyStart } : null;
  }
  const msg = messageFor(root, path);
  if (msg === null) return null;
  if (msg === 'not-message') return { start: 0, end: 0 };
  return kind === 'HEADER' ? { start: msg.headerStart, end: msg.bodyStart } : { start: msg.bodyStart, end: msg.bodyEnd };
}

/**
 * HEADER.FIELDS / HEADER.FIELDS.NOT: the selected whole fields in order, then the empty line.
 * Lines without a colon are never selected by name but are kept by .NOT. The empty line follows
 * Dovecot 2.3 (checked against the binary): always when the header had one; for HEADER.FIELDS
 * also when the message header had none, or an encapsulated message's header is empty before a
 * boundary (it then also ends a last field that lacked a line break); never otherwise.
 */
function headerFields(raw: Buffer, msg: MimePart, isRoot: boolean, names: readonly string[], not: boolean): Buffer {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const chunks: Buffer[] = [];
  for (const f of msg.fields) {
    const selected = f.hasColon && wanted.has(f.name.toLowerCase());
    if (selected !== not) chunks.push(raw.subarray(f.start, f.end));
  }
  // An empty encapsulated header cut short by a boundary (not by the end of the message).
  const emptyHeader = msg.bodyStart === msg.headerStart && msg.bodyStart < raw.length;
  if (msg.hasBlankLine || (!not && (isRoot || emptyHeader))) chunks.push(CRLF);
  return Buffer.concat(chunks);
}

const CRLF = Buffer.from('\r\n');

/**
 * The bytes of BODY[section] (before any <partial>), or null when the part does not exist or the
 * section is invalid for it (`[]` + MIME). Parts of raw are returned as views, not copies.
 */
export function getSection(raw: Buffer, root: MimePart, section: SectionSpec): Buffer | null {
  const { path, kind } = section;
  if (kind === 'HEADER.FIELDS' || kind === 'HEADER.FIELDS.NOT') {
    const msg = messageFor(root, path);
    if (msg === null) return null;
    if (msg === 'not-message') return Buffer.alloc(0);
    return headerFields(raw, msg, msg === root, section.fields ?? [], kind === 'HEADER.FIELDS.NOT');
  }
  const r = sectionRange(raw, root, section);
  return r ? raw.subarray(r.start, r.end) : null;
}
