// The bridge from IMAP to the MIME module (src/mime/): ENVELOPE, BODYSTRUCTURE, sections and the
// decoded text SEARCH matches on. Everything here works on the whole CRLF-normalised message.
import type { SearchKey } from './search-keys.js';
import type { SectionSpec } from './fetch-items.js';
import type { MimePart } from '../mime/types.js';
import { parseMessage } from '../mime/parser.js';
import { envelope } from '../mime/envelope.js';
import { bodyStructure } from '../mime/bodystructure.js';
import { getSection, resolvePart } from '../mime/section.js';
import { fieldValue, findFields } from '../mime/header.js';
import { bodyText, decodeSearchString, foldText, headerValues, searchText } from '../mime/search.js';
import { charsetKnown, loadCharsets } from '../mime/charset.js';

/** One parse per message buffer, however many FETCH items ask for its structure. */
const parsed = new WeakMap<Buffer, MimePart>();
function structure(raw: Buffer): MimePart {
  let root = parsed.get(raw);
  if (!root) parsed.set(raw, (root = parseMessage(raw)));
  return root;
}

export async function messageEnvelope(raw: Buffer): Promise<string> {
  return envelope(structure(raw), raw);
}

export async function messageBodyStructure(raw: Buffer, extended: boolean): Promise<string> {
  return bodyStructure(structure(raw), raw, extended);
}

/** A section's bytes; a part that does not exist is empty (Dovecot answers "" too). */
export async function messageSection(raw: Buffer, spec: SectionSpec): Promise<Buffer> {
  return getSection(raw, structure(raw), spec) ?? Buffer.alloc(0);
}

/** A section's bytes, or null when the part does not exist (CATENATE answers [BADURL] for that). */
export function messageSectionOrNull(raw: Buffer, spec: SectionSpec): Buffer | null {
  return getSection(raw, structure(raw), spec);
}

/** The body bytes and Content-Transfer-Encoding of the part a BINARY section path names (the whole
 *  message, as is, for []); null when there is no such part. */
export function messageBinaryPart(raw: Buffer, path: readonly number[]): { body: Buffer; encoding: string | null } | null {
  if (path.length === 0) return { body: raw, encoding: null };
  const part = resolvePart(structure(raw), path);
  return part ? { body: raw.subarray(part.bodyStart, part.bodyEnd), encoding: part.encoding } : null;
}

export class UnknownCharset extends Error {}

/** Search strings decoded from the client's CHARSET (default UTF-8) and folded for matching. */
export async function decodeCriteria(key: SearchKey, charset: string | undefined): Promise<Map<Buffer, string>> {
  const cs = charset ?? 'UTF-8';
  if (!charsetKnown(cs)) {
    await loadCharsets();
    if (!charsetKnown(cs)) throw new UnknownCharset(cs);
  }
  const out = new Map<Buffer, string>();
  const walk = (k: SearchKey): void => {
    switch (k.op) {
      case 'and':
        k.keys.forEach(walk);
        return;
      case 'or':
        walk(k.a);
        walk(k.b);
        return;
      case 'not':
        walk(k.key);
        return;
      case 'header':
      case 'body':
      case 'text': {
        const text = decodeSearchString(k.value, cs);
        if (text === null) throw new UnknownCharset(cs);
        out.set(k.value, foldText(text));
        return;
      }
      default:
        return;
    }
  };
  walk(key);
  return out;
}

export interface Searchable {
  /** Folded, RFC 2047-decoded values of a header field, all occurrences. */
  header(name: string): string[];
  /** Decoded text of the text parts (transfer encoding and charset undone), folded: SEARCH BODY. */
  body(): string;
  /** Header, encapsulated headers and body text, decoded and folded: SEARCH TEXT. */
  text(): string;
  /** The Date header's calendar day (UTC midnight ms, in the sender's own zone), or null. */
  sentDay(): number | null;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** RFC 3501 SENT* keys compare the Date header's date, disregarding time and timezone. */
export function sentDayOf(date: string): number | null {
  const m = /(\d{1,2})\s+([A-Za-z]{3})[a-z]*\.?\s+(\d{2,4})/.exec(date);
  if (!m) return null;
  const mon = MONTHS.indexOf(m[2]!.toLowerCase());
  if (mon < 0) return null;
  let y = Number(m[3]);
  if (y < 50) y += 2000;
  else if (y < 1000) y += 1900;
  return Date.UTC(y, mon, Number(m[1]));
}

export async function loadSearchable(raw: Buffer): Promise<Searchable> {
  // Bodies in charsets only iconv-lite knows decode correctly once it is loaded (lazily, once).
  await loadCharsets();
  const root: MimePart = structure(raw);
  let bodyCache: string | null = null;
  let textCache: string | null = null;
  return {
    header: (name) => headerValues(raw, root, name).map(foldText),
    text: () => (textCache ??= foldText(searchText(raw, root))),
    body: () => (bodyCache ??= foldText(bodyText(raw, root))),
    sentDay: () => {
      const f = findFields(root.fields, 'Date')[0];
      return f ? sentDayOf(fieldValue(raw, f)) : null;
    },
  };
}
