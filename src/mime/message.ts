// One parsed message with lazily computed, cached answers: what a FETCH or SEARCH over the same
// message needs several times (parse once, then ENVELOPE, BODYSTRUCTURE, sections, search text).
import { bodyStructure } from './bodystructure.js';
import { envelope } from './envelope.js';
import { parseMessage } from './parser.js';
import { bodyText, foldText, headerValues, matchFolded, searchText } from './search.js';
import { getSection, sectionRange, type ByteRange } from './section.js';
import type { MimePart, SectionSpec } from './types.js';

export class ParsedMessage {
  readonly root: MimePart;
  private cache = new Map<string, string>();

  constructor(readonly raw: Buffer) {
    this.root = parseMessage(raw);
  }

  private memo(key: string, make: () => string): string {
    let v = this.cache.get(key);
    if (v === undefined) {
      v = make();
      this.cache.set(key, v);
    }
    return v;
  }

  /** ENVELOPE, parenthesised wire string (send with Buffer.from(s, 'latin1')). */
  envelope(): string {
    return this.memo('env', () => envelope(this.root, this.raw));
  }

  /** BODYSTRUCTURE (extended) or BODY, parenthesised wire string. */
  bodyStructure(extended: boolean): string {
    return this.memo(extended ? 'bs' : 'body', () => bodyStructure(this.root, this.raw, extended));
  }

  /** BODY[section] bytes before <partial>, or null (no such part / invalid for it). */
  section(spec: SectionSpec): Buffer | null {
    return getSection(this.raw, this.root, spec);
  }

  /** Byte range of a contiguous section (stream big bodies from raw), or null. */
  sectionRange(spec: SectionSpec): ByteRange | null {
    return sectionRange(this.raw, this.root, spec);
  }

  /** Decoded values of a header field of the message. */
  header(name: string): string[] {
    return headerValues(this.raw, this.root, name);
  }

  /** SEARCH BODY: does the decoded body text contain `needle`? */
  bodyMatches(needle: string): boolean {
    return matchFolded(this.memo('fbody', () => foldText(bodyText(this.raw, this.root))), foldText(needle));
  }

  /** SEARCH TEXT: header, encapsulated headers and body. */
  textMatches(needle: string): boolean {
    return matchFolded(this.memo('ftext', () => foldText(searchText(this.raw, this.root))), foldText(needle));
  }

  /** SEARCH HEADER name needle (and FROM/TO/CC/BCC/SUBJECT): any decoded value contains it. */
  headerMatches(name: string, needle: string): boolean {
    const n = foldText(needle);
    return this.header(name).some((v) => matchFolded(foldText(v), n));
  }
}
