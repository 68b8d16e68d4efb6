// SEARCH / UID SEARCH with CHARSET and ESEARCH RETURN (RFC 4731). Text keys match case-insensitively on
// MIME-decoded headers (RFC 2047) and decoded bodies. Header keys are answered from the store's message
// facts (Mailbox.facts(), cached per mailbox); the message is only read when BODY or TEXT needs it.
import { StoreError, type FactsRequest, type Mailbox, type MessageFacts, type MessageInfo } from '../../store/types.js';
import type { SeqRange } from '../sequence.js';
import type { Command, ImapSession } from '../session.js';
import { formatSet, rangeTest } from '../sequence.js';
import { ParseError } from '../args.js';
import { factsNeeded, needsContent, parseCriteria, parseSearch, usesModseq, type PartialRange, type Returns, type SearchKey } from '../search-keys.js';
import { saveResult, savedUids } from '../search-result.js';
import { addContext, contextRequested } from '../search-context.js';
import { decodeCriteria, loadSearchable, type Searchable, UnknownCharset } from '../message-data.js';
import { bad, no, ok, type Result } from '../result.js';
import { requireSelected } from './helpers.js';

export interface Ctx {
  info: MessageInfo;
  seq: number;
  maxSeq: number;
  maxUid: number;
  strings: Map<Buffer, string>;
  /** The time the command started (WITHIN keys compare against one instant). */
  now: number;
  /** SEARCHRES "$". */
  saved: ReadonlySet<number>;
  content: () => Promise<Searchable>;
  /** Header-based keys, from the store's facts (its cache) rather than the message bytes. */
  headers: () => Promise<HeaderFacts>;
  /** Membership tests of the set keys, built once per SEARCH. */
  test: (k: SearchKey & { ranges: SeqRange[] }, star: number) => (n: number) => boolean;
}

const DAY = 86_400_000;

function compareDay(day: number, cmp: 'before' | 'on' | 'since', target: number): boolean {
  if (cmp === 'before') return day < target;
  if (cmp === 'on') return day === target;
  return day >= target;
}

export async function matches(k: SearchKey, c: Ctx): Promise<boolean> {
  switch (k.op) {
    case 'and':
      for (const x of k.keys) if (!(await matches(x, c))) return false;
      return true;
    case 'or':
      return (await matches(k.a, c)) || (await matches(k.b, c));
    case 'not':
      return !(await matches(k.key, c));
    case 'date':
      if (k.field === 'internal') break;
      return sentMatch(k, await c.headers());
    case 'header':
      return headerMatch(k, await c.headers(), c.strings);
    case 'body': {
      // A needle without a space is found as well without folding whitespace (mime/search.ts caseFold).
      const needle = c.strings.get(k.value)!;
      const m = await c.content();
      return (needle.includes(' ') ? m.body() : m.bodyWords()).includes(needle);
    }
    case 'text': {
      const needle = c.strings.get(k.value)!;
      const m = await c.content();
      return (needle.includes(' ') ? m.text() : m.textWords()).includes(needle);
    }
  }
  // Every other key is decided by what the session has at hand (flags, numbers, dates): the first
  // pass's rule, one place for it.
  const v = cheapMatch(k, c);
  if (v === null) throw new Error(`search key ${k.op} left undecided`);
  return v;
}

function sentMatch(k: SearchKey & { op: 'date' }, h: HeaderFacts): boolean {
  const day = h.sentDay;
  return day !== null && compareDay(day, k.cmp, k.day);
}

function headerMatch(k: SearchKey & { op: 'header' }, h: HeaderFacts, strings: Map<Buffer, string>): boolean {
  const needle = strings.get(k.value)!;
  // RFC 3501: HEADER with an empty string matches every message that has the field.
  for (const v of h.header(k.name)) if (needle === '' || v.includes(needle)) return true;
  return false;
}

/**
 * The first of SEARCH's two passes: the key evaluated on what the session has at hand (flags, UID,
 * sequence number, size, dates, modseq), synchronously. true / false when that decides it, null when
 * it depends on a key that needs the store's facts or the message text: only those messages go through
 * the second pass (`matches`). With `h` (the message's facts, fetched ahead) the header keys are
 * decided too; then only BODY and TEXT leave it open.
 */
