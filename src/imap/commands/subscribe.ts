// SUBSCRIBE and UNSUBSCRIBE.
import type { Command, ImapSession } from '../session.js';
import { ok, type Result } from '../result.js';
import { mailboxArg } from './helpers.js';

export async function subscribe(s: ImapSession, c: Command): Promise<Result> {
  c.args.sp();
  const name = mailboxArg(c.args, { allowTrailingDelimiter: true });
  c.args.end();
  if (c.name === 'SUBSCRIBE') await s.store.subscribe(name);
  else await s.store.unsubscribe(name);
  return ok(`${c.name} completed`);
}
