import type { Command, ImapSession } from '../session.js';
import { no, ok, type Result } from '../result.js';
import { mailboxArg } from './helpers.js';

export async function deleteMailbox(s: ImapSession, c: Command): Promise<Result> {
  c.args.sp();
  const name = mailboxArg(c.args, { allowTrailingDelimiter: true });
  c.args.end();
  if (name === 'INBOX') return no('[CANNOT] INBOX cannot be deleted');
  if (s.selected?.name === name) return no('[INUSE] Mailbox is selected in this session');
  await s.store.delete(name);
  return ok('DELETE completed');
}
