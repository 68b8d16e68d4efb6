// SEARCH criteria (RFC 3501 §6.4.4) parsed into a tree. Strings are kept as bytes until the CHARSET is
// known, then decoded once.
import { type Args, ParseError } from './args.js';
import { parseSequenceSet, type SeqRange } from './sequence.js';
import { parseDate } from './wire.js';
import type { FactsRequest } from '../store/types.js';

export type DateField = 'internal' | 'sent';
export type DateCmp = 'before' | 'on' | 'since';

export type SearchKey =
  | { op: 'all' }
  | { op: 'and'; keys: SearchKey[] }
  | { op: 'or'; a: SearchKey; b: SearchKey }
  | { op: 'not'; key: SearchKey }
  | { op: 'flag'; flag: string; set: boolean }
  | { op: 'new' }
  | { op: 'old' }
  | { op: 'recent' }
  | { op: 'seq'; ranges: SeqRange[] }
  | { op: 'uid'; ranges: SeqRange[] }
  | { op: 'size'; larger: boolean; n: number }
  | { op: 'date'; field: DateField; cmp: DateCmp; day: number }
  | { op: 'header'; name: string; value: Buffer }
  | { op: 'body'; value: Buffer }
  | { op: 'text'; value: Buffer }
  /** RFC 7162 MODSEQ [entry-name entry-type] n: mod-sequence >= n (per-flag entries are not kept
   *  separately, so the message's own mod-sequence stands for each). */
  | { op: 'modseq'; n: number }
  /** RFC 5032 WITHIN: OLDER n (INTERNALDATE at least n seconds ago) / YOUNGER n (less than n). */
  | { op: 'age'; older: boolean; seconds: number }
  /** SEARCHRES (RFC 5182) "$" (or "UID $"): the messages the last SAVE kept. */
  | { op: 'saved' };

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true], DELETED: ['\\Deleted', true], DRAFT: ['\\Draft', true],
  FLAGGED: ['\\Flagged', true], SEEN: ['\\Seen', true],
  UNANSWERED: ['\\Answered', false], UNDELETED: ['\\Deleted', false], UNDRAFT: ['\\Draft', false],
  UNFLAGGED: ['\\Flagged', false], UNSEEN: ['\\Seen', false],
};
const HEADER_KEYS: Record<string, string> = { BCC: 'Bcc', CC: 'Cc', FROM: 'From', SUBJECT: 'Subject', TO: 'To' };
const DATE_KEYS: Record<string, [DateField, DateCmp]> = {
  BEFORE: ['internal', 'before'], ON: ['internal', 'on'], SINCE: ['internal', 'since'],
  SENTBEFORE: ['sent', 'before'], SENTON: ['sent', 'on'], SENTSINCE: ['sent', 'since'],
};

const MAX_DEPTH = 100;
/** Keys per SEARCH: each one is evaluated against every message, so a line full of them is a cheap
 *  way to make the server work for minutes. */
const MAX_KEYS = 1000;

function dateArg(a: Args): number {
  const raw = a.peek() === '"' || a.peek() === '\0' ? a.stringBytes().toString('latin1') : a.atom();
  const d = parseDate(raw);
  if (!d) throw new ParseError('Invalid search date');
  return d.getTime();
}

