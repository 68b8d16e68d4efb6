// FETCH items the store answers from its parsed facts (Mailbox.facts): ENVELOPE, BODY, BODYSTRUCTURE and
// BODY[HEADER.FIELDS (...)] of the message's own header. One facts() iteration per FETCH (per distinct
// field list), consumed in step with the responses, so the store parses or reads its cache once per
// message and a 1:* FETCH never holds more than one message's facts.
import type { FactsRequest, Mailbox, MessageFacts } from '../store/types.js';
import type { FetchItem } from './fetch-items.js';

/** Whether the store answers this item from facts (the FETCH then needs no message bytes for it). */
export function fromFacts(item: FetchItem): boolean {
  if (item.type === 'ENVELOPE' || item.type === 'BODY' || item.type === 'BODYSTRUCTURE') return true;
  return item.type === 'SECTION' && item.section.path.length === 0 && item.section.kind === 'HEADER.FIELDS';
}

/** The key of a HEADER.FIELDS item's field list. */
export function fieldsKey(fields: readonly string[] | undefined): string {
  return (fields ?? []).map((f) => f.toLowerCase()).join('\n');
}

/** What one message's facts gave: the main facts and each field list's HEADER.FIELDS bytes. */
export interface FetchedFacts {
  readonly facts: MessageFacts;
  readonly headerFields: ReadonlyMap<string, Buffer>;
}

export class FetchFacts {
  private readonly iters: { key: string | null; it: AsyncIterator<MessageFacts> }[] = [];

  private constructor(mailbox: Mailbox, uids: readonly number[], items: readonly FetchItem[]) {
    const main: { -readonly [K in keyof FactsRequest]: FactsRequest[K] } = {};
    const lists = new Map<string, string[]>();
    for (const i of items) {
      if (i.type === 'ENVELOPE') main.envelope = true;
      else if (i.type === 'BODY') main.body = true;
      else if (i.type === 'BODYSTRUCTURE') main.bodyStructure = true;
      else if (i.type === 'SECTION' && fromFacts(i)) lists.set(fieldsKey(i.section.fields), i.section.fields ?? []);
    }
    const first = [...lists];
    // The first field list rides along with the main request; any other list gets its own iteration.
    const [k0, f0] = first[0] ?? [null, undefined];
    if (f0) main.headerFields = f0;
    this.iters.push({ key: k0, it: mailbox.facts(uids, main)[Symbol.asyncIterator]() });
    for (const [k, f] of first.slice(1)) this.iters.push({ key: k, it: mailbox.facts(uids, { headerFields: f })[Symbol.asyncIterator]() });
  }

  /** Facts for the UIDs in order, or null when no item needs them. */
  static for(mailbox: Mailbox, uids: readonly number[], items: readonly FetchItem[]): FetchFacts | null {
    return items.some(fromFacts) ? new FetchFacts(mailbox, uids, items) : null;
  }

  /** The next message's facts (the UIDs are taken in the order given); exists false when it is gone. */
  async next(uid: number): Promise<FetchedFacts> {
    let facts: MessageFacts | undefined;
    const headerFields = new Map<string, Buffer>();
    for (const { key, it } of this.iters) {
      const r = await it.next();
      if (r.done || r.value.uid !== uid) throw new Error(`facts out of step at UID ${uid}`);
      facts ??= r.value;
      if (!r.value.exists) facts = r.value;
      if (key !== null && r.value.headerFields) headerFields.set(key, r.value.headerFields);
    }
    return { facts: facts!, headerFields };
  }

  /** Stop early (the client went away): lets the store write what it computed. */
  async close(): Promise<void> {
    for (const { it } of this.iters) await it.return?.();
  }
}
