// Parsing FETCH attributes (RFC 3501 §6.4.5), including macros and BODY[section]<partial>.
import { type Args, ParseError } from './args.js';
import { partialRange, type PartialRange } from './search-keys.js';

export type SectionKind = 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'MIME' | 'TEXT';

export interface SectionSpec {
  /** Part numbers, [] for the whole message. */
  path: number[];
  kind?: SectionKind;
  fields?: string[];
}

export type FetchItem =
  | { type: 'FLAGS' | 'INTERNALDATE' | 'RFC822.SIZE' | 'UID' | 'ENVELOPE' | 'BODY' | 'BODYSTRUCTURE' | 'MODSEQ' }
  | {
      type: 'SECTION';
      /** Name echoed in the response, e.g. `BODY[1.HEADER.FIELDS (SUBJECT)]` or `RFC822.TEXT`. */
      label: string;
      section: SectionSpec;
      peek: boolean;
      partial?: { start: number; length: number };
    }
  | {
      /** RFC 3516 BINARY[part]<partial> / BINARY.PEEK: the part with its transfer encoding removed. */
      type: 'BINARY';
      /** Name echoed in the response, e.g. `BINARY[1.2]` or `BINARY[1]<0>`. */
      label: string;
      /** Part numbers, [] for the whole message. */
      path: number[];
      peek: boolean;
      partial?: { start: number; length: number };
    }
  | { /** RFC 3516 BINARY.SIZE[part]: the decoded size. */ type: 'BINARY.SIZE'; label: string; path: number[] };

const SIMPLE = ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'UID', 'ENVELOPE', 'BODY', 'BODYSTRUCTURE', 'MODSEQ'] as const;

