import type { Command, ImapSession } from '../session.js';
import { no, ok, type Result } from '../result.js';
import { mailboxArg } from './helpers.js';

export async function create(s: ImapSession, c: Command): Promise<Result> {
  c.args.sp();
  const name = mailboxArg(c.args, { keepTrailingDelimiter: true });
  c.args.end();
  if (name === 'INBOX' || name === 'INBOX/') return no('[ALREADYEXISTS] Mailbox already exists');
  await s.store.create(name);
  return ok('CREATE completed');
}
