import type { Command, ImapSession } from '../session.js';
import { ParseError } from '../args.js';
import { mailboxString } from '../wire.js';
import { ok, type Result } from '../result.js';
import { mailboxArg } from './helpers.js';

const ITEMS = ['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'SIZE', 'HIGHESTMODSEQ'] as const;
type Item = (typeof ITEMS)[number];

export async function status(s: ImapSession, c: Command): Promise<Result> {
  const a = c.args;
  a.sp();
  const name = mailboxArg(a);
  a.sp();
  const items: Item[] = [];
  a.list(() => {
    const it = a.atom().toUpperCase();
    if (!(ITEMS as readonly string[]).includes(it)) throw new ParseError(`Unknown STATUS item ${it}`);
    items.push(it as Item);
  });
  a.end();
  if (!items.length) throw new ParseError('Empty STATUS item list');
  if (items.includes('HIGHESTMODSEQ')) s.enableCondstore(); // RFC 7162 §3.1
  const st = await s.store.status(name);
  const values: Record<Item, number> = {
    MESSAGES: st.messages, RECENT: st.recent, UIDNEXT: st.uidNext, UIDVALIDITY: st.uidValidity,
    UNSEEN: st.unseen, SIZE: st.size, HIGHESTMODSEQ: st.highestModseq,
  };
  s.untagged(`STATUS ${mailboxString(name)} (${items.map((i) => `${i} ${values[i]}`).join(' ')})`);
  return ok('STATUS completed');
}
