// SORT / UID SORT (RFC 5256 §3) with SORT=DISPLAY keys (RFC 5957) and ESORT's RETURN options (RFC
// 5267 §3, RFC 9394 PARTIAL): the messages SEARCH finds, ordered by sort-keys' facts.
import type { Command, ImapSession } from '../session.js';
import { ParseError } from '../args.js';
import { parseReturns } from '../search-keys.js';
import { needsFacts, parseSortCriteria, sortItems, type SortItem } from '../sort.js';
import { messageFacts } from '../sort-keys.js';
import { no, ok, type Result } from '../result.js';
import { requireSelected } from './helpers.js';
import { answerReturns, BADCHARSET, charsetAndSearch, failedReturns } from './search.js';

export async function sort(s: ImapSession, c: Command): Promise<Result> {
  const sel = requireSelected(s);
  const a = c.args;
  a.sp();
  const returns = parseReturns(a);
  if (returns?.options.has('UPDATE')) throw new ParseError('RETURN UPDATE is not supported for SORT (CONTEXT=SORT)');
  const criteria = parseSortCriteria(a);
  a.sp();
  const r = await charsetAndSearch(s, a);
  if (!r) {
    failedReturns(s, returns);
    return no(BADCHARSET);
  }
  const facts = needsFacts(criteria) ? await messageFacts(sel.mailbox, r.hits.map((h) => h.info)) : null;
  const items: SortItem[] = [];
  r.hits.forEach((h, i) => {
    const f = facts ? facts[i]! : null;
    if (facts && !f) return; // gone from the store meanwhile
    items.push({ seq: h.index + 1, info: h.info, facts: f });
  });
  sortItems(items, criteria);
  const nums = items.map((it) => (c.uid ? it.info.uid : it.seq));
  const modseq = r.withModseq ? r.maxModseq : null;
  if (!returns) {
    const mod = modseq !== null && nums.length ? ` (MODSEQ ${modseq})` : '';
    s.untagged(`SORT${nums.map((n) => ' ' + n).join('')}${mod}`);
  } else {
    answerReturns(s, c, returns, nums, items.map((it) => it.info.uid), modseq);
  }
  return ok(`${c.uid ? 'UID ' : ''}SORT completed`);
}
