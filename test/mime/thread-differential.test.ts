// THREAD=REFERENCES and ORDEREDSUBJECT (src/imap/thread.ts, flat integer arrays) answer exactly as the
// object-per-node implementation they replaced (fixtures/thread-reference.ts) on random mailboxes: shared
// and missing Message-IDs, duplicates, reference loops, self references, long and branching References,
// replies and equal subjects, equal dates — the cases where the RFC 5256 steps interact.
import { describe, expect, it } from 'vitest';
import { formatThreads, threadOrderedSubject, threadReferences, type ThreadMessage } from '../../src/imap/thread.js';
import * as old from './fixtures/thread-reference.js';

/** mulberry32: the same mailboxes on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mailbox(seed: number, size: number): ThreadMessage[] {
  const rnd = prng(seed);
  const pick = (k: number) => Math.floor(rnd() * k);
  const ids = Math.max(2, Math.floor(size * (0.5 + rnd())));
  const subjects = ['', 'A', 'B', 'C', 'D', 'E'].slice(0, 2 + pick(5));
  const msgs: ThreadMessage[] = [];
  for (let i = 0; i < size; i++) {
    const refs: string[] = [];
    const nrefs = rnd() < 0.4 ? 0 : pick(6);
    for (let k = 0; k < nrefs; k++) refs.push(`${pick(ids)}@x`);
    msgs.push({
      n: 1000 + i * 3, seq: i + 1,
      date: pick(rnd() < 0.5 ? 3 : 50), // many equal dates: ties by sequence number
      subjectKey: subjects[pick(subjects.length)]!,
      replyOrForward: rnd() < 0.4,
      messageId: rnd() < 0.15 ? null : `${pick(ids)}@x`,
      references: refs,
    });
  }
  // The search order is not always the sequence order.
  if (rnd() < 0.3) msgs.reverse();
  return msgs;
}

describe('THREAD implementations agree on random mailboxes', () => {
  it('REFERENCES', () => {
    for (let seed = 1; seed <= 1500; seed++) {
      const msgs = mailbox(seed, 1 + (seed % 40));
      const want = old.formatThreads(old.threadReferences(msgs));
      const got = formatThreads(threadReferences(msgs));
      if (got !== want) expect({ seed, got }).toEqual({ seed, got: want });
    }
  });
  it('ORDEREDSUBJECT', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const msgs = mailbox(seed, 1 + (seed % 30));
      const want = old.formatThreads(old.threadOrderedSubject(msgs));
      expect(formatThreads(threadOrderedSubject(msgs))).toBe(want);
    }
  });
  it('a bigger mailbox, answered the same (10,000 messages)', () => {
    const msgs = mailbox(4242, 10_000);
    expect(formatThreads(threadReferences(msgs))).toBe(old.formatThreads(old.threadReferences(msgs)));
  });
});
