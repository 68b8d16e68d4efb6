// The selected mailbox as this client knows it: the sequence of UIDs and the flags it was last told.
// After each command the store's current state is diffed against this view to produce the untagged
// EXPUNGE / EXISTS / RECENT / FETCH FLAGS updates (the tracker role in go-imap v2). While EXPUNGE may not
// be sent (during FETCH, STORE, SEARCH: RFC 3501 §7.4.1) vanished messages stay in the view, marked gone,
// so sequence numbers do not shift under the client.

import type { Mailbox, MailboxState, MessageInfo } from '../store/types.js';
import { flagList } from './wire.js';

export interface ViewEntry {
  uid: number;
  flags: ReadonlySet<string>;
  gone: boolean;
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
  readonly uidValidity: number;

  constructor(
    readonly mailbox: Mailbox,
    readonly readOnly: boolean,
    readonly name: string,
  ) {
    const st = mailbox.state;
    const msgs = st.messages;
    const view: ViewEntry[] = new Array(msgs.length);
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]!;
      view[i] = { uid: m.uid, flags: m.flags, gone: false };
    }
    this.view = view;
    this.recentSent = countRecent(msgs);
    this.uidValidity = st.uidValidity;
    this.synced = st;
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

  get uids(): number[] {
    return this.view.map((v) => v.uid);
  }

  /** The client now knows these flags for the message at view index i (after a FETCH FLAGS). */
  told(i: number, flags: ReadonlySet<string>): void {
    const e = this.view[i];
    if (e) e.flags = flags;
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
      const uid = this.view[i]!.uid;
      while (j < msgs.length && msgs[j]!.uid < uid) j++;
      const m = j < msgs.length && msgs[j]!.uid === uid ? msgs[j] : undefined;
      infos[i] = m;
      if (!m) anyGone = true;
    }
    if (allowExpunge) {
      // Announced high-to-low, so each number is still valid when the client applies them in order;
      // the view is rebuilt in one pass (splicing one by one is quadratic on a mass expunge).
      if (anyGone) {
        for (let i = this.view.length - 1; i >= 0; i--) {
          if (!infos[i]) lines.push(`* ${i + 1} EXPUNGE`);
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
      if (info && !sameFlags(info.flags, e.flags)) {
        e.flags = info.flags;
        lines.push(`* ${i + 1} FETCH (UID ${e.uid} FLAGS ${flagList(info.flags, info.recent)})`);
      }
    }
    const maxUid = this.view.length ? this.view[this.view.length - 1]!.uid : 0;
    let added = 0;
    for (const m of msgs) {
      if (m.uid > maxUid) {
        this.view.push({ uid: m.uid, flags: m.flags, gone: false });
        added++;
      }
    }
    const recent = countRecent(msgs);
    if (added > 0) lines.push(`* ${this.view.length} EXISTS`);
    if (added > 0 || recent !== this.recentSent) {
      lines.push(`* ${recent} RECENT`);
      this.recentSent = recent;
    }
    this.synced = pendingGone ? null : st;
    return lines;
  }
}
