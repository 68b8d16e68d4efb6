// Argument helpers shared by the mailbox commands.
import type { Args } from '../args.js';
import { canonicalName, type NameOptions } from '../mailbox-name.js';
import type { ImapSession } from '../session.js';
import type { Selected } from '../selected.js';
import { parseSequenceSet, resolveSeq, resolveUid } from '../sequence.js';
import { savedIndexes } from '../search-result.js';

export function mailboxArg(a: Args, opts: NameOptions = {}): string {
  return canonicalName(a.astringBytes(), { ...opts, utf8: a.utf8Names });
}

export function requireSelected(s: ImapSession): Selected {
  if (!s.selected) throw new Error('no mailbox selected');
  return s.selected;
}

/** View indexes (0-based) addressed by a sequence set, by UID or by sequence number. */
export function resolveSet(sel: Selected, set: string, byUid: boolean): number[] {
  if (set === '$') return savedIndexes(sel); // SEARCHRES (RFC 5182): the saved result, by UID or not
  const ranges = parseSequenceSet(set);
  if (byUid) return resolveUid(ranges, sel.uids);
  return resolveSeq(ranges, sel.view.length).map((n) => n - 1);
}

/** Quota in kbytes for this user, or undefined for none. */
export function quotaKb(s: ImapSession): number | undefined {
  const q = s.user?.quotaKb;
  return q !== undefined && q > 0 ? q : undefined;
}

/** DMail lets a write that starts under quota finish over it, so only "already at/over" refuses. */
export async function overQuota(s: ImapSession): Promise<boolean> {
  const q = quotaKb(s);
  if (q === undefined) return false;
  const used = await s.store.usage();
  return used >= q * 1024;
}