export function cheapMatch(k: SearchKey, c: Ctx, h?: HeaderFacts): boolean | null {
  switch (k.op) {
    case 'and': {
      let r: boolean | null = true;
      for (const x of k.keys) {
        const v = cheapMatch(x, c, h);
        if (v === false) return false;
        if (v === null) r = null;
      }
      return r;
    }
    case 'or': {
      const a = cheapMatch(k.a, c, h);
      if (a === true) return true;
      const b = cheapMatch(k.b, c, h);
      if (b === true) return true;
      return a === false && b === false ? false : null;
    }
    case 'not': {
      const v = cheapMatch(k.key, c, h);
      return v === null ? null : !v;
    }
    case 'header':
      return h ? headerMatch(k, h, c.strings) : null;
    case 'body':
    case 'text':
      return null;
    case 'date':
      if (k.field === 'sent') return h ? sentMatch(k, h) : null;
      return compareDay(Math.floor(c.info.internalDate.getTime() / DAY) * DAY, k.cmp, k.day);
    case 'all':
      return true;
    case 'flag': {
      const want = k.flag.toLowerCase();
      let has = false;
      for (const f of c.info.flags) if (f.toLowerCase() === want) { has = true; break; }
      return has === k.set;
    }
    case 'new':
      return c.info.recent && !c.info.flags.has('\\Seen');
    case 'old':
      return !c.info.recent;
    case 'recent':
      return c.info.recent;
    case 'seq':
      return c.test(k, c.maxSeq)(c.seq);
    case 'uid':
      return c.test(k, c.maxUid)(c.info.uid);
    case 'size':
      return k.larger ? c.info.size > k.n : c.info.size < k.n;
    case 'modseq':
      return c.info.modseq >= k.n;
    case 'saved':
      return c.saved.has(c.info.uid);
    case 'age': {
      const limit = c.now - k.seconds * 1000;
      const t = c.info.internalDate.getTime();
      return k.older ? t <= limit : t > limit;
    }
  }
}

/** What the header keys (FROM, TO, CC, BCC, SUBJECT, HEADER, SENT*) look at. */
export interface HeaderFacts {
  /** The field's SEARCH strings (MessageFacts.searchValues: folded, RFC 2047-decoded values of every
   *  occurrence; for address fields also each occurrence in normalised form). */
  header(name: string): readonly string[];
  /** The Date header's calendar day (UTC midnight ms, in the sender's own zone), or null. */
  readonly sentDay: number | null;
}

const NONE: readonly string[] = [];

class FactsHeaders implements HeaderFacts {
  constructor(private readonly f: MessageFacts) {}
  get sentDay(): number | null { return this.f.sortKeys?.sentDay ?? null; }
  header(name: string): readonly string[] { return this.f.searchValues?.get(name.toLowerCase()) ?? NONE; }
}

function headerFacts(f: MessageFacts): HeaderFacts {
  return new FactsHeaders(f);
}

/** Within each AND, keys that need no message text go first, so "UNSEEN BODY x" reads only the
 *  unseen messages. Matching is order-independent, only the cost changes. */
/** ALL, or an AND of nothing but ALL. */
function isAll(k: SearchKey): boolean {
  return k.op === 'all' || (k.op === 'and' && k.keys.every(isAll));
}

function cheapFirst(k: SearchKey): SearchKey {
  switch (k.op) {
    case 'and': {
      const keys = k.keys.map(cheapFirst);
      return { op: 'and', keys: [...keys.filter((x) => !needsContent(x)), ...keys.filter(needsContent)] };
    }
    case 'or':
      return { op: 'or', a: cheapFirst(k.a), b: cheapFirst(k.b) };
    case 'not':
      return { op: 'not', key: cheapFirst(k.key) };
    default:
      return k;
  }
}

const BATCH = 256;

/** Whether evaluating the key reaches a key that needs the store's facts for every message: then
 *  fetching them ahead in batches parses nothing a lazy evaluation would not. */
function alwaysNeedsFacts(k: SearchKey): boolean {
  switch (k.op) {
    case 'header':
      return true;
    case 'date':
      return k.field === 'sent';
    case 'and':
      return k.keys.length > 0 && alwaysNeedsFacts(k.keys[0]!); // the first key is evaluated for all
    case 'or':
      return alwaysNeedsFacts(k.a);
    case 'not':
      return alwaysNeedsFacts(k.key);
    default:
      return false;
  }
}

