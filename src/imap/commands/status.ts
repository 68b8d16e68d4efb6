// STATUS, and the STATUS responses of LIST-STATUS (RFC 5819: LIST ... RETURN (STATUS (...))), which are
// the same items answered the same way. SIZE (RFC 8438, STATUS=SIZE) and DELETED (RFC 9051) too.
import type { Command, ImapSession } from '../session.js';
import type { MailboxStatus } from '../../store/types.js';
import type { Args } from '../args.js';
import { ParseError } from '../args.js';
import { mailboxOut } from '../rev2.js';
import { ok, type Result } from '../result.js';
import { mailboxArg } from './helpers.js';

const ITEMS = ['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'SIZE', 'HIGHESTMODSEQ'] as const;
export type StatusItem = (typeof ITEMS)[number];

/** A parenthesised, non-empty list of STATUS items. */
export function parseStatusItems(a: Args): StatusItem[] {
  const items: StatusItem[] = [];
  a.list(() => {
    const it = a.atom().toUpperCase();
    if (!(ITEMS as readonly string[]).includes(it)) throw new ParseError(`Unknown STATUS item ${it.slice(0, 40)}`);
    if (!items.includes(it as StatusItem)) items.push(it as StatusItem);
  });
  if (!items.length) throw new ParseError('Empty STATUS item list');
  return items;
}

/** Before answering: HIGHESTMODSEQ is a CONDSTORE-enabling request (RFC 7162 §3.1). */
export function beforeStatus(s: ImapSession, items: readonly StatusItem[]): void {
  if (items.includes('HIGHESTMODSEQ')) s.enableCondstore();
}

/** The untagged STATUS response (without `* `) for one mailbox's status. */
/** `out`: the name as mailboxOut gives it, when the caller has it already (LIST-STATUS). */
export function statusResponse(s: ImapSession, name: string, st: MailboxStatus, items: readonly StatusItem[], out = mailboxOut(s, name)): string {
  let text = `STATUS ${out} (`;
  for (let i = 0; i < items.length; i++) text += `${i ? ' ' : ''}${items[i]} ${statusValue(st, items[i]!)}`;
  return text + ')';
}

function statusValue(st: MailboxStatus, item: StatusItem): number {
  switch (item) {
    case 'MESSAGES': return st.messages;
    case 'RECENT': return st.recent;
    case 'UIDNEXT': return st.uidNext;
    case 'UIDVALIDITY': return st.uidValidity;
    case 'UNSEEN': return st.unseen;
    case 'DELETED': return st.deleted;
    case 'SIZE': return st.size;
    case 'HIGHESTMODSEQ': return st.highestModseq;
  }
}

export async function status(s: ImapSession, c: Command): Promise<Result> {
  const a = c.args;
  a.sp();
  const name = mailboxArg(a);
  a.sp();
  const items = parseStatusItems(a);
  a.end();
  beforeStatus(s, items);
  s.untagged(statusResponse(s, name, await s.store.status(name), items));
  return ok('STATUS completed');
}
