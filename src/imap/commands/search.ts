// SEARCH / UID SEARCH with CHARSET and ESEARCH RETURN (RFC 4731). Text keys match case-insensitively on
// MIME-decoded headers (RFC 2047) and decoded bodies; header keys and SENT* use the store's facts
// (Mailbox.facts, cached per mailbox), the message is only read when BODY or TEXT needs it.
import { StoreError, type MessageFacts, type MessageInfo } from '../../store/types.js';
import type { SeqRange } from '../sequence.js';
import type { Command, ImapSession } from '../session.js';
import { formatSet, rangeTest } from '../sequence.js';
import { factsNeeded, needsContent, parseSearch, usesModseq, type SearchKey } from '../search-keys.js';
import { decodeCriteria, loadSearchable, type Searchable, UnknownCharset } from '../message-data.js';
import { foldText } from '../../mime/search.js';
import { no, ok, type Result } from '../result.js';
import { requireSelected } from './helpers.js';

interface Ctx {
  info: MessageInfo;
  seq: number;
  maxSeq: number;
  maxUid: number;
  strings: Map<Buffer, string>;
  content: () => Promise<Searchable>;
  /** The store's facts of the message (header values, sent date): no message read when cached. */
  facts: () => Promise<MessageFacts>;
  /** Membership tests of the set keys, built once per SEARCH. */
  test: (k: SearchKey & { ranges: SeqRange[] }, star: number) => (n: number) => boolean;
}

const DAY = 86_400_000;

function compareDay(day: number, cmp: 'before' | 'on' | 'since', target: number): boolean {
  if (cmp === 'before') return day < target;
  if (cmp === 'on') return day === target;
  return day >= target;
}

async function matches(k: SearchKey, c: Ctx): Promise<boolean> {
  switch (k.op) {
    case 'all':
      return true;
    case 'and':
      for (const x of k.keys) if (!(await matches(x, c))) return false;
      return true;
    case 'or':
      return (await matches(k.a, c)) || (await matches(k.b, c));
    case 'not':
      return !(await matches(k.key, c));
    case 'flag': {
      const has = [...c.info.flags].some((f) => f.toLowerCase() === k.flag.toLowerCase());
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
    case 'date': {
      if (k.field === 'internal') {
        const t = c.info.internalDate.getTime();
        return compareDay(Math.floor(t / DAY) * DAY, k.cmp, k.day);
      }
      const day = (await c.facts()).sortKeys!.sentDay;
      return day !== null && compareDay(day, k.cmp, k.day);
    }
    case 'header': {
      const needle = c.strings.get(k.value)!;
      const values = (await c.facts()).headerValues!.get(k.name.toLowerCase())!.map(foldText);
      // RFC 3501: HEADER with an empty string matches every message that has the field.
      return values.some((v) => needle === '' || v.includes(needle));
    }
    case 'body':
      return (await c.content()).body().includes(c.strings.get(k.value)!);
    case 'text':
      return (await c.content()).text().includes(c.strings.get(k.value)!);
    case 'modseq':
      return c.info.modseq >= k.n;
  }
}

/** Within each AND, keys that need no message text go first, so "UNSEEN BODY x" reads only the
 *  unseen messages. Matching is order-independent, only the cost changes. */
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
async function firstFacts(it: AsyncIterable<MessageFacts> | Iterable<MessageFacts>): Promise<MessageFacts> {
  for await (const f of it) {
    if (!f.exists) throw new StoreError('NONEXISTENT', `message UID ${f.uid} no longer exists`);
    return f;
  }
  throw new StoreError('NONEXISTENT', 'no facts');
}

export async function search(s: ImapSession, c: Command): Promise<Result> {
  const sel = requireSelected(s);
  const req = parseSearch(c.args);
  let strings: Map<Buffer, string>;
  try {
    strings = await decodeCriteria(req.key, req.charset);
  } catch (e) {
    if (e instanceof UnknownCharset) return no('[BADCHARSET (UTF-8 US-ASCII)] Unknown charset');
    throw e;
  }
  const key = cheapFirst(req.key);
  const withModseq = usesModseq(req.key);
  if (withModseq) s.enableCondstore(); // RFC 7162 §3.1
  let maxModseq = 0;
  const hits: number[] = [];
  const live = sel.view.map((e, i) => ({ e, i })).filter(({ e }) => !e.gone);
  const maxUid = sel.view.length ? sel.view[sel.view.length - 1]!.uid : 0;
  const want = factsNeeded(req.key);
  const tests = new Map<SearchKey, (n: number) => boolean>();
  const test = (k: SearchKey & { ranges: SeqRange[] }, star: number) => {
    let f = tests.get(k);
    if (!f) tests.set(k, (f = rangeTest(k.ranges, star)));
    return f;
  };
  // When every message needs facts (FROM x, SUBJECT y ...), ask the store for them in batches: one
  // facts() call per BATCH messages instead of one per message, and nothing parsed that is not needed.
  const batched = want !== null && alwaysNeedsFacts(key);
  const ahead = new Map<number, MessageFacts>();
  for (const [n, { e, i }] of live.entries()) {
    if (s.dead) break;
    const info = sel.current(i);
    let loaded: Promise<Searchable> | null = null;
    let facts: Promise<MessageFacts> | null = null;
    if (batched && !ahead.has(e.uid)) {
      ahead.clear();
      for await (const f of sel.mailbox.facts(live.slice(n, n + BATCH).map((x) => x.e.uid), want)) ahead.set(f.uid, f);
    }
    const mine = ahead.get(e.uid);
    const ctx: Ctx = {
      info, seq: i + 1, maxSeq: sel.view.length, maxUid, strings, test,
      content: () => (loaded ??= sel.mailbox.read(e.uid).then(loadSearchable)),
      facts: () => (facts ??= mine ? firstFacts([mine]) : firstFacts(sel.mailbox.facts([e.uid], want!))),
    };
    try {
      if (await matches(key, ctx)) {
        hits.push(c.uid ? e.uid : i + 1);
        if (info.modseq > maxModseq) maxModseq = info.modseq;
      }
    } catch (err) {
      if (err instanceof StoreError && err.code === 'NONEXISTENT') continue; // expunged meanwhile
      throw err;
    }
  }
  if (!req.returns) {
    const mod = withModseq && hits.length ? ` (MODSEQ ${maxModseq})` : '';
    s.untagged(`SEARCH${hits.map((h) => ' ' + h).join('')}${mod}`);
  } else {
    let line = `ESEARCH (TAG "${c.tag.replace(/["\\]/g, '')}")${c.uid ? ' UID' : ''}`;
    if (hits.length) {
      if (req.returns.has('MIN')) line += ` MIN ${hits[0]}`;
      if (req.returns.has('MAX')) line += ` MAX ${hits[hits.length - 1]}`;
      if (req.returns.has('ALL')) line += ` ALL ${formatSet(hits)}`;
    }
    if (req.returns.has('COUNT')) line += ` COUNT ${hits.length}`;
    // RFC 7162 §3.1.5 / RFC 4731: MODSEQ with the result when the criteria used it.
    if (withModseq && hits.length) line += ` MODSEQ ${maxModseq}`;
    s.untagged(line);
  }
  return ok(`${c.uid ? 'UID ' : ''}SEARCH completed`);
}