/** The one message's facts; NONEXISTENT (as read() would) when its bytes are gone. */
function checkedFacts(f: MessageFacts | undefined, uid: number): HeaderFacts {
  if (!f || !f.exists) throw new StoreError('NONEXISTENT', `message UID ${uid} no longer exists`);
  return headerFacts(f);
}

/** One message a search found: its 0-based index in the session's view and its current info. */
export interface Hit {
  index: number;
  info: MessageInfo;
}

export class BadCharset extends Error {}

/** `charset SP search-criteria` as SORT and THREAD take them (RFC 5256). */
export function parseCharsetCriteria(a: Command['args']): { charset: string; key: SearchKey } {
  const charset = a.astringBytes().toString('latin1');
  if (a.atEnd) throw new ParseError('Missing search criteria');
  a.sp();
  return { charset, key: parseCriteria(a) };
}

/** `charset SP search-criteria`, searched; null when the charset is unknown (the caller answers NO
 *  [BADCHARSET]). */
export async function charsetAndSearch(s: ImapSession, a: Command['args']): Promise<Awaited<ReturnType<typeof searchMessages>> | null> {
  const { charset, key } = parseCharsetCriteria(a);
  try {
    return await searchMessages(s, key, charset);
  } catch (e) {
    if (e instanceof BadCharset) return null;
    throw e;
  }
}

/**
 * The messages of the selected mailbox that match `key` (strings in `charset`), in sequence order.
 * Shared by SEARCH, SORT and THREAD. Throws BadCharset for an unknown charset. Enables CONDSTORE
 * when the key uses MODSEQ (RFC 7162 §3.1) and then reports the highest mod-sequence found.
 * `known` (live contexts) answers for messages whose result it already knows; the others are evaluated.
 */
