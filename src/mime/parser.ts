// One forward pass over the raw message, like Dovecot's message-parser: a stack of active
// boundaries, each line start checked against them (innermost first), so an outer boundary also
// ends every inner part. Never throws; depth and part count are capped so hostile nesting stays
// bounded in stack and memory.
import { applyContentFields, parseContentTypeValue, parseParams } from './content-headers.js';
import { fieldValue, newField } from './header.js';
import type { HeaderField, MimePart } from './types.js';

/** Dovecot's defaults (max_nested_mime_parts / max_total_mime_parts). */
export const MAX_DEPTH = 100;
export const MAX_PARTS = 10000;
const MAX_BOUNDARY = 80;

interface Hit {
  /** Index into the boundary stack. */
  idx: number;
  lineStart: number;
  /** Start of the line after the boundary line. */
  nextLine: number;
  final: boolean;
}

interface Ctx {
  raw: Buffer;
  stack: Buffer[];
  parts: number;
}

function lineEndAfter(raw: Buffer, pos: number): number {
  const lf = raw.indexOf(0x0a, pos);
  return lf < 0 ? raw.length : lf + 1;
}

function matchBoundary(ctx: Ctx, p: number, depthLimit: number): Hit | null {
  const raw = ctx.raw;
  if (raw[p] !== 0x2d || raw[p + 1] !== 0x2d) return null;
  for (let i = depthLimit - 1; i >= 0; i--) {
    const b = ctx.stack[i];
    const s = p + 2;
    if (s + b.length > raw.length) continue;
    if (raw.compare(b, 0, b.length, s, s + b.length) !== 0) continue;
    const after = s + b.length;
    const final = raw[after] === 0x2d && raw[after + 1] === 0x2d;
    return { idx: i, lineStart: p, nextLine: lineEndAfter(raw, p), final };
  }
  return null;
}

/** Scans line starts from pos for a boundary in stack[0..depthLimit). */
function scanToBoundary(ctx: Ctx, pos: number, depthLimit: number): Hit | null {
  if (depthLimit === 0) return null;
  const raw = ctx.raw;
  let p = pos;
  while (p < raw.length) {
    const hit = matchBoundary(ctx, p, depthLimit);
    if (hit) return hit;
    const lf = raw.indexOf(0x0a, p);
    if (lf < 0) return null;
    p = lf + 1;
  }
  return null;
}

/** Where a body ends when the boundary line starts at lineStart: the line break before it belongs to the boundary. */
function bodyEndBefore(raw: Buffer, lineStart: number, bodyStart: number): number {
  if (lineStart - 2 >= bodyStart && raw[lineStart - 2] === 0x0d && raw[lineStart - 1] === 0x0a) return lineStart - 2;
  if (lineStart - 1 >= bodyStart && raw[lineStart - 1] === 0x0a) return lineStart - 1;
  return lineStart;
}

function parseHeaderBlock(ctx: Ctx, pos: number): { fields: HeaderField[]; bodyStart: number; hit: Hit | null; blank: boolean } {
  const raw = ctx.raw;
  const fields: HeaderField[] = [];
  let cur: HeaderField | null = null;
  let p = pos;
  while (p < raw.length) {
    const lineEnd = lineEndAfter(raw, p);
    const c = raw[p];
    if (c === 0x0a || (c === 0x0d && raw[p + 1] === 0x0a)) return { fields, bodyStart: lineEnd, hit: null, blank: true };
    const hit = ctx.stack.length > 0 ? matchBoundary(ctx, p, ctx.stack.length) : null;
    if (hit) return { fields, bodyStart: p, hit, blank: false };
    if ((c === 0x20 || c === 0x09) && cur !== null) {
      cur.end = lineEnd;
    } else {
      cur = newField(raw, p, lineEnd);
      fields.push(cur);
    }
    p = lineEnd;
  }
  return { fields, bodyStart: raw.length, hit: null, blank: false };
}

function countLines(raw: Buffer, start: number, end: number): { lines: number; bareLf: number } {
  let lines = 0;
  let bareLf = 0;
  let p = start;
  for (;;) {
    const lf = raw.indexOf(0x0a, p);
    if (lf < 0 || lf >= end) break;
    lines++;
    if (lf === 0 || raw[lf - 1] !== 0x0d || lf - 1 < start) bareLf++;
    p = lf + 1;
  }
  return { lines, bareLf };
}

export function newPart(headerStart: number, depth: number): MimePart {
  return {
    headerStart,
    bodyStart: headerStart,
    bodyEnd: headerStart,
    fields: [],
    hasBlankLine: false,
    type: null,
    subtype: null,
    params: [],
    isMultipart: false,
    isMessage: false,
    isText: true,
    disposition: null,
    language: null,
    location: null,
    id: null,
    description: null,
    encoding: null,
    md5: null,
    bodySize: 0,
    bodyLines: 0,
    headerSize: 0,
    children: [],
    message: null,
    depth,
  };
}

function isMimeMarker(name: string): boolean {
  const n = name.toLowerCase();
  return n === 'mime-version' || n === 'content-type';
}

