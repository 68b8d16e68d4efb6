// The maildrop as one POP3 session sees it: a snapshot of INBOX taken at login, message numbers 1..n
// fixed for the session (RFC 1939), deletion marks that only QUIT carries out. Mail that arrives later
// is not in the snapshot, so it is neither shown nor touched, and waits for the next session.

import type { MessageInfo } from '../store/types.js';
import { assignUidls } from './uidl.js';

export class Maildrop {
  private readonly deleted = new Set<number>();
  private readonly retrieved = new Set<number>();
  private readonly uidls: readonly string[];
  /** Highest message number retrieved (RFC 1460 LAST); RSET puts it back to 0. */
  last = 0;

  constructor(
    readonly uidValidity: number,
    private readonly messages: readonly MessageInfo[],
  ) {
    this.uidls = assignUidls(uidValidity, messages);
  }

  /** Messages in the snapshot, deleted or not (the range of valid message numbers). */
  get size(): number {
    return this.messages.length;
  }

  /** The message with number n (1-based), whether or not it is marked deleted. */
  message(n: number): MessageInfo | undefined {
    return Number.isInteger(n) && n >= 1 ? this.messages[n - 1] : undefined;
  }

  uidl(n: number): string {
    return this.uidls[n - 1]!;
  }

  isDeleted(n: number): boolean {
    return this.deleted.has(n);
  }

  markDeleted(n: number): void {
    this.deleted.add(n);
  }

  markRetrieved(n: number): void {
    this.retrieved.add(n);
    if (n > this.last) this.last = n;
  }

  reset(): void {
    this.deleted.clear();
    this.last = 0;
  }

  /** Message count and octets of the messages not marked deleted (STAT, and the PASS reply). */
  stat(): { count: number; octets: number } {
    let count = 0;
    let octets = 0;
    this.messages.forEach((m, i) => {
      if (!this.deleted.has(i + 1)) {
        count++;
        octets += m.size;
      }
    });
    return { count, octets };
  }

  /** Numbers of the messages not marked deleted, ascending. */
  *live(): Generator<number> {
    for (let n = 1; n <= this.messages.length; n++) if (!this.deleted.has(n)) yield n;
  }

  deletedUids(): number[] {
    return [...this.deleted].sort((a, b) => a - b).map((n) => this.messages[n - 1]!.uid);
  }

  /** UIDs that were RETRieved, are staying, and are not yet \Seen: add_status marks these at QUIT. */
  seenUids(): number[] {
    return [...this.retrieved]
      .filter((n) => !this.deleted.has(n) && !this.messages[n - 1]!.flags.has('\\Seen'))
      .sort((a, b) => a - b)
      .map((n) => this.messages[n - 1]!.uid);
  }
}
