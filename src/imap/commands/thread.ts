// THREAD / UID THREAD (RFC 5256 §2.2, §4): ORDEREDSUBJECT and REFERENCES over the messages SEARCH
// finds.
import type { Command, ImapSession } from '../session.js';
import { ParseError } from '../args.js';
import { messageFacts, type SortFacts } from '../sort-keys.js';
import { sentDate } from '../sort.js';
import { formatThreads, threadOrderedSubject, threadReferences, type ThreadMessage } from '../thread.js';
import { no, ok, type Result } from '../result.js';
import { requireSelected } from './helpers.js';
import { BADCHARSET, charsetAndSearch } from './search.js';

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

export async function thread(s: ImapSession, c: Command): Promise<Result> {
  const sel = requireSelected(s);
  const a = c.args;
  a.sp();
  const algorithm = a.atom().toUpperCase();
  if (!(THREAD_ALGORITHMS as readonly string[]).includes(algorithm)) throw new ParseError(`Unknown thread algorithm ${algorithm}`);
  a.sp();
  const r = await charsetAndSearch(s, a);
  if (!r) return no(BADCHARSET);
  const facts = await messageFacts(sel.mailbox, r.hits.map((h) => h.info));
  const msgs: ThreadMessage[] = [];
  r.hits.forEach((h, i) => {
    const f = facts[i];
    if (!f) return;
    msgs.push(new Item(c.uid ? h.info.uid : h.index + 1, h.index + 1, sentDate(h.info, f), f));
  });
  const roots = algorithm === 'REFERENCES' ? threadReferences(msgs) : threadOrderedSubject(msgs);
  s.untagged(`THREAD ${formatThreads(roots)}`.trimEnd());
  return ok(`${c.uid ? 'UID ' : ''}THREAD completed`);
}
