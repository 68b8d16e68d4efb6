// The bridge from IMAP to the MIME module (src/mime/): sections and the decoded text SEARCH BODY/TEXT
// match on (ENVELOPE, BODYSTRUCTURE, header fields and sent dates are the store's facts: Mailbox.facts).
// Everything here works on the whole CRLF-normalised message.
import type { SearchKey } from './search-keys.js';
import type { SectionSpec } from './fetch-items.js';
import type { MimePart } from '../mime/types.js';
import { parseMessage } from '../mime/parser.js';
import { getSection, resolvePart } from '../mime/section.js';
import { bodyText, caseFold, decodeSearchString, foldText, foldWhitespace, searchText } from '../mime/search.js';
import { charsetKnown, loadCharsets } from '../mime/charset.js';

/** One parse per message buffer, however many FETCH items ask for its structure. */
const parsed = new WeakMap<Buffer, MimePart>();
function structure(raw: Buffer): MimePart {
  let root = parsed.get(raw);
  if (!root) parsed.set(raw, (root = parseMessage(raw)));
  return root;
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

/** What SEARCH reads a message for (header keys and SENT* are the store's facts: Mailbox.facts). */
export interface Searchable {
  /** Decoded text of the text parts (transfer encoding and charset undone), folded: SEARCH BODY. */
  body(): string;
  /** Header, encapsulated headers and body text, decoded and folded: SEARCH TEXT. (Header keys and
   *  SENT* are answered from the store's message facts: commands/search.ts.) */
  text(): string;
  /** The same without the whitespace step (caseFold): enough for a folded needle without a space. */
  bodyWords(): string;
  textWords(): string;
}

export async function loadSearchable(raw: Buffer): Promise<Searchable> {
  // Bodies in charsets only iconv-lite knows decode correctly once it is loaded (lazily, once).
  await loadCharsets();
  const root: MimePart = structure(raw);
  let bodyCache: string | null = null;
  let textCache: string | null = null;
  let bodyWords: string | null = null;
  let textWords: string | null = null;
  return {
    text: () => (textCache ??= textWords !== null ? foldWhitespace(textWords) : foldText(searchText(raw, root))),
    body: () => (bodyCache ??= bodyWords !== null ? foldWhitespace(bodyWords) : foldText(bodyText(raw, root))),
    textWords: () => (textWords ??= caseFold(searchText(raw, root))),
    bodyWords: () => (bodyWords ??= caseFold(bodyText(raw, root))),
  };
}
