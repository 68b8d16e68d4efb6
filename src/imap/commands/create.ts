// CREATE (RFC 3501 §6.3.3) with RFC 4466 create parameters: USE (RFC 6154 CREATE-SPECIAL-USE), the
// mailbox's special uses, kept by the store. A name with a LIST wildcard is refused (mailbox-name.ts).
import type { Command, ImapSession } from '../session.js';
import { canonicalSpecialUse } from '../../store/types.js';
import { ParseError } from '../args.js';
import { no, ok, type Result } from '../result.js';
import { mailboxArg } from './helpers.js';

export async function create(s: ImapSession, c: Command): Promise<Result> {
  const a = c.args;
  a.sp();
  const name = mailboxArg(a, { keepTrailingDelimiter: true, newName: true });
  let uses: string[] | undefined;
  if (!a.atEnd) {
    a.sp();
    // RFC 4466 create-params: at least one.
    if (a.peek() === '(' && a.text[a.pos + 1] === ')') throw new ParseError('Empty CREATE parameter list');
    a.list(() => {
      const param = a.atom().toUpperCase();
      if (param !== 'USE' || uses) throw new ParseError(param === 'USE' ? 'USE given twice' : `Unknown CREATE parameter ${param.slice(0, 40)}`);
      a.sp();
      const given: string[] = [];
      a.list(() => {
        if (a.peek() !== '\\') throw new ParseError('Expected a special-use attribute');
        given.push(a.flag());
      });
      uses = given;
    });
  }
  a.end();
  if (name === 'INBOX' || name === 'INBOX/') return no('[ALREADYEXISTS] Mailbox already exists');
  const specialUse: string[] = [];
  for (const u of uses ?? []) {
    const known = canonicalSpecialUse(u);
    // \All and \Flagged would be virtual mailboxes; anything else is not a use we know.
    if (!known) return no(`[USEATTR] ${u.slice(0, 40)} cannot be given to a mailbox here`);
    specialUse.push(known);
  }
  if (specialUse.length && name.endsWith('/')) return no('[USEATTR] A mailbox that holds only folders cannot have a special use');
  await s.store.create(name, specialUse.length ? { specialUse } : {});
  return ok('CREATE completed');
}
