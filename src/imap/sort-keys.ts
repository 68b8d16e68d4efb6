// What SORT and THREAD need to know about a message, in one place: the sent date, the base subject,
// the first From/To/Cc address as collation keys, and the threading IDs. The raw facts come from the
// store (Mailbox.facts(): sort and threading keys, answered from its per-mailbox cache); what the
// RFCs derive from them (base subject, i;unicode-casemap keys, the References/In-Reply-To rule) is
// worked out here, once per message and session.
import type { KeyColumns, Mailbox, MessageInfo, SortAddress, SortKeys, ThreadingKeys } from '../store/types.js';
import { decodeHeaderValue } from '../mime/decode.js';
import { subjectKey } from '../mime/base-subject.js';
import { unicodeCasemap } from '../mime/collation.js';

export interface SortFacts {
  /** Date: header as UTC ms; null when missing or unparsable (callers fall back to INTERNALDATE). */
  sentDate: number | null;
  /** Collation key (i;unicode-casemap) of the base subject; '' for none. */
  subjectKey: string;
  /** The subject was a reply or forward (RFC 5256 §2.1). */
  replyOrForward: boolean;
  /** Collation keys of the first address's addr-mailbox (SORT FROM/TO/CC). */
  fromKey: string;
  toKey: string;
  ccKey: string;
  /** Collation keys of the first address's display name, else its addr-spec (RFC 5957). */
  displayFromKey: string;
  displayToKey: string;
  /** First valid msg-id of Message-ID, or null. */
  messageId: string | null;
  /** References' msg-ids, or In-Reply-To's first one when References has none (RFC 5256 §2.2). */
  references: readonly string[];
}

/** Largest number of References a message contributes (a hostile header stays bounded). */
const MAX_REFERENCES = 1000;

/** What message i of key columns threads by (SortFacts.references' rule, on numbers): its first n
 *  References (n returned, at most MAX_REFERENCES), else (none) its first In-Reply-To ID (-1 returned),
 *  else nothing (0). */
export function referenceCount(kc: KeyColumns, i: number): number {
  const r = kc.refStart[i + 1]! - kc.refStart[i]!;
  if (r) return Math.min(r, MAX_REFERENCES);
  return kc.inReplyTo[i]! >= 0 ? -1 : 0;
}

/** ENVELOPE's fillers for a missing part are not part of the address. */
const real = (s: string | null, missing: string): string => (s === null || s === missing ? '' : s);

/** addr-mailbox as text: the wire string may carry raw 8-bit (UTF-8) bytes. */
const text = (wire: string): string => (/[^\x00-\x7f]/.test(wire) ? decodeHeaderValue(wire) : wire);

function mailboxKey(a: SortAddress | null): string {
  return a ? unicodeCasemap(text(real(a.mailbox, 'MISSING_MAILBOX'))) : '';
}

/** RFC 5957: the display name (decoded), else the addr-spec. */
function displayKey(a: SortAddress | null): string {
  if (!a) return '';
  const name = a.name?.trim() ?? '';
  if (name) return unicodeCasemap(name);
  const mbox = real(a.mailbox, 'MISSING_MAILBOX');
  const dom = real(a.domain, 'MISSING_DOMAIN');
  return unicodeCasemap(text(dom ? `${mbox}@${dom}` : mbox));
}

/** The SORT/THREAD facts derived from the store's sort and threading keys. Each key is worked out at
 *  its first use only (SORT (DATE) over 100k messages folds no subject), then kept. */
class Derived implements SortFacts {
  private subject?: { key: string; replyOrForward: boolean };
  private keys?: (string | undefined)[];
  private refs?: readonly string[];
  readonly sentDate: number | null;

  constructor(private readonly sk: SortKeys, private readonly th: ThreadingKeys) {
    this.sentDate = sk.sentDate;
  }

  get messageId(): string | null { return this.th.messageId; }
  get references(): readonly string[] {
    if (!this.refs) {
      const r = this.th.references;
      this.refs = r.length ? (r.length > MAX_REFERENCES ? r.slice(0, MAX_REFERENCES) : r) : this.th.inReplyTo.slice(0, 1);
    }
    return this.refs;
  }

  private base(): { key: string; replyOrForward: boolean } {
    return (this.subject ??= subjectKey(this.sk.subject));
  }

  get subjectKey(): string { return this.base().key; }
  get replyOrForward(): boolean { return this.base().replyOrForward; }
  get fromKey(): string { return ((this.keys ??= [])[0] ??= mailboxKey(this.sk.from)); }
  get toKey(): string { return ((this.keys ??= [])[1] ??= mailboxKey(this.sk.to)); }
  get ccKey(): string { return ((this.keys ??= [])[2] ??= mailboxKey(this.sk.cc)); }
  get displayFromKey(): string { return ((this.keys ??= [])[3] ??= displayKey(this.sk.from)); }
  get displayToKey(): string { return ((this.keys ??= [])[4] ??= displayKey(this.sk.to)); }
}

export function deriveFacts(sk: SortKeys, th: ThreadingKeys): SortFacts {
  return new Derived(sk, th);
}

/** Facts worked out from a store's keys object: a store that hands out the same object again for the
 *  same bytes (facts-keys.ts does, to every handle of a process) gets them without deriving again —
 *  the next session of a resident worker folds no subject twice. Pure derivations of immutable input. */
const derivedOf = new WeakMap<SortKeys, SortFacts>();

/** Facts already worked out, per mailbox handle, indexed by UID (a message's bytes never change under a
 *  UID while the handle is open; a message whose bytes went keeps its facts for the live contexts that
 *  still hold it). An array, not a Map: filling it for 100k UIDs costs no hashing. */
const known = new WeakMap<Mailbox, (SortFacts | undefined)[]>();

/** The facts of the given messages, in the same order; null for a message whose bytes are gone. */
export async function messageFacts(mailbox: Mailbox, infos: readonly MessageInfo[]): Promise<(SortFacts | null)[]> {
  let seen = known.get(mailbox);
  if (!seen) known.set(mailbox, (seen = []));
  const n = infos.length;
  const out: (SortFacts | null)[] = [];
  const missing: number[] = [];
  const at: number[] = [];
  for (let i = 0; i < n; i++) {
    const uid = infos[i]!.uid;
    const d = seen[uid];
    out.push(d ?? null);
    if (!d) { missing.push(uid); at.push(i); }
  }
  if (missing.length) {
    const got = await mailbox.factsAll(missing, { sortKeys: true, threading: true });
    for (let j = 0; j < got.length; j++) {
      const f = got[j]!;
      if (!f.exists || !f.sortKeys || !f.threading) { out[at[j]!] = null; continue; }
      let d = derivedOf.get(f.sortKeys);
      if (!d) derivedOf.set(f.sortKeys, (d = deriveFacts(f.sortKeys, f.threading)));
      seen[f.uid] = d;
      out[at[j]!] = d;
    }
  }
  return out;
}
