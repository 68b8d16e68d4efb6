import type { Command, ImapSession } from '../session.js';
import { no, ok, type Result } from '../result.js';
import { mailboxArg } from './helpers.js';

export async function rename(s: ImapSession, c: Command): Promise<Result> {
  const a = c.args;
  a.sp();
  const from = mailboxArg(a);
  a.sp();
  const to = mailboxArg(a, { allowTrailingDelimiter: true });
  a.end();
  if (to === 'INBOX') return no('[ALREADYEXISTS] INBOX already exists');
  if (from === to) return no('[ALREADYEXISTS] Mailbox already exists');
  if (s.selected && s.selected.name === from && from !== 'INBOX') return no('[INUSE] Mailbox is selected in this session');
  await s.store.rename(from, to);
  return ok('RENAME completed');
}
