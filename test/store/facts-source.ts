// The in-memory FactsSource the facts tests share: messages by UID, a count of how often bytes were loaded.
import { StoreError, type MailboxState, type MessageFacts } from '../../src/store/types.js';

export type Msgs = Map<number, { bytes: Buffer; identity: string }>;

/** A FactsSource over in-memory messages that counts how often bytes were loaded. */
export function memorySource(msgs: Msgs, uidValidity = 7) {
  const state = (): MailboxState => ({
    uidValidity, uidNext: Math.max(0, ...msgs.keys()) + 1, keywords: [], highestModseq: 1,
    messages: [...msgs.keys()].map((uid) => ({ uid, flags: new Set<string>(), size: msgs.get(uid)!.bytes.length, internalDate: new Date(0), recent: false, modseq: 1 })),
  });
  const src = {
    loads: 0,
    get state() { return state(); },
    identity: (uid: number) => msgs.get(uid)?.identity,
    load: async (uid: number) => {
      src.loads++;
      const m = msgs.get(uid);
      if (!m) throw new StoreError('NONEXISTENT', 'gone');
      return { bytes: m.bytes, identity: m.identity };
    },
  };
  return src;
}

/** `src` also answering identityPairs (as mbox does: identities `${a}.${b}` as two numbers, NaN for none). */
export function withIdentityPairs<S extends object>(src: S, msgs: Msgs): S & { identityPairs: (us: readonly number[]) => Float64Array } {
  return Object.assign(src, {
    identityPairs: (us: readonly number[]) => {
      const out = new Float64Array(2 * us.length).fill(NaN);
      us.forEach((u, i) => {
        const id = msgs.get(u)?.identity;
        if (id === undefined) return;
        const [a, b] = id.split('.');
        out[2 * i] = Number(a);
        out[2 * i + 1] = Number(b);
      });
      return out;
    },
  });
}

export async function collect(it: AsyncIterable<MessageFacts>): Promise<MessageFacts[]> {
  const out: MessageFacts[] = [];
  for await (const f of it) out.push(f);
  return out;
}

/** The whole records of a facts file (src/store/facts-file.ts, version 3) from its start: where each
 *  lies and its UID; stops at the first place that is not a whole record (`end`). */
export function factsRecords(b: Buffer): { records: { uid: number; off: number; len: number }[]; end: number } {
  const records: { uid: number; off: number; len: number }[] = [];
  let p = 16;
  while (p + 12 <= b.length && b.readUInt32LE(p) === 0x3346444d) {
    const len = 12 + b.readUInt32LE(p + 4);
    if (p + len > b.length) break;
    records.push({ uid: b.readUInt32LE(p + 12), off: p, len });
    p += len;
  }
  return { records, end: p };
}