const MACROS: Record<string, string[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

const isNameChar = (c: number) =>
  (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2e;

export function parseSection(a: Args): { section: SectionSpec; text: string } {
  a.expect('[');
  const start = a.pos;
  while (!a.atEnd && isNameChar(a.text.charCodeAt(a.pos))) a.pos++;
  const spec = a.text.slice(start, a.pos).toUpperCase();
  const path: number[] = [];
  let rest = spec;
  while (rest) {
    const m = /^([1-9]\d{0,8})(?:\.|$)/.exec(rest);
    if (!m) break;
    path.push(Number(m[1]));
    rest = rest.slice(m[0].length);
  }
  if (spec.endsWith('.') && rest === '') throw new ParseError('Invalid section');
  let kind: SectionKind | undefined;
  if (rest) {
    if (!['HEADER', 'HEADER.FIELDS', 'HEADER.FIELDS.NOT', 'MIME', 'TEXT'].includes(rest)) throw new ParseError('Invalid section');
    kind = rest as SectionKind;
    if (kind === 'MIME' && path.length === 0) throw new ParseError('MIME needs a part number');
  }
  let text = spec;
  let fields: string[] | undefined;
  if (kind === 'HEADER.FIELDS' || kind === 'HEADER.FIELDS.NOT') {
    a.sp();
    fields = [];
    a.list(() => fields!.push(a.astringBytes().toString('latin1')));
    if (!fields.length) throw new ParseError('Empty header field list');
    text += ` (${fields.map((f) => f.toUpperCase()).join(' ')})`;
  }
  a.expect(']');
  return { section: { path, kind, fields }, text };
}

/** RFC 3516 section-binary: `[` [section-part] `]`, only part numbers. */
function parseBinarySection(a: Args): { path: number[]; text: string } {
  a.expect('[');
  const start = a.pos;
  while (!a.atEnd && isNameChar(a.text.charCodeAt(a.pos))) a.pos++;
  const text = a.text.slice(start, a.pos);
  a.expect(']');
  if (text === '') return { path: [], text };
  if (!/^[1-9]\d{0,8}(\.[1-9]\d{0,8})*$/.test(text)) throw new ParseError('Invalid BINARY section: only part numbers are allowed');
  return { path: text.split('.').map(Number), text };
}

function parsePartial(a: Args): { start: number; length: number } | undefined {
  if (!a.eat('<')) return undefined;
  const s = a.number();
  a.expect('.');
  const n = a.number();
  a.expect('>');
  if (n === 0) throw new ParseError('Partial length must be non-zero');
  return { start: s, length: n };
}

function parseItem(a: Args, items: FetchItem[]): void {
  const start = a.pos;
  while (!a.atEnd && isNameChar(a.text.charCodeAt(a.pos))) a.pos++;
  const name = a.text.slice(start, a.pos).toUpperCase();
  if (!name) throw new ParseError('Invalid FETCH attribute');
  if ((SIMPLE as readonly string[]).includes(name) && a.peek() !== '[') {
    items.push({ type: name as (typeof SIMPLE)[number] });
    return;
  }
  if (name === 'RFC822') {
    items.push({ type: 'SECTION', label: 'RFC822', section: { path: [] }, peek: false });
    return;
  }
  if (name === 'RFC822.HEADER') {
    items.push({ type: 'SECTION', label: 'RFC822.HEADER', section: { path: [], kind: 'HEADER' }, peek: true });
    return;
  }
  if (name === 'RFC822.TEXT') {
    items.push({ type: 'SECTION', label: 'RFC822.TEXT', section: { path: [], kind: 'TEXT' }, peek: false });
    return;
  }
  if (name === 'BODY' || name === 'BODY.PEEK') {
    const { section, text } = parseSection(a);
    const partial = parsePartial(a);
    const label = `BODY[${text}]${partial ? `<${partial.start}>` : ''}`;
    items.push({ type: 'SECTION', label, section, peek: name === 'BODY.PEEK', partial });
    return;
  }
  if (name === 'BINARY' || name === 'BINARY.PEEK') {
    const { path, text } = parseBinarySection(a);
    const partial = parsePartial(a);
    const label = `BINARY[${text}]${partial ? `<${partial.start}>` : ''}`;
    items.push({ type: 'BINARY', label, path, peek: name === 'BINARY.PEEK', partial });
    return;
  }
  if (name === 'BINARY.SIZE') {
    const { path, text } = parseBinarySection(a);
    items.push({ type: 'BINARY.SIZE', label: `BINARY.SIZE[${text}]`, path });
    return;
  }
  throw new ParseError(`Unknown FETCH attribute ${name}`);
}

export function parseFetchItems(a: Args): FetchItem[] {
  const items: FetchItem[] = [];
  if (a.peek() === '(') {
    a.list(() => parseItem(a, items));
    if (!items.length) throw new ParseError('Empty FETCH attribute list');
  } else {
    const save = a.pos;
    const word = a.word().toUpperCase();
    const macro = MACROS[word];
    if (macro) for (const t of macro) items.push({ type: t as (typeof SIMPLE)[number] });
    else {
      a.pos = save;
      parseItem(a, items);
    }
  }
  return items;
}

/** FETCH modifiers: RFC 7162 `(CHANGEDSINCE n [VANISHED])`, RFC 9394 `PARTIAL range`. */
export interface FetchModifiers {
  changedSince?: number;
  vanished?: boolean;
  partial?: PartialRange;
}

export function parseFetchModifiers(a: Args): FetchModifiers {
  const mods: FetchModifiers = {};
  a.list(() => {
    const name = a.atom().toUpperCase();
    if (name === 'CHANGEDSINCE') {
      if (mods.changedSince !== undefined) throw new ParseError('CHANGEDSINCE given twice');
      a.sp();
      mods.changedSince = a.modseq(true);
    } else if (name === 'VANISHED') {
      mods.vanished = true;
    } else if (name === 'PARTIAL') {
      if (mods.partial) throw new ParseError('PARTIAL given twice');
      a.sp();
      mods.partial = partialRange(a);
    } else {
      throw new ParseError(`Unknown FETCH modifier ${name}`);
    }
  });
  if (mods.vanished && mods.changedSince === undefined) throw new ParseError('VANISHED needs CHANGEDSINCE');
  return mods;
}