export async function searchMessages(s: ImapSession, key0: SearchKey, charset: string | undefined, known?: (info: MessageInfo) => boolean | undefined): Promise<{ hits: Hit[]; withModseq: boolean; maxModseq: number }> {
  const sel = requireSelected(s);
  let strings: Map<Buffer, string>;
  try {
    strings = await decodeCriteria(key0, charset);
  } catch (e) {
    if (e instanceof UnknownCharset) throw new BadCharset(String(charset));
    throw e;
  }
  const key = cheapFirst(key0);
  const withModseq = usesModseq(key0);
  if (withModseq) s.enableCondstore(); // RFC 7162 §3.1
  let maxModseq = 0;
  const hits: Hit[] = [];
  const maxUid = sel.view.length ? sel.view[sel.view.length - 1]!.uid : 0;
  const tests = new Map<SearchKey, (n: number) => boolean>();
  const test = (k: SearchKey & { ranges: SeqRange[] }, star: number) => {
    let f = tests.get(k);
    if (!f) tests.set(k, (f = rangeTest(k.ranges, star)));
    return f;
  };
  const now = Date.now();
  const saved = savedUids(sel);
  const want = factsNeeded(key0);
  const noContent = (): Promise<never> => Promise.reject(new Error('cheap pass reads no message'));
  if (!known && isAll(key)) {
    // ALL (SORT and THREAD of every message): each message still there, nothing to decide.
    const all = sel.currentAll();
    for (let i = 0; i < sel.view.length; i++) {
      if (sel.view[i]!.gone) continue;
      const info = all[i]!;
      hits.push({ index: i, info });
      if (withModseq && info.modseq > maxModseq) maxModseq = info.modseq;
    }
    return { hits, withModseq, maxModseq };
  }
  // Pass 1: what flags, UIDs, sizes and dates decide, synchronously; `open` keeps the indexes of the
  // messages whose answer needs facts or text (in order), for pass 2.
  const decided: (boolean | null)[] = new Array(sel.view.length).fill(false);
  const infos = sel.currentAll();
  const open: number[] = [];
  // One context for the synchronous evaluations, its message fields set per message (no object each).
  const quick: Ctx = { info: undefined as unknown as MessageInfo, seq: 0, maxSeq: sel.view.length, maxUid, strings, test, now, saved, content: noContent, headers: noContent };
  for (let i = 0; i < sel.view.length; i++) {
    const e = sel.view[i]!;
    if (e.gone) continue;
    const info = infos[i]!;
    const was = known?.(info);
    quick.info = info;
    quick.seq = i + 1;
    const v = was !== undefined ? was : key.op === 'all' ? true : cheapMatch(key, quick);
    decided[i] = v;
    if (v === null) open.push(i);
  }
  // Pass 2, only for the open ones. When every such message needs facts (FROM x, SUBJECT y ...), ask
  // the store for them in batches: one facts() call per BATCH messages instead of one per message.
  const batched = want !== null && alwaysNeedsFacts(key);
  const ahead = new Map<number, MessageFacts>();
  for (let k = 0; k < open.length; k++) {
    const i = open[k]!;
    const e = sel.view[i]!;
    if (s.dead) break;
    const info = infos[i]!;
    let loaded: Promise<Searchable> | null = null;
    let facts: Promise<HeaderFacts> | null = null;
    if (batched && !ahead.has(e.uid)) {
      ahead.clear();
      const uids: number[] = [];
      for (let j = k; j < open.length && uids.length < BATCH; j++) uids.push(sel.view[open[j]!]!.uid);
      for (const f of await sel.mailbox.factsAll(uids, want!)) ahead.set(f.uid, f);
    }
    const mine = batched ? ahead.get(e.uid) : undefined;
    try {
      // Facts fetched ahead decide the header keys at once (on a context without the two loaders:
      // no closures per message); only BODY/TEXT still need the await.
      if (mine) {
        quick.info = info;
        quick.seq = i + 1;
        const v = cheapMatch(key, quick, checkedFacts(mine, e.uid));
        if (v !== null) { decided[i] = v; continue; }
      }
      const ctx: Ctx = {
        info, seq: i + 1, maxSeq: sel.view.length, maxUid, strings, test, now, saved,
        content: () => (loaded ??= sel.mailbox.read(e.uid).then(loadSearchable)),
        headers: () => (facts ??= mine ? Promise.resolve().then(() => checkedFacts(mine, e.uid)) : factsOf(sel.mailbox, e.uid, want ?? {})),
      };
      decided[i] = await matches(key, ctx);
    } catch (err) {
      if (err instanceof StoreError && err.code === 'NONEXISTENT') { decided[i] = false; continue; } // expunged meanwhile
      throw err;
    }
  }
  if (s.dead) return { hits, withModseq, maxModseq };
  for (let i = 0; i < decided.length; i++) {
    if (decided[i] !== true) continue;
    const info = infos[i]!;
    hits.push({ index: i, info });
    if (withModseq && info.modseq > maxModseq) maxModseq = info.modseq; // only answered with MODSEQ
  }
  return { hits, withModseq, maxModseq };
}

async function factsOf(mailbox: Mailbox, uid: number, want: FactsRequest): Promise<HeaderFacts> {
  for await (const f of mailbox.facts([uid], want)) {
    if (!f.exists) break;
    return headerFacts(f);
  }
  throw new StoreError('NONEXISTENT', `message UID ${uid} no longer exists`);
}

/** The part of a result RETURN (SAVE) keeps (RFC 5182 §2.4; RFC 9394 §3.2 Table 1 for PARTIAL): all
 *  with ALL or COUNT; else the PARTIAL range (if given) plus the MIN and/or MAX message (if given). */
function savedPart(returns: Returns, uids: readonly number[]): number[] {
  const o = returns.options;
  if (o.has('ALL') || o.has('COUNT') || uids.length === 0) return [...uids];
  if (!o.has('MIN') && !o.has('MAX')) return returns.partial ? partialSlice(returns.partial, uids) : [...uids];
  const out = returns.partial ? partialSlice(returns.partial, uids) : [];
  if (o.has('MIN')) out.push(uids[0]!);
  if (o.has('MAX')) out.push(uids[uids.length - 1]!);
  return out;
}

/** The items at the PARTIAL range's positions (RFC 9394 §3.1), in their order. */
export function partialSlice<T>(p: PartialRange, items: readonly T[]): T[] {
  const n = items.length;
  // Positions are 1-based; negative ones count from the end.
  const from = p.lo > 0 ? p.lo - 1 : Math.max(0, n + p.lo);
  const to = p.lo > 0 ? Math.min(n, p.hi) : n + p.hi + 1;
  return from < to ? items.slice(from, to) : [];
}

