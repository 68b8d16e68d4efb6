// APPEND (RFC 3501 §6.3.11) with UIDPLUS APPENDUID and the user_quota check.
import type { Command, ImapSession } from '../session.js';
import { ParseError } from '../args.js';
import { parseDateTime } from '../wire.js';
import { no, ok, type Result } from '../result.js';
import { mailboxArg, overQuota } from './helpers.js';
import { normaliseFlags } from '../flags.js';

export async function append(s: ImapSession, c: Command): Promise<Result> {
  const a = c.args;
  a.sp();
  const name = mailboxArg(a);
  a.sp();
  let flags: string[] = [];
  let date: Date | undefined;
  if (a.peek() === '(') {
    a.list(() => flags.push(a.flag()));
    a.sp();
  }
  if (a.peek() === '"') {
    const d = parseDateTime(a.stringBytes().toString('latin1'));
    if (!d) throw new ParseError('Invalid date-time');
    date = d;
    a.sp();
  }
  const message = a.stringBytes();
  a.end();
  if (flags.includes('\\*')) throw new ParseError('Invalid flag \\*');
  flags = flags.filter((f) => f.toLowerCase() !== '\\recent');
  if (message.length === 0) return no("Can't save a zero byte message");
  if (await overQuota(s)) return no('[OVERQUOTA] Quota exceeded');
  const r = await s.store.append(name, message, normaliseFlags(flags), date);
  return ok(`[APPENDUID ${r.uidValidity} ${r.uid}] APPEND completed`);
}
