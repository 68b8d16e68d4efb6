// The selected mailbox as this client knows it: the sequence of UIDs, and for each message the info
// (flags, mod-sequence, size, date) it was last told. After each command the store's current state is
// diffed against this view to produce the untagged EXPUNGE (or VANISHED) / EXISTS / RECENT / FETCH FLAGS
// updates (the tracker role in go-imap v2). While EXPUNGE may not be sent (during FETCH, STORE, SEARCH:
// RFC 3501 §7.4.1) vanished messages stay in the view, marked gone, so sequence numbers do not shift
// under the client, and the session keeps working on them: FETCH answers from the info kept here and
// the bytes the store keeps until this handle acknowledges (mailbox.acknowledge), STORE ignores them.
//
// Keywords: a FETCH response may only name a keyword the client was told of in an untagged FLAGS
// (RFC 3501 §7.2.6), so the tracker remembers what it announced and produces a new FLAGS and
// PERMANENTFLAGS before the first response that names another one.

import type { Mailbox, MailboxState, MessageInfo } from '../store/types.js';
import { SYSTEM_FLAGS } from './flags.js';
import { formatSet } from './sequence.js';
import { flagList } from './wire.js';

export interface ViewEntry {
  uid: number;
  /** The message as the client was last told of it: its flags and mod-sequence are what the client
   *  knows; size and date never change. For a message expunged by someone else but still in this
   *  view, this is what FETCH answers with. */
  info: MessageInfo;
  gone: boolean;
}

/** What the session enabled (RFC 7162): the tracker's output depends on it. */
export interface TrackerMode {
  condstore: boolean;
  qresync: boolean;
  /** RFC 9051 (ENABLE IMAP4rev2): no \Recent flag in FETCH FLAGS and no RECENT response. */
  imap4rev2?: boolean;
}

function sameFlags(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a === b) return true; // the store replaces a message's set when it changes
  if (a.size !== b.size) return false;
  for (const f of a) if (!b.has(f)) return false;
  return true;
}

function countRecent(msgs: readonly MessageInfo[]): number {
  let n = 0;
  for (const m of msgs) if (m.recent) n++;
  return n;
}

export class Selected {
  view: ViewEntry[];
  private recentSent: number;
  /** The store state the view was last brought fully up to date with (no entry marked gone): while
   *  mailbox.state is still this object, there is nothing to announce. */
  private synced: MailboxState | null;
  /** The last state passed to mailbox.acknowledge. */
  private acked: MailboxState | null = null;
  /** HIGHESTMODSEQ of the newest state the client was told everything of: a safe resync point
   *  while expunges are still pending (RFC 7162 §3.2). */
  inStepModseq: number;
  /** This session deleted or renamed the mailbox itself: the command still completes with OK, and the
   *  next one finds it gone (Dovecot's order). */
  removedHere = false;
  /** A MODSEQ went out since the last update pass (see ImapSession.sendUpdates). */
  modseqSent = false;
  /** Keywords the client was told of in an untagged FLAGS. */
  private readonly keywords = new Set<string>();
  readonly uidValidity: number;
  /** Messages with \\Recent in the state the mailbox was selected with (SELECT's RECENT). */
  readonly recentAtOpen: number;

