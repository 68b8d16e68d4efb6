// THREAD=REFERENCES and ORDEREDSUBJECT (src/imap/thread.ts, flat integer arrays) answer exactly as the
// object-per-node implementation they replaced (fixtures/thread-reference.ts) on random mailboxes: shared
// and missing Message-IDs, duplicates, reference loops, self references, long and branching References,
// replies and equal subjects, equal dates — the cases where the RFC 5256 steps interact.
import { describe, expect, it } from 'vitest';
import { formatThreads, threadOrderedSubject, threadReferences, type ThreadMessage } from '../../src/imap/thread.js';
import * as old from './fixtures/thread-reference.js';
import { numberLine, sortOrder, type SortCriterion, type SortKeyName } from '../../src/imap/sort.js';
import type { SortFacts } from '../../src/imap/sort-keys.js';
import type { MessageInfo } from '../../src/store/types.js';
import { compareCodepoints } from '../../src/mime/collation.js';

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

describe('SORT order (columns, presorted input recognised) agrees with a plain comparator sort', () => {
  it('random criteria, keys with many ties, reverse, presorted and not', () => {
    const names: SortKeyName[] = ['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO'];
    for (let seed = 1; seed <= 400; seed++) {
      const rnd = prng(seed);
      const pick = (k: number) => Math.floor(rnd() * k);
      const n = pick(60);
      const ordered = rnd() < 0.3;
      const infos: MessageInfo[] = [];
      const facts: (SortFacts | null)[] = [];
      const seqs: number[] = [];
      for (let i = 0; i < n; i++) {
        const t = ordered ? i * 10 : pick(5) * 1000;
        infos.push({ uid: 10 + i, flags: new Set(), size: pick(4), internalDate: new Date(t), recent: false, modseq: 1 });
        const s = () => ['', 'a', 'b', 'B', 'é'][pick(5)]!;
        facts.push(rnd() < 0.1 ? null : {
          sentDate: rnd() < 0.2 ? null : ordered ? t : pick(4), subjectKey: s(), replyOrForward: false, fromKey: s(), toKey: s(), ccKey: s(),
          displayFromKey: s(), displayToKey: s(), messageId: null, references: [],
        });
        seqs.push(i + 1);
      }
      const criteria: SortCriterion[] = Array.from({ length: 1 + pick(3) }, () => ({ key: names[pick(names.length)]!, reverse: rnd() < 0.4 }));
      const key = (c: SortCriterion, i: number): number | string => {
        const f = facts[i];
        switch (c.key) {
          case 'ARRIVAL': return infos[i]!.internalDate.getTime();
          case 'SIZE': return infos[i]!.size;
          case 'DATE': return f?.sentDate ?? infos[i]!.internalDate.getTime();
          case 'SUBJECT': return f?.subjectKey ?? '';
          case 'FROM': return f?.fromKey ?? '';
          case 'TO': return f?.toKey ?? '';
          case 'CC': return f?.ccKey ?? '';
          case 'DISPLAYFROM': return f?.displayFromKey ?? '';
          case 'DISPLAYTO': return f?.displayToKey ?? '';
        }
      };
      const want = infos.map((_, i) => i).sort((a, b) => {
        for (const c of criteria) {
          const x = key(c, a);
          const y = key(c, b);
          if (x === y) continue;
          const d = typeof x === 'number' ? x - (y as number) : compareCodepoints(x, y as string);
          if (d !== 0) return c.reverse ? -d : d;
        }
        return seqs[a]! - seqs[b]!;
      });
      expect(Array.from(sortOrder(infos, seqs, facts, criteria))).toEqual(want);
    }
  });

  it('one numeric key over wide ranges (every radix digit, negative, fractional, gaps in sequence numbers)', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rnd = prng(seed);
      const pick = (k: number) => Math.floor(rnd() * k);
      const n = pick(400);
      const spread = [3, 300, 1e6, 2 ** 32 + 2 ** 31, 2 ** 40, 2 ** 52, 2 ** 60][seed % 7]!;
      const frac = seed % 5 === 0 ? 0.5 : 0;
      const unit = seed % 4 === 0 && spread < 2 ** 42 ? 1000 : 1; // whole seconds, as Date: headers give
      const shift = seed % 2 ? -spread / 2 : 0;
      const infos: MessageInfo[] = [];
      const facts: SortFacts[] = [];
      const seqs: number[] = [];
      let seq = 0;
      for (let i = 0; i < n; i++) {
        seq += seed % 3 ? 1 : 1 + pick(3);
        seqs.push(seed % 11 === 0 && i === n - 1 ? 1 : seq); // sometimes not ascending: the comparator's way
        infos.push({ uid: 1 + i, flags: new Set(), size: pick(spread), internalDate: new Date(pick(1e12)), recent: false, modseq: 1 });
        facts.push({
          sentDate: (Math.floor(rnd() * spread) + shift) * unit + frac, subjectKey: '', replyOrForward: false, fromKey: '', toKey: '', ccKey: '',
          displayFromKey: '', displayToKey: '', messageId: null, references: [],
        });
      }
      for (const key of ['DATE', 'SIZE', 'ARRIVAL'] as const) {
        for (const reverse of [false, true]) {
          const v = (i: number) => (key === 'DATE' ? facts[i]!.sentDate! : key === 'SIZE' ? infos[i]!.size : infos[i]!.internalDate.getTime());
          const want = infos.map((_, i) => i).sort((a, b) => (v(a) - v(b)) * (reverse ? -1 : 1) || seqs[a]! - seqs[b]!);
          expect(Array.from(sortOrder(infos, seqs, facts, [{ key, reverse }]))).toEqual(want);
        }
      }
    }
  });
});

describe('numberLine (the SORT answer, written digit by digit)', () => {
  it('equals the numbers joined as text', () => {
    const nums = [0, 5, 9, 10, 99, 100, 999, 1000, 99999, 100000, 999999, 1000000, 12345678, 4294967295];
    expect(numberLine('* SORT', nums, ' (MODSEQ 7)\r\n').toString('latin1')).toBe(`* SORT ${nums.join(' ')} (MODSEQ 7)\r\n`);
    expect(numberLine('* SORT', [], '\r\n').toString('latin1')).toBe('* SORT\r\n');
  });
});

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
