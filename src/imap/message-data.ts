// The bridge from IMAP to the MIME module (src/mime/): ENVELOPE, BODYSTRUCTURE, sections and the
// decoded text SEARCH matches on. Everything here works on the whole CRLF-normalised message.
import type { SearchKey } from './search-keys.js';
import type { SectionSpec } from './fetch-items.js';
import type { MimePart } from '../mime/types.js';
import { parseMessage } from '../mime/parser.js';
import { envelope } from '../mime/envelope.js';
import { bodyStructure } from '../mime/bodystructure.js';
import { getSection } from '../mime/section.js';
import { fieldValue, findFields } from '../mime/header.js';

export async function messageEnvelope(raw: Buffer): Promise<string> {
  return envelope(parseMessage(raw), raw);
}

export async function messageBodyStructure(raw: Buffer, extended: boolean): Promise<string> {
  return bodyStructure(parseMessage(raw), raw, extended);
}

export async function messageSection(raw: Buffer, spec: SectionSpec): Promise<Buffer> {
  return getSection(raw, parseMessage(raw), spec) ?? Buffer.alloc(0);
}

export class UnknownCharset extends Error {}

/** Search strings decoded from the client's CHARSET and folded for case-insensitive matching. */
export async function decodeCriteria(key: SearchKey, charset: string | undefined): Promise<Map<Buffer, string>> {
  const cs = (charset ?? 'UTF-8').toUpperCase();
  const decode = async (b: Buffer): Promise<string> => {
    if (cs === 'UTF-8' || cs === 'US-ASCII') return b.toString('utf8');
    const iconv = (await import('iconv-lite')).default;
    if (!iconv.encodingExists(cs)) throw new UnknownCharset(cs);
    return iconv.decode(b, cs);
  };
  const out = new Map<Buffer, string>();
  const walk = async (k: SearchKey): Promise<void> => {
    switch (k.op) {
      case 'and':
        for (const x of k.keys) await walk(x);
        return;
      case 'or':
        await walk(k.a);
        await walk(k.b);
        return;
      case 'not':
        await walk(k.key);
        return;
      case 'header':
      case 'body':
      case 'text':
        out.set(k.value, fold(await decode(k.value)));
        return;
      default:
        return;
    }
  };
  await walk(key);
  return out;
}

export function fold(s: string): string {
  return s.normalize('NFC').toLowerCase().replace(/\s+/g, ' ');
}

export interface Searchable {
  /** Folded values of a header field, all occurrences. */
  header(name: string): string[];
  /** All header text, folded. */
  headerText(): string;
  /** Body text, folded. */
  body(): string;
  /** The Date header's calendar day (UTC midnight ms, in the sender's own zone), or null. */
  sentDay(): number | null;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

export function sentDayOf(date: string): number | null {
  const m = /(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{2,4})/.exec(date);
  if (!m) return null;
  const mon = MONTHS.indexOf(m[2]!.toLowerCase());
  if (mon < 0) return null;
  let y = Number(m[3]);
  if (y < 50) y += 2000;
  else if (y < 1000) y += 1900;
  return Date.UTC(y, mon, Number(m[1]));
}

export function loadSearchable(raw: Buffer): Searchable {
  const root: MimePart = parseMessage(raw);
  let bodyCache: string | null = null;
  return {
    header: (name) => findFields(root.fields, name).map((f) => fold(fieldValue(raw, f))),
    headerText: () => fold(raw.toString('utf8', root.headerStart, root.bodyStart)),
    body: () => (bodyCache ??= fold(raw.toString('utf8', root.bodyStart, root.bodyEnd))),
    sentDay: () => {
      const f = findFields(root.fields, 'Date')[0];
      return f ? sentDayOf(fieldValue(raw, f)) : null;
    },
  };
}