function parseKey(a: Args, depth: number, count: { n: number } = { n: 0 }): SearchKey {
  if (depth > MAX_DEPTH) throw new ParseError('Search criteria nested too deeply');
  if (++count.n > MAX_KEYS) throw new ParseError('Too many search criteria');
  if (a.peek() === '(') {
    const keys: SearchKey[] = [];
    a.list(() => keys.push(parseKey(a, depth + 1, count)));
    if (!keys.length) throw new ParseError('Empty search list');
    return keys.length === 1 ? keys[0]! : { op: 'and', keys };
  }
  const c = a.peek();
  if (c === '$') {
    a.expect('$');
    return { op: 'saved' };
  }
  if ((c >= '0' && c <= '9') || c === '*') return { op: 'seq', ranges: parseSequenceSet(a.sequenceSet()) };
  const word = a.atom().toUpperCase();
  const flag = FLAG_KEYS[word];
  if (flag) return { op: 'flag', flag: flag[0], set: flag[1] };
  const header = HEADER_KEYS[word];
  if (header) {
    a.sp();
    return { op: 'header', name: header, value: a.astringBytes() };
  }
  const date = DATE_KEYS[word];
  if (date) {
    a.sp();
    return { op: 'date', field: date[0], cmp: date[1], day: dateArg(a) };
  }
  switch (word) {
    case 'ALL':
      return { op: 'all' };
    case 'NEW':
      return { op: 'new' };
    case 'OLD':
      return { op: 'old' };
    case 'RECENT':
      return { op: 'recent' };
    case 'KEYWORD':
    case 'UNKEYWORD':
      a.sp();
      return { op: 'flag', flag: a.atom(), set: word === 'KEYWORD' };
    case 'LARGER':
    case 'SMALLER':
      a.sp();
      return { op: 'size', larger: word === 'LARGER', n: a.number() };
    case 'HEADER': {
      a.sp();
      const name = a.astringBytes().toString('latin1');
      a.sp();
      return { op: 'header', name, value: a.astringBytes() };
    }
    case 'BODY':
      a.sp();
      return { op: 'body', value: a.astringBytes() };
    case 'TEXT':
      a.sp();
      return { op: 'text', value: a.astringBytes() };
    case 'UID':
      a.sp();
      if (a.eat('$')) return { op: 'saved' };
      return { op: 'uid', ranges: parseSequenceSet(a.sequenceSet()) };
    case 'MODSEQ': {
      a.sp();
      if (a.peek() === '"') {
        const entry = a.stringBytes().toString('latin1');
        if (!/^\/flags\/\\?[^\s()]+$/i.test(entry)) throw new ParseError('Invalid MODSEQ entry name');
        a.sp();
        const type = a.atom().toLowerCase();
        if (type !== 'priv' && type !== 'shared' && type !== 'all') throw new ParseError('Invalid MODSEQ entry type');
        a.sp();
      }
      return { op: 'modseq', n: a.modseq(true) };
    }
    case 'OLDER':
    case 'YOUNGER': {
      a.sp();
      const seconds = a.number();
      if (seconds === 0) throw new ParseError(`${word} needs a positive interval`);
      return { op: 'age', older: word === 'OLDER', seconds };
    }
    case 'NOT':
      a.sp();
      return { op: 'not', key: parseKey(a, depth + 1, count) };
    case 'OR': {
      a.sp();
      const x = parseKey(a, depth + 1, count);
      a.sp();
      return { op: 'or', a: x, b: parseKey(a, depth + 1, count) };
    }
    default:
      throw new ParseError(`Unknown search criterion ${word}`);
  }
}

export type ReturnOption = 'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE' | 'UPDATE';

/** RFC 9394 PARTIAL: a range of positions in the result, counted from the end when negative. */
export interface PartialRange {
  /** As the client wrote it, for the response. */
  text: string;
  /** 1-based positions, lo <= hi; both negative: from the end (-1 = last, so -3:-1 = the last three). */
  lo: number;
  hi: number;
}

/** ESEARCH RETURN options (RFC 4731, RFC 5267 for SORT, RFC 9394 PARTIAL). */
export interface Returns {
  options: Set<ReturnOption>;
  partial?: PartialRange;
}

/** `partial-range` (RFC 9394 §4): for RETURN (PARTIAL ...) and the UID FETCH modifier. */
export function partialRange(a: Args): PartialRange {
  const text = a.word();
  const m = /^(-?)(\d+):(-?)(\d+)$/.exec(text);
  if (!m || m[1] !== m[3]) throw new ParseError('Invalid PARTIAL range');
  const x = Number(m[2]);
  const y = Number(m[4]);
  if (x < 1 || y < 1 || x > 0xffffffff || y > 0xffffffff) throw new ParseError('Invalid PARTIAL range');
  if (m[1]) return { text, lo: -Math.max(x, y), hi: -Math.min(x, y) };
  return { text, lo: Math.min(x, y), hi: Math.max(x, y) };
}

