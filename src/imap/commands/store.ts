// STORE / UID STORE: [+|-]FLAGS[.SILENT] with a list or bare flags.
import type { StoreMode } from '../../store/types.js';
import type { Command, ImapSession } from '../session.js';
import { ParseError } from '../args.js';
import { flagList } from '../wire.js';
import { no, ok, type Result } from '../result.js';
import { requireSelected, resolveSet } from './helpers.js';
import { normaliseFlags } from './append.js';

export async function store(s: ImapSession, c: Command): Promise<Result> {
  const sel = requireSelected(s);
  const a = c.args;
  a.sp();
  const set = a.sequenceSet();
  a.sp();
  const item = a.atom().toUpperCase();
  const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(item);
  if (!m) throw new ParseError(`Invalid STORE item ${item}`);
  const mode: StoreMode = m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'replace';
  const silent = !!m[2];
  a.sp();
  let flags: string[] = [];
  if (a.peek() === '(') a.list(() => flags.push(a.flag()));
  else {
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
  if (sel.readOnly) return no('[READ-ONLY] Mailbox is read-only');
  const live = idx.filter((i) => !sel.view[i]!.gone);
  const uids = live.map((i) => sel.view[i]!.uid);
  if (uids.length) await sel.mailbox.setFlags(uids, mode, flags);
  let missing = live.length !== idx.length;
  for (const i of live) {
    const e = sel.view[i]!;
    const info = sel.info(e.uid);
    if (!info) {
      missing = true;
      continue;
    }
    sel.told(i, info.flags);
    if (!silent) {
      s.untagged(`${i + 1} FETCH (FLAGS ${flagList(info.flags, info.recent)}${c.uid ? ` UID ${e.uid}` : ''})`);
      await s.drainIfBusy();
    }
  }
  if (missing && !c.uid) return no('[EXPUNGEISSUED] Some of the requested messages no longer exist');
  return ok(`${c.uid ? 'UID ' : ''}STORE completed`);
}
