// CONTEXT=SEARCH (RFC 5267 §4): SEARCH RETURN (UPDATE ...) keeps the search alive; as the mailbox
// changes, the session tells the client how the result changed, with unsolicited ESEARCH responses
// carrying ADDTO/REMOVEFROM (position 0: an unsorted SEARCH context, as Dovecot sends them) or the new
// MIN/MAX/COUNT. Contexts belong to the selected-mailbox view: a new SELECT/EXAMINE, CLOSE or
// UNSELECT ends them, CANCELUPDATE ends one. This module keeps them; commands/search.ts evaluates them
// (sendContextUpdates).
import type { MailboxState } from '../store/types.js';
import type { Selected } from './selected.js';
import type { Returns, SearchKey } from './search-keys.js';

/** Most live contexts per selected mailbox (RFC 5267 §4.2: beyond, NO [NOUPDATE]). */
export const MAX_CONTEXTS = 10;

export interface Context {
  tag: string;
  uid: boolean;
  key: SearchKey;
  charset: string | undefined;
  returns: Returns;
  /** The result as the client knows it, by UID. */
  uids: Set<number>;
  min: number | null;
  max: number | null;
  count: number;
  /** The store state the result was last computed for. */
  state: MailboxState;
}

const contexts = new WeakMap<Selected, Context[]>();

/** The tag as an IMAP quoted string (tags cannot hold '"' or '\\', so nothing to escape). */
export const tagString = (tag: string): string => `"${tag.replace(/["\\]/g, '')}"`;

/** Whether another context can be added (else NO [NOUPDATE "tag"]). */
export function canAddContext(sel: Selected): boolean {
  return (contexts.get(sel)?.length ?? 0) < MAX_CONTEXTS;
}

/** Keep a SEARCH RETURN (UPDATE) alive with the result just sent (`uids` ascending, `nums` what the
 *  client saw). */
export function addContext(sel: Selected, c: { tag: string; uid: boolean }, key: SearchKey, charset: string | undefined, returns: Returns, uids: readonly number[], nums: readonly number[]): void {
  let list = contexts.get(sel);
  if (!list) contexts.set(sel, (list = []));
  // A new search under the same tag replaces the old one.
  const i = list.findIndex((x) => x.tag === c.tag);
  if (i >= 0) list.splice(i, 1);
  list.push({
    tag: c.tag, uid: c.uid, key, charset, returns, uids: new Set(uids),
    min: nums.length ? nums[0]! : null, max: nums.length ? nums[nums.length - 1]! : null, count: nums.length,
    state: sel.mailbox.state,
  });
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