/** `RETURN (...)` if it comes next (after the command name's space), else undefined. */
export function parseReturns(a: Args): Returns | undefined {
  if (!/^RETURN /i.test(a.text.slice(a.pos, a.pos + 7))) return undefined;
  a.pos += 7;
  const r: Returns = { options: new Set() };
  a.list(() => {
    const o = a.atom().toUpperCase();
    if (o === 'PARTIAL') {
      if (r.partial) throw new ParseError('PARTIAL given twice');
      a.sp();
      r.partial = partialRange(a);
      return;
    }
    if (o === 'CONTEXT') return; // RFC 5267 §4.2: a hint that the criteria will be used again; nothing to do
    if (o !== 'MIN' && o !== 'MAX' && o !== 'ALL' && o !== 'COUNT' && o !== 'SAVE' && o !== 'UPDATE') throw new ParseError(`Unknown RETURN option ${o}`);
    r.options.add(o);
  });
  // RFC 9394 §3.1: ALL and PARTIAL cannot be combined.
  if (r.partial && r.options.has('ALL')) throw new ParseError('RETURN ALL and PARTIAL are mutually exclusive');
  if (r.options.has('UPDATE')) {
    // RFC 5267 §4.3: a context follows the whole result (also with PARTIAL, §4.4); "$" is another matter.
    if (r.options.has('SAVE')) throw new ParseError('RETURN UPDATE cannot be combined with SAVE');
    if (!r.partial && !['MIN', 'MAX', 'ALL', 'COUNT'].some((x) => r.options.has(x as ReturnOption))) r.options.add('ALL');
  }
  if (!r.options.size && !r.partial) r.options.add('ALL');
  a.sp();
  return r;
}

export interface SearchRequest {
  charset?: string;
  /** ESEARCH RETURN options, or undefined for a plain SEARCH response. */
  returns?: Returns;
  key: SearchKey;
}

/** search-criteria up to the end of the command: one key, or the AND of several. */
export function parseCriteria(a: Args): SearchKey {
  const keys: SearchKey[] = [];
  const count = { n: 0 };
  for (;;) {
    keys.push(parseKey(a, 0, count));
    if (a.atEnd) break;
    a.sp();
  }
  return keys.length === 1 ? keys[0]! : { op: 'and', keys };
}

export function parseSearch(a: Args): SearchRequest {
  const req: SearchRequest = { key: { op: 'all' } };
  a.sp();
  req.returns = parseReturns(a);
  if (/^CHARSET /i.test(a.text.slice(a.pos, a.pos + 8))) {
    a.pos += 8;
    req.charset = a.astringBytes().toString('latin1');
    a.sp();
  }
  req.key = parseCriteria(a);
  return req;
}

/** Whether the key uses MODSEQ (RFC 7162 §3.1.5: the result then carries the highest mod-sequence). */
export function usesModseq(k: SearchKey): boolean {
  switch (k.op) {
    case 'and':
      return k.keys.some(usesModseq);
    case 'or':
      return usesModseq(k.a) || usesModseq(k.b);
    case 'not':
      return usesModseq(k.key);
    case 'modseq':
      return true;
    default:
      return false;
  }
}

/** Whether evaluating the key needs the message text. */
export function needsContent(k: SearchKey): boolean {
  switch (k.op) {
    case 'and':
      return k.keys.some(needsContent);
    case 'or':
      return needsContent(k.a) || needsContent(k.b);
    case 'not':
      return needsContent(k.key);
    case 'header':
    case 'body':
    case 'text':
      return true;
    case 'date':
      return k.field === 'sent';
    default:
      return false;
  }
}

/** What the store's facts (Mailbox.facts) must give to evaluate the key: the SEARCH strings of the
 *  header fields HEADER/FROM/TO/CC/BCC/SUBJECT name, and the sent date for SENT*. Null: nothing. */
export function factsNeeded(k: SearchKey): FactsRequest | null {
  const names = new Set<string>();
  let sent = false;
  const walk = (x: SearchKey): void => {
    if (x.op === 'and') x.keys.forEach(walk);
    else if (x.op === 'or') { walk(x.a); walk(x.b); }
    else if (x.op === 'not') walk(x.key);
    else if (x.op === 'header') names.add(x.name.toLowerCase());
    else if (x.op === 'date' && x.field === 'sent') sent = true;
  };
  walk(k);
  if (!names.size && !sent) return null;
  return {
    ...(names.size ? { searchValues: [...names] } : {}),
    ...(sent ? { sortKeys: true } : {}),
  };
}
