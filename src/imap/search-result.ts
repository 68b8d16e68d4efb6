// SEARCHRES (RFC 5182): the result a SEARCH (or SORT) RETURN (SAVE) left in the "$" variable. Kept as
// UIDs per selected-mailbox view, so it follows expunges and is gone with the next SELECT, EXAMINE,
// CLOSE or UNSELECT (each makes a new Selected), as §2.1 asks.
import type { Selected } from './selected.js';

const saved = new WeakMap<Selected, ReadonlySet<number>>();

/** Set "$" (an empty list after a search that failed with NO). */
export function saveResult(sel: Selected, uids: readonly number[]): void {
  saved.set(sel, new Set(uids));
}

/** The UIDs in "$" (empty before any SAVE). */
export function savedUids(sel: Selected): ReadonlySet<number> {
  return saved.get(sel) ?? new Set();
}

/** View indexes (0-based, ascending) of the messages in "$" that the view still holds. */
export function savedIndexes(sel: Selected): number[] {
  const set = saved.get(sel);
  if (!set || set.size === 0) return [];
  const out: number[] = [];
  sel.view.forEach((e, i) => {
    if (set.has(e.uid)) out.push(i);
  });
  return out;
}