/** Structural flags come from the first Content-Type field only (Dovecot's message-parser). */
function structureFlags(ctx: Ctx, part: MimePart, digestChild: boolean): Buffer | null {
  const first = part.fields.find((f) => f.hasColon && f.name.toLowerCase() === 'content-type');
  if (!first) {
    if (digestChild) part.isMessage = true;
    return null;
  }
  const ct = parseContentTypeValue(fieldValue(ctx.raw, first).split('\0')[0]);
  const type = ct.type.toLowerCase();
  const subtype = ct.subtype.toLowerCase();
  if (type === 'message' && subtype === 'rfc822') {
    part.isMessage = true;
    return null;
  }
  if (type !== 'multipart' || ct.subtype === '') return null;
  part.isMultipart = true;
  if (!ct.parser) return null;
  const boundary = parseParams(ct.parser).find((p) => p.name.toLowerCase() === 'boundary');
  // Dovecot keeps at most 80 bytes of a boundary (RFC 2046 allows 70) and matches by prefix.
  return boundary ? Buffer.from(boundary.value.slice(0, MAX_BOUNDARY), 'latin1') : null;
}

function finish(ctx: Ctx, part: MimePart, end: number): void {
  part.bodyEnd = end;
  const body = countLines(ctx.raw, part.bodyStart, end);
  part.bodyLines = body.lines;
  part.bodySize = end - part.bodyStart + body.bareLf;
  const hdr = countLines(ctx.raw, part.headerStart, part.bodyStart);
  part.headerSize = part.bodyStart - part.headerStart + hdr.bareLf;
}

/**
 * Parses one entity starting at pos. Returns the boundary hit that ended it (null at end of input)
 * and `end`: where the enclosing part's body ends if this entity is its last content.
 *
 * Line-break ownership copies Dovecot: the CRLF before a boundary line belongs to the boundary,
 * even when it is the blank line ending a header (the header is then trimmed); but a CRLF ending a
 * closing boundary line stays in the multipart, and an encapsulated message whose header was cut
 * short by a boundary keeps that CRLF in the message/rfc822 part's size.
 */
function parseEntity(ctx: Ctx, pos: number, inMultipart: boolean, digestChild: boolean, depth: number): { part: MimePart; hit: Hit | null; end: number } {
  const raw = ctx.raw;
  ctx.parts++;
  const part = newPart(pos, depth);
  const h = parseHeaderBlock(ctx, pos);
  part.fields = h.fields;
  part.hasBlankLine = h.blank;
  part.bodyStart = h.bodyStart;
  // Content-* fields count only in MIME entities: multipart children, or a header with
  // MIME-Version or Content-Type (Dovecot ignores e.g. a lone Content-Transfer-Encoding otherwise).
  if (inMultipart || part.fields.some((f) => f.hasColon && isMimeMarker(f.name))) applyContentFields(part, raw);
  part.isText = part.type === null || part.type.toLowerCase() === 'text';
  // A multipart without a boundary stays a multipart with no parts (Dovecot shows one empty text part).
  const boundary = structureFlags(ctx, part, digestChild);
  if (h.hit) {
    const trimmed = bodyEndBefore(raw, h.hit.lineStart, pos);
    part.bodyStart = trimmed;
    finish(ctx, part, trimmed);
    return { part, hit: h.hit, end: h.hit.lineStart };
  }
  const canNest = depth < MAX_DEPTH && ctx.parts < MAX_PARTS;
  let hit: Hit | null;
  let end: number;
  let ownEnd: number | undefined;
  if (part.isMultipart && boundary && canNest) {
    const myIdx = ctx.stack.length;
    ctx.stack.push(boundary);
    const digest = (part.subtype ?? '').toLowerCase() === 'digest';
    hit = scanToBoundary(ctx, part.bodyStart, ctx.stack.length);
    end = hit ? bodyEndBefore(raw, hit.lineStart, part.bodyStart) : raw.length;
    while (hit && hit.idx === myIdx && !hit.final && ctx.parts < MAX_PARTS) {
      const child = parseEntity(ctx, hit.nextLine, true, digest, depth + 1);
      part.children.push(child.part);
      hit = child.hit;
      end = child.end;
    }
    ctx.stack.pop();
    if (hit && hit.idx === myIdx) {
      // Closing boundary (or the part cap): the epilogue runs to an outer boundary or the end.
      const epilogue = hit.nextLine;
      hit = scanToBoundary(ctx, epilogue, ctx.stack.length);
      end = !hit ? raw.length : hit.lineStart === epilogue ? epilogue : bodyEndBefore(raw, hit.lineStart, epilogue);
    }
  } else if (part.isMessage && canNest) {
    const child = parseEntity(ctx, part.bodyStart, false, false, depth + 1);
    part.message = child.part;
    hit = child.hit;
    end = child.end;
    if (hit && hit.lineStart === part.bodyStart) ownEnd = trimEmptyBody(raw, part, hit.lineStart);
  } else {
    hit = scanToBoundary(ctx, part.bodyStart, ctx.stack.length);
    if (!hit) end = raw.length;
    else if (hit.lineStart === part.bodyStart) {
      ownEnd = trimEmptyBody(raw, part, hit.lineStart);
      end = hit.lineStart;
    } else end = bodyEndBefore(raw, hit.lineStart, part.bodyStart);
  }
  finish(ctx, part, ownEnd ?? Math.max(end, part.bodyStart));
  return { part, hit, end };
}

/**
 * An empty body directly followed by a boundary: the boundary takes the header's blank line, so
 * the header is trimmed (Dovecot's MIME section and sizes show this). Returns the part's end.
 */
function trimEmptyBody(raw: Buffer, part: MimePart, lineStart: number): number {
  part.bodyStart = bodyEndBefore(raw, lineStart, part.headerStart);
  return part.bodyStart;
}

/** Parses a whole message (CRLF line ends expected; bare LF tolerated). Never throws. */
export function parseMessage(raw: Buffer): MimePart {
  const ctx: Ctx = { raw, stack: [], parts: 0 };
  return parseEntity(ctx, 0, false, false, 0).part;
}
