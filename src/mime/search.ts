// What IMAP SEARCH needs from a message: decoded header values, decoded body text, and a matcher
// that is case-insensitive, Unicode-aware and whitespace-normalising.
import { decodeCharset, decodeUnlabelled } from './charset.js';
import { decodeHeaderValue, decodeTransfer } from './decode.js';
import { findFields } from './header.js';
import { decodedParam } from './content-headers.js';
import type { MimePart, Param } from './types.js';

function fieldValueBytes(raw: Buffer, start: number, end: number): Buffer {
  let s = start;
  let e = end;
  while (e > s && (raw[e - 1] === 0x0a || raw[e - 1] === 0x0d)) e--;
  while (s < e && (raw[s] === 0x20 || raw[s] === 0x09)) s++;
  return raw.subarray(s, e);
}

/** Decoded values of every `name` field in the part's header (root: the message header). */
export function headerValues(raw: Buffer, root: MimePart, name: string): string[] {
  return findFields(root.fields, name).map((f) => decodeHeaderValue(fieldValueBytes(raw, f.valueStart, f.end)));
}

/** The whole header decoded, one "Name: value" line per field (for TEXT searches). */
export function headerText(raw: Buffer, part: MimePart): string {
  const lines: string[] = [];
  for (const f of part.fields) {
    if (!f.hasColon) continue;
    lines.push(`${f.name}: ${decodeHeaderValue(fieldValueBytes(raw, f.valueStart, f.end))}`);
  }
  return lines.join('\n');
}

function charsetOf(part: MimePart): string {
  return part.params.find((p) => p.name.toLowerCase() === 'charset')?.value ?? '';
}

/**
 * Decoded text of all text parts under `part` (transfer encoding and charset undone), joined by
 * newlines: what SEARCH BODY looks at. Non-text parts are skipped. With `withHeaders`, the headers
 * of encapsulated messages are included too (SEARCH TEXT; Dovecot's BODY does not see them).
 */
export function bodyText(raw: Buffer, part: MimePart, withHeaders = false): string {
  const out: string[] = [];
  // Iterative walk: nesting is capped by the parser, but there is no need for recursion at all.
  const stack: MimePart[] = [part];
  while (stack.length > 0) {
    const p = stack.pop() as MimePart;
    if (p.isMultipart) {
      for (let i = p.children.length - 1; i >= 0; i--) stack.push(p.children[i]);
    } else if (p.isMessage) {
      if (p.message) {
        if (withHeaders) out.push(headerText(raw, p.message));
        stack.push(p.message);
      }
    } else if (p.isText) {
      const body = decodeTransfer(raw.subarray(p.bodyStart, p.bodyEnd), p.encoding);
      out.push(decodeCharset(body, charsetOf(p)) ?? decodeUnlabelled(body));
    }
  }
  return out.join('\n');
}

/** Everything SEARCH TEXT looks at: the message header, encapsulated headers and body text. */
export function searchText(raw: Buffer, root: MimePart): string {
  return `${headerText(raw, root)}\n${bodyText(raw, root, true)}`;
}

/**
 * Folds text for matching: compatibility decomposition (so ligatures, full-width forms and
 * precomposed accents compare like Dovecot's i;unicode-casemap), lower case, and every run of
 * whitespace (including line breaks) as one space. The last point is deliberately kinder than
 * Dovecot, which needs the exact whitespace: "hello world" finds "hello   world".
 */
export function foldText(s: string): string {
  // Same result as s.normalize('NFKD').toLowerCase().replace(/\s+/g, ' '), several times faster on a
  // message's text (SEARCH TEXT folds every message): ASCII needs no decomposition, and a run of
  // whitespace that already is one space is left alone instead of replaced by itself.
  return foldWhitespace(caseFold(s));
}

/** The whitespace step of foldText: every whitespace run as one space (foldText = this ∘ caseFold). */
export function foldWhitespace(s: string): string {
  return s.replace(WHITESPACE_TO_FOLD, ' ');
}

/**
 * foldText without the whitespace step: compatibility decomposition and lower case only. A folded
 * needle without a space is found in foldText(s) exactly when it is found in caseFold(s) (folding
 * whitespace changes nothing but whitespace runs, and such a needle lies within one run of
 * non-whitespace), so SEARCH BODY/TEXT for a single word skips the costliest step.
 */
export function caseFold(s: string): string {
  return ASCII.test(s) ? s.toLowerCase() : s.normalize('NFKD').toLowerCase();
}

const ASCII = /^[\x00-\x7f]*$/;
/** A whitespace run that is not exactly one U+0020: a space followed by more, or any other blank first. */
const WHITESPACE_TO_FOLD = / \s+|[^\S ]\s*/g;

/** IMAP SEARCH substring match: case-insensitive, Unicode-aware, whitespace-normalising. */
export function matchText(haystack: string, needle: string): boolean {
  const n = foldText(needle);
  if (n.length === 0) return true;
  return foldText(haystack).includes(n);
}

/** Same as matchText for callers that fold a message once and test many keys. */
export function matchFolded(foldedHaystack: string, foldedNeedle: string): boolean {
  return foldedNeedle.length === 0 || foldedHaystack.includes(foldedNeedle);
}

/**
 * SEARCH CHARSET: the search string's bytes in that charset → text. null when the charset is
 * unknown (answer NO [BADCHARSET]); await loadCharsets() first to allow iconv-lite's extra ones.
 */
export function decodeSearchString(bytes: Buffer, charset: string): string | null {
  return decodeCharset(bytes, charset);
}

/** A Content-Type or Content-Disposition parameter decoded for display/search (RFC 2231 and 2047). */
export function paramText(params: readonly Param[], name: string): string | null {
  return decodedParam(params, name, decodeCharset, (v) => decodeHeaderValue(Buffer.from(v, 'latin1')));
}
