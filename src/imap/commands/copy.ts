// COPY / MOVE (RFC 6851) and their UID forms, with UIDPLUS COPYUID and the user_quota check. Messages
// another session expunged (still in this client's view until it is told) are skipped without error,
// as STORE skips them: copying one would bring back what its owner deleted, and a MOVE of it has
// nothing left to move. COPYUID names what was copied.
import { StoreError } from '../../store/types.js';
import type { Command, ImapSession } from '../session.js';
import { formatSet } from '../sequence.js';
import { no, ok, type Result } from '../result.js';
import { mailboxArg, overQuota, requireSelected, resolveSet } from './helpers.js';

export async function copy(s: ImapSession, c: Command): Promise<Result> {
  const sel = requireSelected(s);
  const a = c.args;
  a.sp();
  const set = a.sequenceSet();
  a.sp();
  const dest = mailboxArg(a);
  a.end();
  const move = c.name === 'MOVE';
  const what = `${c.uid ? 'UID ' : ''}${c.name}`;
  const idx = resolveSet(sel, set, c.uid);
  if (move && sel.readOnly) return no('[READ-ONLY] Mailbox is read-only');
  // Re-read first: what another session expunged since this one last looked is skipped whether or not
  // this session had noticed yet (the store would otherwise copy the bytes it keeps for this view).
  // A mailbox gone meanwhile is left to the update pass (BYE), not answered as TRYCREATE.
  await sel.mailbox.refresh().catch((e: unknown) => {
    if (!(e instanceof StoreError && e.code === 'NONEXISTENT')) throw e;
  });
  const uids = idx.filter((i) => sel.exists(i)).map((i) => sel.view[i]!.uid);
  if (!uids.length) return ok(`${what} completed`);
  if (await overQuota(s)) return no('[OVERQUOTA] Quota exceeded');
  const r = await s.store.copy(sel.mailbox, uids, dest);
  const code = r.destUids.length ? `[COPYUID ${r.uidValidity} ${formatSet(r.sourceUids)} ${formatSet(r.destUids)}] ` : '';
  if (!move) return ok(`${code}${what} completed`);
  // RFC 6851: COPYUID goes in an untagged OK before the EXPUNGEs, which the update pass sends.
  if (code) s.untagged(`OK ${code}Moved`);
  if (r.sourceUids.length) await sel.mailbox.expunge(r.sourceUids);
  return ok(`${what} completed`);
}
