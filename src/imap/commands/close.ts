// CLOSE (expunge silently unless read-only) and UNSELECT (RFC 3691, never expunges).
import type { Command, ImapSession } from '../session.js';
import { ok, type Result } from '../result.js';
import { requireSelected } from './helpers.js';

export async function close(s: ImapSession, c: Command): Promise<Result> {
  c.args.end();
  const sel = requireSelected(s);
  if (c.name === 'CLOSE' && !sel.readOnly) await sel.mailbox.expunge();
  // RFC 7162 §3.2: with QRESYNC, CLOSE reports the HIGHESTMODSEQ its expunge left.
  const modseq = s.enabled.qresync && c.name === 'CLOSE' ? sel.mailbox.state.highestModseq : 0;
  await s.closeSelected();
  return ok(`${modseq >= 1 ? `[HIGHESTMODSEQ ${modseq}] ` : ''}${c.name} completed`);
}
