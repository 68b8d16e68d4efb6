// STORE / UID STORE: [+|-]FLAGS[.SILENT] with a list or bare flags, and RFC 7162's (UNCHANGEDSINCE n).
// Messages another session expunged (still in this client's view until it is told) are a silent no-op
// (RFC 2180 §4.2.1, as Dovecot): the STORE succeeds for the others.
import type { StoreMode } from '../../store/types.js';
import type { Command, ImapSession } from '../session.js';
import { ParseError } from '../args.js';
import { formatSet } from '../sequence.js';
import { no, ok, type Result } from '../result.js';
import { requireSelected, resolveSet } from './helpers.js';
import { normaliseFlags } from '../flags.js';

export async function store(s: ImapSession, c: Command): Promise<Result> {
  const sel = requireSelected(s);
  const a = c.args;
  a.sp();
  const set = a.sequenceSet();
  a.sp();
  let unchangedSince: number | undefined;
  const modifiers = () => a.list(() => {
    const m = a.atom().toUpperCase();
    if (m !== 'UNCHANGEDSINCE' || unchangedSince !== undefined) throw new ParseError(`Invalid STORE modifier ${m}`);
    a.sp();
    unchangedSince = a.modseq(true);
  });
  if (a.peek() === '(') {
    modifiers();
    a.sp();
  }
  const item = a.atom().toUpperCase();
  const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(item);
  if (!m) throw new ParseError(`Invalid STORE item ${item}`);
  const mode: StoreMode = m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'replace';
  const silent = !!m[2];
  a.sp();
  let flags: string[] = [];
  if (a.peek() === '(') {
    a.list(() => flags.push(a.flag()));
    // imapflow (1.x) sends the modifiers after the flag list: `STORE 1 +FLAGS (\Seen) (UNCHANGEDSINCE 5)`.
    // After a parenthesised list that is unambiguous, so it is accepted there too.
    if (!a.atEnd && unchangedSince === undefined) {
      a.sp();
      modifiers();
    }
  } else {
    for (;;) {
      flags.push(a.flag());
      if (a.atEnd) break;
      a.sp();
    }
  }
  a.end();
  if (flags.includes('\\*')) throw new ParseError('Invalid flag \\*');
  flags = normaliseFlags(flags.filter((f) => f.toLowerCase() !== '\\recent'));
  const idx = resolveSet(sel, set, c.uid);
  if (unchangedSince !== undefined) s.enableCondstore();
  if (sel.readOnly) return no('[READ-ONLY] Mailbox is read-only');
  const live = idx.filter((i) => sel.exists(i));
  const uids = live.map((i) => sel.view[i]!.uid);
  let modified = new Set<number>();
  if (uids.length) {
    const r = await sel.mailbox.setFlags(uids, mode, flags, unchangedSince);
    if (r.modified?.length) modified = new Set(r.modified);
  }
  const failed: number[] = [];
  for (const i of live) {
    const e = sel.view[i]!;
    if (modified.has(e.uid)) {
      failed.push(c.uid ? e.uid : i + 1);
      continue;
    }
    const info = sel.info(e.uid);
    if (!info) continue; // expunged by someone else meanwhile: nothing to change, nothing to say
    const before = e.info;
    if (!silent) {
      for (const l of sel.announce(info.flags)) s.line(l);
      sel.told(i, info);
      // Under CONDSTORE every untagged FETCH carries UID and MODSEQ (RFC 7162 §3.1); otherwise the
      // plain RFC 3501 form, with UID for UID STORE.
      if (s.enabled.condstore) s.line(sel.flagsFetch(i, info));
      else s.untagged(`${i + 1} FETCH (FLAGS ${sel.flagsOf(info)}${c.uid ? ` UID ${e.uid}` : ''})`);
    } else if (s.enabled.condstore && info.modseq !== before.modseq) {
      // RFC 7162 §3.1.3: even .SILENT reports the new mod-sequence of a changed message.
      sel.modseqSent = true;
      s.untagged(`${i + 1} FETCH (UID ${info.uid} MODSEQ (${info.modseq}))`);
      // The client knows the modseq now; flags it set itself need no echo.
      if (flagsKnown(before.flags, info.flags, mode, flags)) sel.told(i, info);
    } else if (flagsKnown(before.flags, info.flags, mode, flags)) {
      sel.told(i, info);
    }
    await s.drainIfBusy();
  }
  if (failed.length) {
    failed.sort((x, y) => x - y);
    return ok(`[MODIFIED ${formatSet(failed)}] Conditional STORE failed`);
  }
  return ok(`${c.uid ? 'UID ' : ''}STORE completed`);
}

/** After a .SILENT STORE the client knows the result when it is exactly what it asked for (nobody
 *  else changed the message's flags in between); otherwise the update pass tells it. */
function flagsKnown(before: ReadonlySet<string>, now: ReadonlySet<string>, mode: StoreMode, flags: readonly string[]): boolean {
  const expect = new Set(mode === 'replace' ? [] : before);
  if (mode === 'remove') for (const f of flags) expect.delete(f);
  else for (const f of flags) expect.add(f);
  if (expect.size !== now.size) return false;
  for (const f of expect) if (!now.has(f)) return false;
  return true;
}
