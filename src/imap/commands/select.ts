// SELECT and EXAMINE, with the response UW/DMail gives (reference §6.1), and RFC 7162's parameters:
// (CONDSTORE) and, once QRESYNC is enabled, (QRESYNC (uidvalidity modseq [known-uids [seq-match]])).
// Under IMAP4rev2 (RFC 9051 §6.3.2) the response has no RECENT and no UNSEEN code, and a LIST.
import type { Command, ImapSession } from '../session.js';
import { highestModseqCode } from '../session.js';
import { Selected } from '../selected.js';
import { ParseError, type Args } from '../args.js';
import { parseSequenceSet, rangeTest, type SeqRange } from '../sequence.js';
import { matchedFloor, vanishedSince } from '../qresync.js';
import { ok, type Result } from '../result.js';
import { mailboxArg } from './helpers.js';
import { listLineOf } from './list.js';

interface QresyncParam {
  uidValidity: number;
  modseq: number;
  known: SeqRange[] | null;
  seqMatch: { seqs: SeqRange[]; uids: SeqRange[] } | null;
}

function parseQresync(a: Args): QresyncParam {
  a.expect('(');
  const uidValidity = a.number();
  if (uidValidity === 0) throw new ParseError('Invalid UIDVALIDITY');
  a.sp();
  const modseq = a.modseq();
  let known: SeqRange[] | null = null;
  let seqMatch: QresyncParam['seqMatch'] = null;
  if (a.eat(' ')) {
    if (a.peek() !== '(') {
      known = parseSequenceSet(a.sequenceSet());
      if (a.eat(' ') && a.peek() !== '(') throw new ParseError('Expected sequence match data');
    }
    if (a.eat('(')) {
      const seqs = parseSequenceSet(a.sequenceSet());
      a.sp();
      const uids = parseSequenceSet(a.sequenceSet());
      a.expect(')');
      seqMatch = { seqs, uids };
    }
  }
  a.expect(')');
  return { uidValidity, modseq, known, seqMatch };
}

export async function select(s: ImapSession, c: Command): Promise<Result> {
  const a = c.args;
  a.sp();
  const name = mailboxArg(a);
  let condstore = false;
  let qresync: QresyncParam | null = null;
  if (!a.atEnd) {
    a.sp();
    a.list(() => {
      const p = a.atom().toUpperCase();
      if (p === 'CONDSTORE') condstore = true;
      else if (p === 'QRESYNC') {
        // RFC 7162 §3.2.5: only after ENABLE QRESYNC.
        if (!s.enabled.qresync) throw new ParseError('QRESYNC parameter needs ENABLE QRESYNC first');
        if (qresync) throw new ParseError('QRESYNC given twice');
        a.sp();
        qresync = parseQresync(a);
      } else throw new ParseError(`Unknown ${c.name} parameter ${p}`);
    });
  }
  a.end();
  const examine = c.name === 'EXAMINE';
  // RFC 3501: a failed SELECT leaves no mailbox selected, so close the old one first; RFC 7162 §3.2.11:
  // [CLOSED] marks where the old mailbox's responses end.
  const had = s.selected !== null;
  await s.closeSelected();
  if (had && (s.enabled.condstore || s.enabled.qresync || s.enabled.imap4rev2)) s.untagged('OK [CLOSED] Previous mailbox closed.');
  if (condstore) s.enableCondstore();
  const mb = await s.store.open(name, { readOnly: examine, claimRecent: !examine });
  const sel = new Selected(mb, examine || mb.readOnly, name, s.enabled);
  s.selected = sel;
  s.state = 'selected';
  const st = mb.state;
  // IMAP4rev2 (RFC 9051 §6.3.2): no RECENT and no UNSEEN code, but a LIST response for the mailbox.
  const rev2 = s.enabled.imap4rev2 === true;
  s.untagged(`${st.messages.length} EXISTS`);
  if (!rev2) s.untagged(`${sel.recentAtOpen} RECENT`);
  s.untagged(`OK [UIDVALIDITY ${st.uidValidity}] UID validity status`);
  s.untagged(`OK [UIDNEXT ${st.uidNext}] Predicted next UID`);
  for (const l of sel.flagLines()) s.line(l);
  if (rev2) {
    s.untagged(await listLineOf(s, name));
  } else {
    const unseen = st.messages.findIndex((m) => !m.flags.has('\\Seen'));
    if (unseen >= 0) s.untagged(`OK [UNSEEN ${unseen + 1}] ${unseen + 1} is first unseen message in ${name}`);
  }
  if (s.enabled.condstore) s.untagged(highestModseqCode(st.highestModseq, 'Highest'));
  const q = qresync as QresyncParam | null;
  if (q && q.uidValidity === st.uidValidity) await resync(s, sel, q);
  return ok(`[${sel.readOnly ? 'READ-ONLY' : 'READ-WRITE'}] ${c.name} completed`);
}

/** RFC 7162 §3.2.5.1: what changed since the client's last sync, before the tagged OK: first the UIDs
 *  it must forget (VANISHED (EARLIER)), then the flags of messages changed since its mod-sequence. */
async function resync(s: ImapSession, sel: Selected, q: QresyncParam): Promise<void> {
  const msgs = sel.mailbox.state.messages;
  const floor = q.seqMatch ? matchedFloor(sel, q.seqMatch.seqs, q.seqMatch.uids) : 0;
  const gone = await vanishedSince(sel, q.modseq, q.known, floor);
  if (gone) s.untagged(`VANISHED (EARLIER) ${gone}`);
  const known = q.known ? rangeTest(q.known, Math.max(1, sel.mailbox.state.uidNext - 1)) : null;
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i]!;
    if (m.modseq <= q.modseq || (known && !known(m.uid))) continue;
    s.line(sel.flagsFetch(i, m));
    await s.drainIfBusy();
  }
}
