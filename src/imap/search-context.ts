// CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 §4): SEARCH/SORT RETURN (UPDATE ...) keeps the result alive;
// as the mailbox changes, the session tells the client how the result changed with unsolicited
// ESEARCH responses carrying ADDTO/REMOVEFROM: position 0 for a SEARCH context (as Dovecot sends
// them), positions in the sorted result for a SORT context. Contexts belong to the selected-mailbox
// view: a new SELECT/EXAMINE, CLOSE or UNSELECT ends them, CANCELUPDATE ends one. This module keeps
// them and works out the ADDTO/REMOVEFROM pairs; context-updates.ts evaluates them against the store.
import type { MailboxState } from '../store/types.js';
import type { Selected } from './selected.js';
import type { Returns, SearchKey } from './search-keys.js';
import { ParseError } from './args.js';
import type { SortCriterion } from './sort.js';
import { formatSet } from './sequence.js';

/** Most live contexts per selected mailbox (RFC 5267 §4.3.1: beyond, an untagged NO [NOUPDATE]). */
export const MAX_CONTEXTS = 10;

export interface Context {
  tag: string;
  uid: boolean;
  key: SearchKey;
  charset: string | undefined;
  /** SORT criteria; null for a SEARCH context. */
  criteria: readonly SortCriterion[] | null;
  /** The result as the client knows it, by UID: in sort order for a SORT context, ascending for a
   *  SEARCH context. */
  order: number[];
  /** The same UIDs as a set. */
  uids: Set<number>;
  /** The store state the result was last computed for. */
  state: MailboxState;
  /** For criteria whose answer for a message changes only with the message (no sequence numbers,
   *  "$", \Recent or time): UID → mod-sequence * 2 + 1 if it matched then (+ 0 if not), so an
   *  update re-evaluates only the messages that changed or came. null: evaluate all every time. */
  memo: Map<number, number> | null;
}

const contexts = new WeakMap<Selected, Context[]>();

/** The tag as an IMAP quoted string (tags cannot hold '"' or '\\', so nothing to escape). */
export const tagString = (tag: string): string => `"${tag.replace(/["\\]/g, '')}"`;

/** Whether another context can be added (else an untagged NO [NOUPDATE "tag"], RFC 5267 §4.3.1). */
export function canAddContext(sel: Selected): boolean {
  return (contexts.get(sel)?.length ?? 0) < MAX_CONTEXTS;
}

/** Whether a live context has this tag (RFC 5267 §4.3: UPDATE under such a tag is a BAD command). */
export function hasContext(sel: Selected, tag: string): boolean {
  return contexts.get(sel)?.some((x) => x.tag === tag) ?? false;
}

/** The untagged NO that refuses an UPDATE; the command itself goes on and completes OK. */
export const noUpdate = (tag: string): string => `NO [NOUPDATE ${tagString(tag)}] Too many search contexts, will not notify`;

/** Whether a SEARCH/SORT with these RETURN options gets a live context (RETURN (UPDATE ...)), for both
 *  commands: RFC 5267 §4.3, UPDATE under the tag of a live context is BAD (thrown); §4.3.1, over the
 *  limit an untagged NO [NOUPDATE] (sent through `untagged`) and the command goes on without one. */
export function contextRequested(sel: Selected, tag: string, returns: Returns | undefined, untagged: (line: string) => void): boolean {
  if (returns?.options.has('UPDATE') !== true) return false;
  if (hasContext(sel, tag)) throw new ParseError(`Tag ${tag.slice(0, 40)} already names a search context`);
  if (!canAddContext(sel)) {
    untagged(noUpdate(tag));
    return false;
  }
  return true;
}

/** Whether a message's match can change only when the message does (its mod-sequence moves). */
export function stableKey(k: SearchKey): boolean {
  switch (k.op) {
    case 'and':
      return k.keys.every(stableKey);
    case 'or':
      return stableKey(k.a) && stableKey(k.b);
    case 'not':
      return stableKey(k.key);
    case 'seq': // numbers shift with expunges
    case 'uid': // "*" moves with new mail
    case 'saved': // "$" changes with other commands
    case 'age': // time passes
    case 'recent':
    case 'new':
    case 'old':
      return false;
    default:
      return true;
  }
}

/** Record what the criteria answered for the messages of the view now. */
export function remember(ctx: Context, sel: Selected): void {
  const memo = ctx.memo;
  if (!memo) return;
  memo.clear();
  for (let i = 0; i < sel.view.length; i++) {
    if (sel.view[i]!.gone) continue;
    const info = sel.current(i);
    memo.set(info.uid, info.modseq * 2 + (ctx.uids.has(info.uid) ? 1 : 0));
  }
}

/** What the criteria answered for this message when last evaluated, if it has not changed since. */
export function remembered(ctx: Context, info: { uid: number; modseq: number }): boolean | undefined {
  const m = ctx.memo?.get(info.uid);
  return m !== undefined && Math.floor(m / 2) === info.modseq ? m % 2 === 1 : undefined;
}

/** Keep a SEARCH or SORT RETURN (UPDATE) alive with the result just sent: `uids` in result order
 *  (ascending for SEARCH, sort order for SORT, whose `criteria` are given). */
