// The bridge from IMAP to the MIME module (src/mime/): ENVELOPE, BODYSTRUCTURE, sections and the
// decoded text SEARCH matches on. Everything here works on the whole CRLF-normalised message.
import type { SearchKey } from './search-keys.js';
import type { SectionSpec } from './fetch-items.js';
import { parseMessage } from '../mime/parser.js';
import { envelope } from '../mime/envelope.js';
import { bodyStructure } from '../mime/bodystructure.js';
import { getSection } from '../mime/section.js';
import { headerValues, bodyText, normaliseForMatch, decodeSearchString } from '../mime/search.js';

export async function messageEnvelope(raw: Buffer): Promise<string> {
  return envelope(parseMessage(raw), raw);
}

export async function messageBodyStructure(raw: Buffer, extended: boolean): Promise<string> {
  return bodyStructure(parseMessage(raw), raw, extended);
}

export async function messageSection(raw: Buffer, spec: SectionSpec): Promise<Buffer> {
  return getSection(raw, parseMessage(raw), spec) ?? Buffer.alloc(0);
}
