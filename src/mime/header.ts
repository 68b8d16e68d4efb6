// Splitting a header block into fields and reading field values the way Dovecot's
// message-header-parser presents them.
import type { HeaderField } from './types.js';

/**
 * Value of a field as a wire string: everything after the colon, leading whitespace of the first
 * line skipped (see below), the final line break removed. Folding line breaks inside are kept (callers that
 * print the value drop them like Dovecot's nstring_nolf; address parsing treats them as space).
 */
export function fieldValue(raw: Buffer, f: HeaderField): string {
  if (!f.hasColon) return '';
  let s = f.valueStart;
  let e = f.end;
  if (e > s && raw[e - 1] === 0x0a) e--;
  if (e > s && raw[e - 1] === 0x0d) e--;
  // Skip the whitespace after the colon -- but if the first line holds nothing else, only one
  // character of it (Dovecot's header parser does this; "Date:  " reads as " ").
  let p = s;
  while (p < e && (raw[p] === 0x20 || raw[p] === 0x09)) p++;
  if (p < e && raw[p] !== 0x0d && raw[p] !== 0x0a) s = p;
  else if (s < e && (raw[s] === 0x20 || raw[s] === 0x09)) s++;
  return raw.toString('latin1', s, e);
}

/** Finds the fields with this name (case-insensitive), in header order. */
export function findFields(fields: readonly HeaderField[], name: string): HeaderField[] {
  const lower = name.toLowerCase();
  return fields.filter((f) => f.hasColon && f.name.toLowerCase() === lower);
}

function isLwsp(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Builds a field from its first line [start, lineEnd). */
export function newField(raw: Buffer, start: number, lineEnd: number): HeaderField {
  // The colon search is bounded to this line so many colon-less lines stay linear overall.
  let contentEnd = lineEnd;
  if (contentEnd > start && raw[contentEnd - 1] === 0x0a) contentEnd--;
  if (contentEnd > start && raw[contentEnd - 1] === 0x0d) contentEnd--;
  const rel = raw.subarray(start, contentEnd).indexOf(0x3a);
  const colon = rel < 0 ? -1 : start + rel;
  if (colon < 0) {
    return { name: raw.toString('latin1', start, Math.min(contentEnd, start + 1000)), start, end: lineEnd, valueStart: lineEnd, hasColon: false };
  }
  let nameEnd = colon;
  while (nameEnd > start && isLwsp(raw[nameEnd - 1])) nameEnd--;
  return { name: raw.toString('latin1', start, nameEnd), start, end: lineEnd, valueStart: colon + 1, hasColon: true };
}