  constructor(
    readonly mailbox: Mailbox,
    readonly readOnly: boolean,
    readonly name: string,
    readonly mode: TrackerMode = { condstore: false, qresync: false },
  ) {
    const st = mailbox.state;
    const msgs = st.messages;
    for (const k of st.keywords) this.keywords.add(k);
    // One pass (it runs cold in each new process): the view, the \Recent count, and the keywords in use
    // but missing from the mailbox's list (another program set them). Stores often share one flag set
    // between neighbours, so a set equal by identity to the previous one is skipped.
    const view: ViewEntry[] = new Array(msgs.length);
    let recent = 0;
    let prev: ReadonlySet<string> | null = null;
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]!;
      view[i] = { uid: m.uid, info: m, gone: false };
      if (m.recent) recent++;
      const f = m.flags;
      if (f === prev || f.size === 0) continue;
      prev = f;
      for (const k of f) if (k.charCodeAt(0) !== 0x5c) this.keywords.add(k);
    }
    this.view = view;
    this.recentSent = recent;
    this.recentAtOpen = recent;
    this.uidValidity = st.uidValidity;
    this.synced = st;
    this.inStepModseq = st.highestModseq;
  }

  /** Current store info of a UID (undefined once it is expunged). The store keeps messages in
   *  ascending UID order, so a binary search needs no per-state map. */
  info(uid: number): MessageInfo | undefined {
    const msgs = this.mailbox.state.messages;
    let lo = 0;
    let hi = msgs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const m = msgs[mid]!;
      if (m.uid === uid) return m;
      if (m.uid < uid) lo = mid + 1; else hi = mid - 1;
    }
    return undefined;
  }

  /** What this session answers for view entry i: the store's current info, or, for a message
   *  someone else expunged that the client was not told of yet, the info it last had. */
  current(i: number): MessageInfo {
    const e = this.view[i]!;
    return (e.gone ? undefined : this.info(e.uid)) ?? e.info;
  }

  /** current(i) for every view entry, in one walk of the store's messages in UID order (a binary
   *  search only for an entry out of order): SEARCH ALL over 100k messages searches nothing. */
  currentAll(): MessageInfo[] {
    const msgs = this.mailbox.state.messages;
    const out: MessageInfo[] = [];
    let j = 0;
    let top = -1; // the largest UID walked to
    for (let i = 0; i < this.view.length; i++) {
      const e = this.view[i]!;
      let m: MessageInfo | undefined;
      if (e.gone) m = undefined;
      else if (e.uid > top) {
        while (j < msgs.length && msgs[j]!.uid < e.uid) j++;
        m = j < msgs.length && msgs[j]!.uid === e.uid ? msgs[j] : undefined;
        top = e.uid;
      } else m = this.info(e.uid);
      out.push(m ?? e.info);
    }
    return out;
  }

  /** Whether view entry i is still in the mailbox (not expunged by anyone). */
  exists(i: number): boolean {
    const e = this.view[i]!;
    return !e.gone && this.info(e.uid) !== undefined;
  }

  get uids(): number[] {
    return this.view.map((v) => v.uid);
  }

  /** The client now knows this info (flags, mod-sequence) for the message at view index i. */
  told(i: number, info: MessageInfo): void {
    const e = this.view[i];
    if (e) e.info = info;
  }

  /** The untagged FLAGS and PERMANENTFLAGS of this mailbox (SELECT, and when a keyword appears). */
  flagLines(): string[] {
    const kw = this.keywords.size ? ' ' + [...this.keywords].join(' ') : '';
    const sys = SYSTEM_FLAGS.join(' ');
    return [
      `* FLAGS (${sys}${kw})`,
      this.readOnly ? '* OK [PERMANENTFLAGS ()] No permanent flags permitted' : `* OK [PERMANENTFLAGS (\\* ${sys}${kw})] Permanent flags`,
    ];
  }

  /** Lines to send before a response naming `flags`: a new FLAGS/PERMANENTFLAGS when one of them is a
   *  keyword the client has not been told of (RFC 3501 §7.2.6); none otherwise. */
  announce(flags: Iterable<string>): string[] {
    let added = false;
    for (const f of flags) {
      if (f.startsWith('\\') || this.keywords.has(f)) continue;
      this.keywords.add(f);
      added = true;
    }
    return added ? this.flagLines() : [];
  }

  /** A message's FLAGS as this session shows them: with \Recent, except under IMAP4rev2 (RFC 9051
   *  has no \Recent flag). */
  flagsOf(info: MessageInfo): string {
    return flagList(info.flags, info.recent && !this.mode.imap4rev2);
  }

  /** An untagged FETCH of flags for view index i (UID always; MODSEQ once CONDSTORE is enabled). */
  flagsFetch(i: number, info: MessageInfo): string {
    if (this.mode.condstore) this.modseqSent = true;
    const modseq = this.mode.condstore ? ` MODSEQ (${info.modseq})` : '';
    return `* ${i + 1} FETCH (UID ${info.uid} FLAGS ${this.flagsOf(info)}${modseq})`;
  }

  /** Whether the client must hear of a change from `told` to `now`. */
  private changed(told: MessageInfo, now: MessageInfo): boolean {
    if (told === now) return false;
    if (!sameFlags(told.flags, now.flags)) return true;
    return this.mode.condstore && told.modseq !== now.modseq;
  }

  /** True when no expunge is waiting to be announced. */
  get inStep(): boolean {
    return this.synced !== null && this.synced === this.mailbox.state;
  }

  /** Tell the store the client knows everything up to the current state (deferred removal), once per
   *  state. Only when no expunge is pending: the client may still FETCH a message it was not told of. */
  acknowledge(): void {
    const st = this.mailbox.state;
    if (!this.inStep || this.acked === st) return;
    this.acked = st;
    this.mailbox.acknowledge(st);
  }

  /** Untagged lines that bring the client up to date with mailbox.state. */
  updates(allowExpunge: boolean): string[] {
    const st = this.mailbox.state;
    // Unchanged since the view was last in step (e.g. right after SELECT, or a refresh that found the
    // mailbox current): no EXPUNGE, FETCH, EXISTS or RECENT to compute. FETCH/STORE only ever tell the
    // client flags of the current state, so they cannot put the view out of step with it.
    if (st === this.synced) return [];
    const lines: string[] = [];
    const msgs = st.messages;
    // Both the view and the store's messages ascend by UID: one merge walk pairs each view entry with
    // its current info (or finds it gone) without a set or map of 100k UIDs.
    const infos: (MessageInfo | undefined)[] = new Array(this.view.length);
    let j = 0;
    let anyGone = false;
    for (let i = 0; i < this.view.length; i++) {
      const e = this.view[i]!;
      while (j < msgs.length && msgs[j]!.uid < e.uid) j++;
      const m = !e.gone && j < msgs.length && msgs[j]!.uid === e.uid ? msgs[j] : undefined;
      infos[i] = m;
      if (!m) anyGone = true;
    }
    if (allowExpunge) {
      if (anyGone) {
        if (this.mode.qresync) {
          // RFC 7162 §3.2.10: one VANISHED with the UIDs instead of an EXPUNGE per message.
          const uids: number[] = [];
          for (let i = 0; i < this.view.length; i++) if (!infos[i]) uids.push(this.view[i]!.uid);
          lines.push(`* VANISHED ${formatSet(uids)}`);
        } else {
          // Announced high-to-low, so each number is still valid when the client applies them in
          // order; the view is rebuilt in one pass (splicing one by one is quadratic on a mass expunge).
          for (let i = this.view.length - 1; i >= 0; i--) {
            if (!infos[i]) lines.push(`* ${i + 1} EXPUNGE`);
          }
        }
        const view: ViewEntry[] = [];
        const kept: MessageInfo[] = [];
        for (let i = 0; i < this.view.length; i++) {
          const info = infos[i];
          if (info) { view.push(this.view[i]!); kept.push(info); }
        }
        this.view = view;
        for (let i = 0; i < kept.length; i++) infos[i] = kept[i];
        infos.length = kept.length;
      }
    } else if (anyGone) {
      for (let i = 0; i < this.view.length; i++) if (!infos[i]) this.view[i]!.gone = true;
    }
    let pendingGone = false;
    for (let i = 0; i < this.view.length; i++) {
      const e = this.view[i]!;
      if (e.gone) { pendingGone = true; continue; }
      const info = infos[i];
      if (info && this.changed(e.info, info)) {
        e.info = info;
        lines.push(...this.announce(info.flags));
        lines.push(this.flagsFetch(i, info));
      }
    }
    const maxUid = this.view.length ? this.view[this.view.length - 1]!.uid : 0;
    let added = 0;
    for (const m of msgs) {
      if (m.uid > maxUid) {
        this.view.push({ uid: m.uid, info: m, gone: false });
        added++;
      }
    }
    const recent = countRecent(msgs);
    if (added > 0) lines.push(`* ${this.view.length} EXISTS`);
    if ((added > 0 || recent !== this.recentSent) && !this.mode.imap4rev2) {
      lines.push(`* ${recent} RECENT`);
      this.recentSent = recent;
    }
    if (pendingGone) {
      this.synced = null;
    } else {
      this.synced = st;
      this.inStepModseq = st.highestModseq;
    }
    return lines;
  }
}
