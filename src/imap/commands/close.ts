// CLOSE (expunge silently unless read-only) and UNSELECT (RFC 3691, never expunges).
import type { Command, ImapSession } from '../session.js';
import { ok, type Result } from '../result.js';
import { requireSelected } from './helpers.js';

export async function close(s: ImapSession, c: Command): Promise<Result> {
  c.args.end();
  const sel = requireSelected(s);
  if (c.name === 'CLOSE' && !sel.readOnly) await sel.mailbox.expunge();
  await s.closeSelected();
  return ok(`${c.name} completed`);
}