/**
 * Answers a search with RETURN options: saves "$" when asked (SEARCHRES) and sends the ESEARCH line
 * unless SAVE was the only option (RFC 5182 §2.4). `nums` are what the client sees (sequence numbers
 * or UIDs) and `uids` the same messages' UIDs, both in result order.
 */
export function answerReturns(s: ImapSession, c: Command, returns: Returns, nums: readonly number[], uids: readonly number[], modseq: number | null): void {
  if (returns.options.has('SAVE')) saveResult(requireSelected(s), savedPart(returns, uids));
  if (returns.options.size === 1 && returns.options.has('SAVE') && !returns.partial) return;
  s.untagged(esearchLine(c.tag, c.uid, returns, nums, modseq));
}

/** A search with RETURN (SAVE) that fails with NO leaves "$" empty (RFC 5182 §2.1). */
export function failedReturns(s: ImapSession, returns: Returns | undefined): void {
  if (returns?.options.has('SAVE')) saveResult(requireSelected(s), []);
}

/** The ESEARCH response (RFC 4731; RFC 5267 for SORT, whose `nums` are in sort order; RFC 9394
 *  PARTIAL). `modseq` is the highest mod-sequence when the criteria used MODSEQ. */
export function esearchLine(tag: string, uid: boolean, returns: Returns, nums: readonly number[], modseq: number | null): string {
  let line = `ESEARCH (TAG "${tag.replace(/["\\]/g, '')}")${uid ? ' UID' : ''}`;
  const o = returns.options;
  if (nums.length) {
    if (o.has('MIN')) line += ` MIN ${nums[0]}`;
    if (o.has('MAX')) line += ` MAX ${nums[nums.length - 1]}`;
    if (o.has('ALL')) line += ` ALL ${formatSet(nums)}`;
  }
  if (o.has('COUNT')) line += ` COUNT ${nums.length}`;
  if (returns.partial) {
    const slice = partialSlice(returns.partial, nums);
    line += ` PARTIAL (${returns.partial.text} ${slice.length ? formatSet(slice) : 'NIL'})`;
  }
  // RFC 7162 §3.1.5 / RFC 4731: MODSEQ with the result when the criteria used it.
  if (modseq !== null && nums.length) line += ` MODSEQ ${modseq}`;
  return line;
}

export const BADCHARSET = '[BADCHARSET (UTF-8 US-ASCII)] Unknown charset';

export async function search(s: ImapSession, c: Command): Promise<Result> {
  const sel = requireSelected(s);
  const req = parseSearch(c.args);
  // IMAP4rev2 (RFC 9051 §6.4.4): SEARCH is always answered with ESEARCH, ALL when no RETURN was given.
  if (!req.returns && s.enabled.imap4rev2) req.returns = { options: new Set(['ALL']) };
  // RFC 6855 §3 (erratum 4029): after ENABLE UTF8=ACCEPT the strings are UTF-8, a CHARSET conflicts.
  if (req.charset !== undefined && s.utf8Accept) return bad('SEARCH CHARSET is not allowed after ENABLE UTF8=ACCEPT');
  const update = contextRequested(sel, c.tag, req.returns, (l) => s.untagged(l));
  let r: Awaited<ReturnType<typeof searchMessages>>;
  try {
    r = await searchMessages(s, req.key, req.charset);
  } catch (e) {
    if (e instanceof BadCharset) {
      failedReturns(s, req.returns);
      return no(BADCHARSET);
    }
    throw e;
  }
  const uids = r.hits.map((h) => h.info.uid);
  const nums = c.uid ? uids : r.hits.map((h) => h.index + 1);
  if (!req.returns) {
    const mod = r.withModseq && nums.length ? ` (MODSEQ ${r.maxModseq})` : '';
    s.untagged(`SEARCH${nums.map((h) => ' ' + h).join('')}${mod}`);
  } else {
    answerReturns(s, c, req.returns, nums, uids, r.withModseq ? r.maxModseq : null);
    if (update) addContext(sel, c, req.key, req.charset, uids);
  }
  return ok(`${c.uid ? 'UID ' : ''}SEARCH completed`);
}
