// SELECT and EXAMINE, with the response UW/DMail gives (reference §6.1).
import type { Command, ImapSession } from '../session.js';
import { Selected } from '../selected.js';
import { ok, type Result } from '../result.js';
import { mailboxArg } from './helpers.js';

const SYSTEM_FLAGS = '\\Answered \\Flagged \\Deleted \\Draft \\Seen';

export async function select(s: ImapSession, c: Command): Promise<Result> {
  const a = c.args;
  a.sp();
  const name = mailboxArg(a);
  a.end();
  const examine = c.name === 'EXAMINE';
  // RFC 3501: a failed SELECT leaves no mailbox selected, so close the old one first.
  await s.closeSelected();
  const mb = await s.store.open(name, { readOnly: examine, claimRecent: !examine });
  const sel = new Selected(mb, examine || mb.readOnly, name);
  s.selected = sel;
  s.state = 'selected';
  const st = mb.state;
  const kw = st.keywords.length ? ' ' + st.keywords.join(' ') : '';
  s.untagged(`${st.messages.length} EXISTS`);
  let recent = 0;
  for (const m of st.messages) if (m.recent) recent++;
  s.untagged(`${recent} RECENT`);
  s.untagged(`OK [UIDVALIDITY ${st.uidValidity}] UID validity status`);
  s.untagged(`OK [UIDNEXT ${st.uidNext}] Predicted next UID`);
  s.untagged(`FLAGS (${SYSTEM_FLAGS}${kw})`);
  s.untagged(sel.readOnly ? 'OK [PERMANENTFLAGS ()] No permanent flags permitted' : `OK [PERMANENTFLAGS (\\* ${SYSTEM_FLAGS}${kw})] Permanent flags`);
  const unseen = st.messages.findIndex((m) => !m.flags.has('\\Seen'));
  if (unseen >= 0) s.untagged(`OK [UNSEEN ${unseen + 1}] ${unseen + 1} is first unseen message in ${name}`);
  return ok(`[${sel.readOnly ? 'READ-ONLY' : 'READ-WRITE'}] ${c.name} completed`);
}
