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
      .map((i) => sel.view[i]!)
      .filter((e) => !e.gone && sel.info(e.uid)?.flags.has('\\Deleted'))
      .map((e) => e.uid);
  } else {
    c.args.end();
  }
  if (sel.readOnly) return no('[READ-ONLY] Mailbox is read-only');
  if (uids === undefined) await sel.mailbox.expunge();
  else if (uids.length) await sel.mailbox.expunge(uids);
  return ok(`${c.uid ? 'UID ' : ''}EXPUNGE completed`);
}
