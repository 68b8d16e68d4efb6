// THREAD / UID THREAD (RFC 5256 §2.2, §4): ORDEREDSUBJECT and REFERENCES over the messages SEARCH
// finds.
import type { Command, ImapSession } from '../session.js';
import { ParseError } from '../args.js';
import { messageFacts } from '../sort-keys.js';
import { sentDate } from '../sort.js';
import { formatThreads, threadOrderedSubject, threadReferences, type ThreadMessage } from '../thread.js';
import { no, ok, type Result } from '../result.js';
import { requireSelected } from './helpers.js';
import { BADCHARSET, charsetAndSearch } from './search.js';

export const THREAD_ALGORITHMS = ['ORDEREDSUBJECT', 'REFERENCES'] as const;

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
    msgs.push({
      n: c.uid ? h.info.uid : h.index + 1,
      seq: h.index + 1,
      date: sentDate(h.info, f),
      subjectKey: f.subjectKey,
      replyOrForward: f.replyOrForward,
      messageId: f.messageId,
      references: f.references,
    });
  });
  const roots = algorithm === 'REFERENCES' ? threadReferences(msgs) : threadOrderedSubject(msgs);
  s.untagged(`THREAD ${formatThreads(roots)}`.trimEnd());
  return ok(`${c.uid ? 'UID ' : ''}THREAD completed`);
}
