// EXPUNGE and UID EXPUNGE (RFC 4315): the EXPUNGE responses come from the dispatcher's update pass.
import type { Command, ImapSession } from '../session.js';
import { no, ok, type Result } from '../result.js';
import { requireSelected, resolveSet } from './helpers.js';

export async function expunge(s: ImapSession, c: Command): Promise<Result> {
  const sel = requireSelected(s);
  let uids: number[] | undefined;
  if (c.uid) {
    c.args.sp();
    const set = c.args.sequenceSet();
    c.args.end();
    uids = resolveSet(sel, set, true)
      .filter((i) => sel.exists(i) && sel.current(i).flags.has('\\Deleted'))
      .map((i) => sel.view[i]!.uid);
  } else {
    c.args.end();
  }
  if (sel.readOnly) return no('[READ-ONLY] Mailbox is read-only');
  if (uids === undefined) await sel.mailbox.expunge();
  else if (uids.length) await sel.mailbox.expunge(uids);
  // RFC 7162 §3.2: with QRESYNC the tagged OK carries the mailbox's HIGHESTMODSEQ after the expunge
  // (filled in by the dispatcher once the VANISHED responses are out).
  return { ...ok(`${c.uid ? 'UID ' : ''}EXPUNGE completed`), highestModseq: s.enabled.qresync };
}