export function addContext(sel: Selected, c: { tag: string; uid: boolean }, key: SearchKey, charset: string | undefined, uids: readonly number[], criteria: readonly SortCriterion[] | null = null): void {
  let list = contexts.get(sel);
  if (!list) contexts.set(sel, (list = []));
  const ctx: Context = { tag: c.tag, uid: c.uid, key, charset, criteria, order: [...uids], uids: new Set(uids), state: sel.mailbox.state, memo: stableKey(key) ? new Map() : null };
  remember(ctx, sel);
  list.push(ctx);
}

/** The live contexts of a selected mailbox (mutable: the updater refreshes them in place). */
export function liveContexts(sel: Selected): Context[] {
  return contexts.get(sel) ?? [];
}

/** CANCELUPDATE: false when no context has that tag. */
export function cancelContext(sel: Selected | null, tag: string): boolean {
  const list = sel ? contexts.get(sel) : undefined;
  const i = list ? list.findIndex((x) => x.tag === tag) : -1;
  if (i < 0) return false;
  list!.splice(i, 1);
  return true;
}

/** One `context-position SP sequence-set` pair: `nums` in result order. */
interface Pair {
  pos: number;
  nums: number[];
}

const pairs = (ps: readonly Pair[]): string => ps.map((p) => `${p.pos} ${formatSet(p.nums)}`).join(' ');

/** The ESEARCH update line for a context, or null when nothing changed. */
function updateLine(ctx: Context, removed: readonly Pair[], added: readonly Pair[]): string | null {
  if (!removed.length && !added.length) return null;
  let line = `ESEARCH (TAG ${tagString(ctx.tag)})${ctx.uid ? ' UID' : ''}`;
  if (removed.length) line += ` REMOVEFROM (${pairs(removed)})`;
  if (added.length) line += ` ADDTO (${pairs(added)})`;
  return line;
}

/**
 * Messages leave the context (expunged, or no longer matching): the REMOVEFROM line that tells the
 * client so, and the context updated. `gone` tells which UIDs leave; `num` gives the number the
 * client knows each by (UID or its sequence number now). A SEARCH context removes at position 0 in
 * mailbox order; a SORT context at each message's position, counted on the list as it shrinks, with
 * neighbours that leave together in one pair (RFC 5267 §4.3.4).
 */
export function removeFrom(ctx: Context, gone: (uid: number) => boolean, num: (uid: number) => number): string | null {
  const removed: Pair[] = [];
  const kept: number[] = [];
  for (const uid of ctx.order) {
    if (!gone(uid)) {
      kept.push(uid);
      continue;
    }
    ctx.uids.delete(uid);
    const pos = ctx.criteria ? kept.length + 1 : 0;
    const prev = removed[removed.length - 1];
    // Removing at the same position again takes the next one of the same run.
    if (prev && prev.pos === pos) prev.nums.push(num(uid));
    else removed.push({ pos, nums: [num(uid)] });
  }
  if (!removed.length) return null;
  ctx.order = kept;
  if (!ctx.criteria) removed[0]!.nums.sort((a, b) => a - b); // sequence numbers and UIDs ascend alike
  return updateLine(ctx, removed, []);
}

/**
 * The context's new result `next` (UIDs in result order) replaces the one the client knows: the
 * ESEARCH line with REMOVEFROM for what left, then ADDTO for what came, or null when nothing changed.
 * For a SORT context, what stays keeps its relative order (no sort key of a message changes), so
 * removals are counted on the shrinking list and additions go in at their final positions, in
 * ascending order, runs of neighbours in one pair (RFC 5267 §4.3.3: "ADDTO (1 2731:2733)").
 */
export function replaceResult(ctx: Context, next: readonly number[], num: (uid: number) => number): string | null {
  const nextSet = new Set(next);
  const removed: Pair[] = [];
  const kept: number[] = [];
  for (const uid of ctx.order) {
    if (nextSet.has(uid)) {
      kept.push(uid);
      continue;
    }
    const pos = ctx.criteria ? kept.length + 1 : 0;
    const prev = removed[removed.length - 1];
    if (prev && prev.pos === pos) prev.nums.push(num(uid));
    else removed.push({ pos, nums: [num(uid)] });
  }
  // What stayed must appear in `next` in the same order; if it did not (it cannot for the RFC 5256
  // keys, but a context must never drift from the truth), start over: remove all, add all.
  let j = 0;
  for (const uid of next) if (j < kept.length && uid === kept[j]) j++;
  if (j !== kept.length) {
    const all = ctx.order.map(num);
    const line = updateLine(ctx, all.length ? [{ pos: ctx.criteria ? 1 : 0, nums: ctx.criteria ? all : all.sort((a, b) => a - b) }] : [], next.length ? [{ pos: ctx.criteria ? 1 : 0, nums: next.map(num) }] : []);
    ctx.order = [...next];
    ctx.uids = nextSet;
    return line;
  }
  const added: Pair[] = [];
  next.forEach((uid, i) => {
    if (ctx.uids.has(uid)) return;
    const pos = ctx.criteria ? i + 1 : 0;
    const prev = added[added.length - 1];
    // A SEARCH context adds everything in one pair; a SORT context one pair per run of neighbours.
    if (prev && (!ctx.criteria || prev.pos + prev.nums.length === pos)) prev.nums.push(num(uid));
    else added.push({ pos, nums: [num(uid)] });
  });
  if (!ctx.criteria && removed.length) removed[0]!.nums.sort((a, b) => a - b);
  if (!ctx.criteria && added.length) added[0]!.nums.sort((a, b) => a - b);
  ctx.order = [...next];
  ctx.uids = nextSet;
  return updateLine(ctx, removed, added);
}
