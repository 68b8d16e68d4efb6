// RENAME. Also of the folder this session has selected (as Dovecot): its handle then fails to refresh
// and the session ends with BYE; renaming INBOX leaves INBOX empty, seen as EXPUNGEs.
import type { Command, ImapSession } from '../session.js';
import { no, ok, type Result } from '../result.js';
import { mailboxArg } from './helpers.js';

export async function rename(s: ImapSession, c: Command): Promise<Result> {
  const a = c.args;
  a.sp();
  const from = mailboxArg(a);
  a.sp();
  const to = mailboxArg(a, { allowTrailingDelimiter: true, newName: true });
  a.end();
  if (to === 'INBOX') return no('[ALREADYEXISTS] INBOX already exists');
  if (from === to) return no('[ALREADYEXISTS] Mailbox already exists');
  await s.store.rename(from, to);
  if (s.selected?.name === from && from !== 'INBOX') s.selected.removedHere = true;
  return ok('RENAME completed');
}
