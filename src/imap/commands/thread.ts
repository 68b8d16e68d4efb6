// THREAD / UID THREAD (RFC 5256 §2.2, §4): ORDEREDSUBJECT and REFERENCES over the messages SEARCH
// finds.
import type { Command, ImapSession } from '../session.js';
import type { Mailbox, MessageInfo } from '../../store/types.js';
import { ParseError } from '../args.js';
import { messageFacts, referenceCount, type SortFacts } from '../sort-keys.js';
import { sentDate } from '../sort.js';
import { formatThreads, referencesForest, threadOrderedSubject, threadReferences, type ThreadMessage, type ThreadTree } from '../thread.js';
import { no, ok, type Result } from '../result.js';
import { requireSelected } from './helpers.js';
import { BADCHARSET, charsetAndSearch, type Hit } from './search.js';

export const THREAD_ALGORITHMS = ['ORDEREDSUBJECT', 'REFERENCES'] as const;

/** A message as threading sees it; the subject and IDs are read from the facts only when the algorithm
 *  asks (REFERENCES looks at the base subject of top-level threads only). */
class Item implements ThreadMessage {
  constructor(readonly n: number, readonly seq: number, readonly date: number, private readonly f: SortFacts) {}
  get subjectKey(): string { return this.f.subjectKey; }
  get replyOrForward(): boolean { return this.f.replyOrForward; }
  get messageId(): string | null { return this.f.messageId; }
  get references(): readonly string[] { return this.f.references; }
}

/** The messages SEARCH found as threading sees them (those gone from the store meanwhile left out). */
export async function threadInput(mailbox: Mailbox, hits: readonly Hit[], uid: boolean): Promise<ThreadMessage[]> {
  const facts = await messageFacts(mailbox, hits.map((h) => h.info));
  const msgs: ThreadMessage[] = [];
  hits.forEach((h, i) => {
    const f = facts[i];
    if (!f) return;
    msgs.push(new Item(uid ? h.info.uid : h.index + 1, h.index + 1, sentDate(h.info, f), f));
  });
  return msgs;
}

/**
 * REFERENCES over the messages SEARCH found: from the store's key columns when it has them (IDs as
 * numbers, dates from the records: no object or string per message), the base subjects then asked for
 * the top-level threads' messages only; else from per-message facts.
 */
export async function referencesTree(mailbox: Mailbox, hits: readonly Hit[], uid: boolean): Promise<ThreadTree> {
  let ascending = true;
  for (let i = 1; i < hits.length && ascending; i++) if (hits[i]!.index <= hits[i - 1]!.index) ascending = false;
  if (!mailbox.keyColumns || !ascending) return threadReferences(await threadInput(mailbox, hits, uid));
  const uids: number[] = [];
  for (const h of hits) uids.push(h.info.uid);
  const kc = await mailbox.keyColumns(uids, { threading: true });
  let m = 0;
  for (let i = 0; i < hits.length; i++) m += kc.exists[i]!;
  const shown = new Float64Array(m);
  const seq = new Uint32Array(m);
  const date = new Float64Array(m);
  const messageId = new Int32Array(m);
  const refStart = new Uint32Array(m + 1);
  const infos: MessageInfo[] = [];
  let total = 0;
  for (let i = 0; i < hits.length; i++) if (kc.exists[i]) total += Math.abs(referenceCount(kc, i));
  const refs = new Int32Array(total);
  let j = 0;
  let k = 0;
  for (let i = 0; i < hits.length; i++) {
    if (!kc.exists[i]) continue;
    const h = hits[i]!;
    infos.push(h.info);
    shown[j] = uid ? h.info.uid : h.index + 1;
    seq[j] = h.index + 1;
    const d = kc.sentDate[i]!;
    date[j] = Number.isNaN(d) ? h.info.internalDate.getTime() : d;
    messageId[j] = kc.messageId[i]!;
    refStart[j] = k;
    const r = referenceCount(kc, i);
    if (r < 0) refs[k++] = kc.inReplyTo[i]!;
    else for (let q = kc.refStart[i]!, e = q + r; q < e; q++) refs[k++] = kc.refs[q]!;
    j++;
  }
  refStart[m] = k;
  const forest = referencesForest({ count: m, shown, seq, date, messageId, refStart, refs, idLimit: kc.idLimit });
  // Base subjects of the top-level threads' messages, as numbers the store keeps (a message gone
  // meanwhile: no subject to gather by).
  const leads = Int32Array.from(forest.leads).sort(); // asked in UID order (the index's order)
  const leadUids: number[] = [];
  for (const l of leads) leadUids.push(infos[l]!.uid);
  const sc = await mailbox.keyColumns(leadUids, { subjects: true });
  const at = new Int32Array(m).fill(-1); // a lead's place in `sc` (only leads are asked about)
  for (let i = 0; i < leads.length; i++) at[leads[i]!] = i;
  return forest.finish((i) => (sc.exists[at[i]!] ? sc.subject[at[i]!]! : -1), (i) => sc.replyOrForward[at[i]!] === 1);
}

export async function thread(s: ImapSession, c: Command): Promise<Result> {
  const sel = requireSelected(s);
  const a = c.args;
  a.sp();
  const algorithm = a.atom().toUpperCase();
  if (!(THREAD_ALGORITHMS as readonly string[]).includes(algorithm)) throw new ParseError(`Unknown thread algorithm ${algorithm}`);
  a.sp();
  const r = await charsetAndSearch(s, a);
  if (!r) return no(BADCHARSET);
  const roots = algorithm === 'REFERENCES' ? await referencesTree(sel.mailbox, r.hits, c.uid) : threadOrderedSubject(await threadInput(sel.mailbox, r.hits, c.uid));
  s.untagged(`THREAD ${formatThreads(roots)}`.trimEnd());
  return ok(`${c.uid ? 'UID ' : ''}THREAD completed`);
}
