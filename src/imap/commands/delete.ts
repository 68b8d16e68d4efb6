// DELETE. Also of the folder this session has selected, as Dovecot allows: the next command's refresh
// finds it gone and the session ends with BYE (ImapSession.sendUpdates).
import type { Command, ImapSession } from '../session.js';
import { no, ok, type Result } from '../result.js';
import { mailboxArg } from './helpers.js';

export async function deleteMailbox(s: ImapSession, c: Command): Promise<Result> {
  c.args.sp();
  const name = mailboxArg(c.args, { allowTrailingDelimiter: true });
  c.args.end();
  if (name === 'INBOX') return no('[CANNOT] INBOX cannot be deleted');
  await s.store.delete(name);
  if (s.selected?.name === name) s.selected.removedHere = true;
  return ok('DELETE completed');
}
