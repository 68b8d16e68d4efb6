// VANISHED (EARLIER) for QRESYNC (RFC 7162 §3.2.5, §3.2.6): which UIDs a client that synchronised at
// mod-sequence `since` must forget, from the store's change log.
import type { Selected } from './selected.js';
import { formatSet, missingSet, rangeTest, type SeqRange } from './sequence.js';

const ALL: SeqRange[] = [{ from: 1, to: Number.POSITIVE_INFINITY }];

/**
 * UIDs expunged after `since`, limited to `ranges` (the client's known UIDs; all when null) and to UIDs
 * above `floor` (what the QRESYNC sequence-match data proved unchanged), as sequence-set text ('' for
 * none). When the log was compacted past `since`, every UID below UIDNEXT that is not in the mailbox
 * is reported: RFC 7162 §3.2.5.2 allows naming UIDs that never existed, never forgetting one.
 */
export async function vanishedSince(sel: Selected, since: number, ranges: readonly SeqRange[] | null, floor = 0): Promise<string> {
  const st = sel.mailbox.state;
  const star = Math.max(1, st.uidNext - 1);
  const set = (ranges ?? ALL)
    .map((r) => ({ from: Math.max(r.from, floor + 1), to: r.to }))
    .filter((r) => r.from <= r.to);
  if (!set.length) return '';
  const log = await sel.mailbox.expungedSince(since);
  if (log.complete) {
    const inSet = rangeTest(set, star);
    return formatSet(log.uids.filter((u) => inSet(u)));
  }
  return missingSet(set, star, st.uidNext - 1, st.messages.map((m) => m.uid));
}

/** RFC 7162 §3.2.5.2 sequence-match data: pairs of (message sequence number, UID) from the client's
 *  cache, given as two sets of equal size. The highest pair whose UID still has that sequence number
 *  proves that nothing at or below it was expunged (new messages only ever get higher UIDs): returns
 *  that UID, or 0. Walks the sets in step and stops past the mailbox's last message, so "1:4294967295"
 *  costs no more than the mailbox is long. */
export function matchedFloor(sel: Selected, seqs: readonly SeqRange[], uids: readonly SeqRange[]): number {
  const msgs = sel.mailbox.state.messages;
  const seqIt = walk(seqs, msgs.length);
  const uidIt = walk(uids, Math.max(1, sel.mailbox.state.uidNext - 1));
  let floor = 0;
  let budget = msgs.length + 10_000; // explicit numbers are bounded by the line length anyway
  for (;;) {
    const sq = seqIt.next();
    const ud = uidIt.next();
    if (sq.done || ud.done || budget-- <= 0) break;
    if (sq.value > msgs.length) continue;
    const m = msgs[sq.value - 1];
    if (m && m.uid === ud.value && m.uid > floor) floor = m.uid;
  }
  return floor;
}

/** The numbers of a sequence set in the order given ('*' = star). */
function* walk(ranges: readonly SeqRange[], star: number): Generator<number> {
  for (const r of ranges) {
    const from = r.from === Number.POSITIVE_INFINITY ? star : r.from;
    const to = r.to === Number.POSITIVE_INFINITY ? star : r.to;
    for (let n = Math.min(from, to); n <= Math.max(from, to); n++) yield n;
  }
}
