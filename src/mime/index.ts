// Public face of the MIME engine (answers checked byte for byte against Dovecot 2.3).
// - Strings meant for the wire (envelope, bodyStructure, the imap-string helpers) are "wire
//   strings": one JS char per byte. Send them with Buffer.from(s, 'latin1') so 8-bit header bytes
//   and literal byte counts stay exact.
// - getSection/sectionRange give raw bytes; before sending a section, pass it through replaceNul
//   (NUL → 0x80, as Dovecot; same length, so <partial> is unaffected). null means no such part:
//   Dovecot answers an empty string for that.
// - SEARCH: ParsedMessage (or headerValues/bodyText/searchText + foldText/matchFolded), and
//   decodeSearchString after `await loadCharsets()` for charsets Node's TextDecoder lacks.
export type { MimePart, SectionSpec, SectionKind, HeaderField, Param, Disposition } from './types.js';
export { parseMessage } from './parser.js';
export { envelope } from './envelope.js';
export { bodyStructure } from './bodystructure.js';
export { getSection, sectionRange, resolvePart, type ByteRange } from './section.js';
export { decodeHeaderValue, decodeTransfer, decodeQuotedPrintable, decodeBase64 } from './decode.js';
export { headerValues, headerText, bodyText, searchText, paramText, matchText, foldText, matchFolded, decodeSearchString } from './search.js';
export { loadCharsets, charsetKnown, decodeCharset } from './charset.js';
export { nstring, astring, quoted, literal, toWire, wireToBuffer, replaceNul } from './imap-string.js';
export { ParsedMessage } from './message.js';
