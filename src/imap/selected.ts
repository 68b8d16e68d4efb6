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

export class Selected {
  view: ViewEntry[];
  private recentSent: number;
  private indexState: MailboxState | null = null;
  private byUid = new Map<number, MessageInfo>();
  readonly uidValidity: number;

  constructor(
    readonly mailbox: Mailbox,
    readonly readOnly: boolean,
    readonly name: string,
  ) {
    const st = mailbox.state;
    this.view = st.messages.map((m) => ({ uid: m.uid, flags: m.flags, gone: false }));
    this.recentSent = st.messages.filter((m) => m.recent).length;
    this.uidValidity = st.uidValidity;
  }

  /** Current store info of a UID (undefined once it is expunged). */
  info(uid: number): MessageInfo | undefined {
    const st = this.mailbox.state;
    if (st !== this.indexState) {
      this.byUid = new Map(st.messages.map((m) => [m.uid, m]));
      this.indexState = st;
    }
    return this.byUid.get(uid);
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
    const lines: string[] = [];
    const current = new Set(st.messages.map((m) => m.uid));
    if (allowExpunge) {
      // Announced high-to-low, so each number is still valid when the client applies them in order;
      // the view is rebuilt in one pass (splicing one by one is quadratic on a mass expunge).
      for (let i = this.view.length - 1; i >= 0; i--) {
        if (!current.has(this.view[i]!.uid)) lines.push(`* ${i + 1} EXPUNGE`);
      }
      if (lines.length) this.view = this.view.filter((e) => current.has(e.uid));
    } else {
      for (const e of this.view) if (!current.has(e.uid)) e.gone = true;
    }
    this.view.forEach((e, i) => {
      if (e.gone) return;
      const info = this.info(e.uid);
      if (info && !sameFlags(info.flags, e.flags)) {
        e.flags = info.flags;
        lines.push(`* ${i + 1} FETCH (UID ${e.uid} FLAGS ${flagList(info.flags, info.recent)})`);
      }
    });
    const maxUid = this.view.length ? this.view[this.view.length - 1]!.uid : 0;
    let added = 0;
    for (const m of st.messages) {
      if (m.uid > maxUid) {
        this.view.push({ uid: m.uid, flags: m.flags, gone: false });
        added++;
      }
    }
    const recent = st.messages.filter((m) => m.recent).length;
    if (added > 0) lines.push(`* ${this.view.length} EXISTS`);
    if (added > 0 || recent !== this.recentSent) {
      lines.push(`* ${recent} RECENT`);
      this.recentSent = recent;
    }
    return lines;
  }
}
