// SORT / UID SORT (RFC 5256 §3) with SORT=DISPLAY keys (RFC 5957), ESORT's RETURN options (RFC
// 5267 §3, RFC 9394 PARTIAL) and CONTEXT=SORT's UPDATE (RFC 5267 §4.3: search-context.ts keeps the
// sorted result, context-updates.ts follows the mailbox): the messages SEARCH finds, ordered by
// sort-keys' facts.
import type { Command, ImapSession } from '../session.js';
import { parseReturns } from '../search-keys.js';
import { needsFacts, numberLine, parseSortCriteria, sortOrder } from '../sort.js';
import { messageFacts, type SortFacts } from '../sort-keys.js';
import type { MessageInfo } from '../../store/types.js';
import { no, ok, type Result } from '../result.js';
import { requireSelected } from './helpers.js';
import { addContext, contextRequested } from '../search-context.js';
import { answerReturns, BadCharset, BADCHARSET, failedReturns, parseCharsetCriteria, searchMessages } from './search.js';

export async function sort(s: ImapSession, c: Command): Promise<Result> {
  const sel = requireSelected(s);
  const a = c.args;
  a.sp();
  const returns = parseReturns(a);
  const criteria = parseSortCriteria(a);
  a.sp();
  const { charset, key } = parseCharsetCriteria(a);
  const update = contextRequested(sel, c.tag, returns, (l) => s.untagged(l));
  let r: Awaited<ReturnType<typeof searchMessages>>;
  try {
    r = await searchMessages(s, key, charset);
  } catch (e) {
    if (!(e instanceof BadCharset)) throw e;
    failedReturns(s, returns);
    return no(BADCHARSET);
  }
  // Sent dates only (DATE with ARRIVAL or SIZE at most): from the store's key columns when it has
  // them, no object per message; otherwise per-message facts.
  const datesOnly = !!sel.mailbox.keyColumns && needsFacts(criteria) && criteria.every((k) => k.key === 'DATE' || k.key === 'ARRIVAL' || k.key === 'SIZE');
  const m = r.hits.length;
  let exists: ArrayLike<number> | null = null;
  let dates: Float64Array | null = null;
  let facts: (SortFacts | null)[] | null = null;
  if (datesOnly) {
    const uids: number[] = [];
    for (let i = 0; i < m; i++) uids.push(r.hits[i]!.info.uid);
    const kc = await sel.mailbox.keyColumns!(uids, {});
    exists = kc.exists;
    dates = kc.sentDate;
  } else if (needsFacts(criteria)) {
    facts = await messageFacts(sel.mailbox, r.hits.map((h) => h.info));
  }
  // The messages still there (facts null, or not existing: gone from the store meanwhile), as columns.
  const infos: MessageInfo[] = [];
  const seqs = new Uint32Array(m);
  const kept: (SortFacts | null)[] | null = facts ? [] : null;
  for (let i = 0; i < m; i++) {
    const f = facts ? facts[i]! : null;
    if ((facts && !f) || (exists && !exists[i])) continue;
    const h = r.hits[i]!;
    if (dates) dates[infos.length] = dates[i]!; // compacted in place (infos.length <= i)
    seqs[infos.length] = h.index + 1;
    infos.push(h.info);
    kept?.push(f);
  }
  const order = sortOrder(infos, seqs.subarray(0, infos.length), kept, criteria, dates ? dates.subarray(0, infos.length) : undefined);
  const n = order.length;
  const nums = new Uint32Array(n);
  for (let i = 0; i < n; i++) nums[i] = c.uid ? infos[order[i]!]!.uid : seqs[order[i]!]!;
  const modseq = r.withModseq ? r.maxModseq : null;
  if (!returns) {
    const mod = modseq !== null && n ? ` (MODSEQ ${modseq})` : '';
    s.write(numberLine('* SORT', nums, `${mod}\r\n`));
  } else {
    const uids = Array.from(order, (i) => infos[i]!.uid);
    answerReturns(s, c, returns, Array.from(nums), uids, modseq);
    if (update) addContext(sel, c, key, charset, uids, criteria);
  }
  return ok(`${c.uid ? 'UID ' : ''}SORT completed`);
}
