// Keeping CONTEXT=SEARCH / CONTEXT=SORT results (search-context.ts) up to date as the mailbox changes
// (RFC 5267 §4.3): the session's update pass (ImapSession.sendUpdates, after every command, NOOP and
// in IDLE) calls contextExpunges before its EXPUNGE/VANISHED lines, so a REMOVEFROM names messages by
// numbers still valid (§4.3.4), and sendContextUpdates after its EXISTS/FETCH lines, so an ADDTO
// names messages the client already knows (§4.3.3). Results are re-evaluated with the same search
// (commands/search.ts) and ordering (sort.ts) as the commands that made them.
import type { ImapSession } from './session.js';
import type { Selected } from './selected.js';
import { searchMessages } from './commands/search.js';
import { liveContexts, remember, remembered, removeFrom, replaceResult, type Context } from './search-context.js';
import { needsFacts, sortItems, type SortCriterion, type SortItem } from './sort.js';
import { messageFacts } from './sort-keys.js';

/**
 * Before the update pass announces expunges (`allowExpunge`): the REMOVEFROM lines for every context
 * holding a message about to be announced expunged, numbered as the client still knows them.
 */
export function contextExpunges(sel: Selected, allowExpunge: boolean): string[] {
  const list = liveContexts(sel);
  if (!allowExpunge || !list.length || sel.inStep) return [];
  const present = new Set<number>();
  for (const m of sel.mailbox.state.messages) present.add(m.uid);
  const seqOf = new Map<number, number>();
  sel.view.forEach((e, i) => {
    if (e.gone || !present.has(e.uid)) seqOf.set(e.uid, i + 1);
  });
  if (!seqOf.size) return [];
  const lines: string[] = [];
  for (const ctx of list) {
    const line = removeFrom(ctx, (uid) => seqOf.has(uid), (uid) => (ctx.uid ? uid : seqOf.get(uid)!));
    if (line) lines.push(`* ${line}`);
  }
  return lines;
}

/** The result a context has now, in its order: what the search finds, plus what it held that was
 *  expunged but not yet announced (the client still has it; contextExpunges removes it later). */
async function currentResult(s: ImapSession, sel: Selected, ctx: Context): Promise<number[] | null> {
  let hits;
  try {
    hits = (await searchMessages(s, ctx.key, ctx.charset, ctx.memo ? (info) => remembered(ctx, info) : undefined)).hits;
  } catch {
    return null; // e.g. a charset that went away: keep the old result
  }
  const index = new Map<number, number>();
  sel.view.forEach((e, i) => index.set(e.uid, i));
  const found = new Set(hits.map((h) => h.info.uid));
  const pending = ctx.order.filter((uid) => !found.has(uid) && index.has(uid) && sel.view[index.get(uid)!]!.gone);
  if (!ctx.criteria) {
    const all = hits.map((h) => h.info.uid).concat(pending);
    return pending.length ? all.sort((a, b) => a - b) : all;
  }
  const infos = hits.map((h) => h.info).concat(pending.map((uid) => sel.view[index.get(uid)!]!.info));
  return sortedUids(sel, infos.map((info) => ({ info, seq: index.get(info.uid)! + 1 })), ctx.criteria, new Set(pending));
}

/** UIDs of the given messages in SORT order (the facts come from sort-keys' per-mailbox cache). A
 *  message whose bytes went meanwhile is left out, as SORT does, unless the client holds it (`keep`:
 *  its facts are cached from when it entered the result). */
async function sortedUids(sel: Selected, msgs: { info: SortItem['info']; seq: number }[], criteria: readonly SortCriterion[], keep: ReadonlySet<number>): Promise<number[]> {
  const facts = needsFacts(criteria) ? await messageFacts(sel.mailbox, msgs.map((m) => m.info)) : null;
  const items: SortItem[] = [];
  msgs.forEach((m, i) => {
    const f = facts ? facts[i]! : null;
    if (facts && !f && !keep.has(m.info.uid)) return;
    items.push({ seq: m.seq, info: m.info, facts: f });
  });
  return sortItems(items, criteria).map((it) => it.info.uid);
}

/**
 * After the session's other updates (EXISTS, FETCH, EXPUNGE/VANISHED) went out: re-evaluate every
 * context whose mailbox changed and send what changed, REMOVEFROM then ADDTO.
 */
export async function sendContextUpdates(s: ImapSession): Promise<void> {
  const sel = s.selected;
  const list = sel ? liveContexts(sel) : [];
  if (!sel || !list.length) return;
  const state = sel.mailbox.state;
  for (const ctx of [...list]) {
    if (ctx.state === state || s.dead) continue;
    const next = await currentResult(s, sel, ctx);
    if (s.selected !== sel || !list.includes(ctx)) return; // the session moved on meanwhile
    ctx.state = state;
    if (!next) continue;
    const seqOf = new Map(sel.view.map((e, i) => [e.uid, i + 1]));
    // Messages the view no longer has at all were removed by contextExpunges (or never known).
    const known = ctx.order.filter((uid) => seqOf.has(uid));
    if (known.length !== ctx.order.length) {
      ctx.order = known;
      ctx.uids = new Set(known);
    }
    const line = replaceResult(ctx, next, (uid) => (ctx.uid ? uid : seqOf.get(uid)!));
    remember(ctx, sel);
    if (line) s.untagged(line);
  }
}
