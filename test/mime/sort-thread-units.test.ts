// Units of SORT/THREAD's building blocks: RFC 5256 §2.1 base subjects, RFC 5051 i;unicode-casemap,
// the facts derived from the store's keys, and both threading algorithms on hand-checked RFC 5256 §2.2 cases.
import { describe, expect, it } from 'vitest';
import { baseSubject } from '../../src/mime/base-subject.js';
import { compareCodepoints, unicodeCasemap } from '../../src/mime/collation.js';
import { formatThreads, threadOrderedSubject, threadReferences, type ThreadMessage } from '../../src/imap/thread.js';
import { deriveFacts } from '../../src/imap/sort-keys.js';

describe('base subject (RFC 5256 §2.1)', () => {
  const cases: [string, string, boolean][] = [
    ['test', 'test', false],
    ['Re: test', 'test', true],
    ['RE:test', 'test', true],
    ['re : test', 'test', true], // "re" *WSP ":"
    ['Re: Re: Fwd: test', 'test', true],
    ['Fw: test', 'test', true],
    ['FWD: test', 'test', true],
    ['Re[2]: test', 'test', true], // subj-refwd with a subj-blob before the colon
    ['Re [2]: test', 'test', true],
    ['[list] Re: test', 'test', true], // *subj-blob subj-refwd
    ['[list] test', 'test', false], // step 4: a blob followed by a non-empty base
    ['[a] [b] test', 'test', false],
    ['[list]', '[list]', false], // step 4: removing it would leave nothing
    ['[a] [b]', '[b]', false],
    ['test (fwd)', 'test', true], // subj-trailer
    ['test (FWD) (fwd)  ', 'test', true],
    ['   test   ', 'test', false], // WSP leaders and trailers
    ['Re:\ttest\t\tcase', 'test case', true], // step 1: tabs → space, runs → one
    ['Re: test\r\n continued', 'test continued', true],
    ['[fwd: test]', 'test', true], // step 6
    ['Re: [Fwd: Re: [list] test (fwd)]', 'test', true], // step 6 then again from step 2
    ['[fwd: test', '[fwd: test', false], // no closing bracket: not a subj-fwd
    ['Ref: test', 'Ref: test', false], // "re" must be followed by WSP, a blob or ':'
    ['Reply', 'Reply', false],
    ['Re:', '', true],
    ['', '', false],
  ];
  for (const [input, base, reply] of cases) {
    it(JSON.stringify(input), () => expect(baseSubject(input)).toEqual({ base, replyOrForward: reply }));
  }
});

describe('i;unicode-casemap (RFC 5051)', () => {
  it('titlecases and decomposes', () => {
    expect(unicodeCasemap('abc')).toBe('ABC');
    expect(unicodeCasemap('é')).toBe('E\u0301'); // titlecase then NFD
    expect(unicodeCasemap('É')).toBe(unicodeCasemap('e\u0301'));
    expect(unicodeCasemap('ǆ')).toBe('ǅ'); // titlecase, not uppercase
    expect(unicodeCasemap('Ǆ')).toBe('ǅ');
    expect(unicodeCasemap('ß')).toBe('ß'); // simple mapping only (no "SS")
    expect(unicodeCasemap('ᾳ')).toBe(unicodeCasemap('ᾼ'));
    expect(unicodeCasemap('straße')).not.toBe(unicodeCasemap('strasse'));
  });
  it('orders by code point', () => {
    expect(compareCodepoints('a', 'b')).toBeLessThan(0);
    expect(compareCodepoints('ab', 'a')).toBeGreaterThan(0);
    // U+1F600 (surrogates in UTF-16) sorts after U+FFFD as in UTF-8.
    expect(compareCodepoints('\u{1F600}', '\uFFFD')).toBeGreaterThan(0);
    expect(compareCodepoints('\uFFFD', '\u{1F600}')).toBeLessThan(0);
  });
});

describe('SORT/THREAD facts from the store keys', () => {
  const sk = { dateHeader: null, sentDate: 5, sentDay: null, subject: 'Re: [list] Hi', from: { name: null, mailbox: 'Ann', domain: 'x.org' }, to: { name: 'Émile', mailbox: 'e', domain: 'x' }, cc: null };
  it('References win over In-Reply-To, whose first ID stands in when References is empty', () => {
    expect(deriveFacts(sk, { messageId: 'm@x', inReplyTo: ['p@x', 'q@x'], references: ['r1@x', 'r2@x'] })).toMatchObject({ messageId: 'm@x', references: ['r1@x', 'r2@x'] });
    expect(deriveFacts(sk, { messageId: null, inReplyTo: ['p@x', 'q@x'], references: [] }).references).toEqual(['p@x']);
  });
  it('derives base subject and collation keys (RFC 5256 §3, RFC 5957)', () => {
    expect(deriveFacts(sk, { messageId: null, inReplyTo: [], references: [] })).toMatchObject({
      sentDate: 5, subjectKey: 'HI', replyOrForward: true, fromKey: 'ANN', toKey: 'E', ccKey: '',
      displayFromKey: 'ANN@X.ORG', displayToKey: 'E\u0301MILE',
    });
  });
});

let seq = 0;
function msg(n: number, date: number, subject: string, id: string | null, refs: string[] = []): ThreadMessage {
  const b = baseSubject(subject);
  return { n, seq: ++seq, date, subjectKey: unicodeCasemap(b.base), replyOrForward: b.replyOrForward, messageId: id, references: refs };
}

describe('THREAD=REFERENCES (RFC 5256 §2.2)', () => {
  it('builds the RFC example "(2)(3 6 (4 23)(44 7 96))"', () => {
    const msgs = [
      msg(2, 1, 'Other', '2@x'),
      msg(3, 2, 'Topic', '3@x'),
      msg(4, 4, 'Re: Topic', '4@x', ['3@x', '6@x']),
      msg(6, 3, 'Re: Topic', '6@x', ['3@x']),
      msg(7, 7, 'Re: Topic', '7@x', ['3@x', '6@x', '44@x']),
      msg(23, 5, 'Re: Topic', '23@x', ['3@x', '6@x', '4@x']),
      msg(44, 6, 'Re: Topic', '44@x', ['3@x', '6@x']),
      msg(96, 8, 'Re: Topic', '96@x', ['3@x', '6@x', '44@x', '7@x']),
    ];
    expect(formatThreads(threadReferences(msgs))).toBe('(2)(3 6 (4 23)(44 7 96))');
  });
  it('links through References alone when the middle message is missing (a dummy, pruned)', () => {
    // 1 → (missing m2) → 3: the dummy is removed and 3 becomes 1's child.
    const msgs = [msg(1, 1, 'A', 'm1@x'), msg(3, 3, 'Re: A', 'm3@x', ['m1@x', 'm2@x'])];
    expect(formatThreads(threadReferences(msgs))).toBe('(1 3)');
  });
  it('keeps a top-level dummy with several children, promotes one with a single child', () => {
    expect(formatThreads(threadReferences([msg(1, 1, 'A', 'a@x', ['gone@x']), msg(2, 2, 'B', 'b@x', ['gone@x'])]))).toBe('((1)(2))');
    expect(formatThreads(threadReferences([msg(1, 1, 'A', 'a@x', ['gone@x'])]))).toBe('(1)');
  });
  it('uses In-Reply-To-derived references, ignores duplicate and missing Message-IDs', () => {
    const msgs = [msg(1, 1, 'A', 'a@x'), msg(2, 2, 'B', 'a@x'), msg(3, 3, 'C', null, ['a@x'])];
    // 2's duplicate ID is not findable: 3 replies to 1.
    expect(formatThreads(threadReferences(msgs))).toBe('(1 3)(2)');
  });
  it('does not create loops', () => {
    const msgs = [msg(1, 1, 'A', 'a@x', ['b@x']), msg(2, 2, 'B', 'b@x', ['a@x'])];
    expect(formatThreads(threadReferences(msgs))).toBe('(2 1)');
    expect(formatThreads(threadReferences([msg(1, 1, 'A', 'a@x', ['a@x'])]))).toBe('(1)');
  });
  it('the last reference wins over a link made by another message (step 1B)', () => {
    // 2 says 1 → 3 → 2; 3 itself says its parent is 4, which breaks 1 → 3.
    const msgs = [msg(1, 1, 'A', '1@x'), msg(2, 2, 'B', '2@x', ['1@x', '3@x']), msg(3, 3, 'C', '3@x', ['4@x']), msg(4, 4, 'D', '4@x')];
    expect(formatThreads(threadReferences(msgs))).toBe('(1)(4 3 2)');
  });
  it('merges by subject: a reply under the original, equal subjects under a dummy (step 5)', () => {
    expect(formatThreads(threadReferences([msg(1, 1, 'Hello', 'a@x'), msg(2, 2, 'Re: hello', 'b@x')]))).toBe('(1 2)');
    expect(formatThreads(threadReferences([msg(1, 2, 'Re: Hello', 'a@x'), msg(2, 1, 'Hello', 'b@x')]))).toBe('(2 1)');
    expect(formatThreads(threadReferences([msg(1, 1, 'Hello', 'a@x'), msg(2, 2, 'Hello', 'b@x')]))).toBe('((1)(2))');
    expect(formatThreads(threadReferences([msg(1, 1, 'Re: Hello', 'a@x'), msg(2, 2, 'Re: Hello', 'b@x')]))).toBe('((1)(2))');
    // A dummy thread (two replies to a missing message) takes in a later root with the same subject.
    const d = [msg(1, 1, 'Re: X', 'a@x', ['gone@x']), msg(2, 2, 'Re: X', 'b@x', ['gone@x']), msg(3, 3, 'X', 'c@x')];
    expect(formatThreads(threadReferences(d))).toBe('((1)(2)(3))');
    // Empty subjects are never merged.
    expect(formatThreads(threadReferences([msg(1, 1, '', 'a@x'), msg(2, 2, 'Re:', 'b@x')]))).toBe('(1)(2)');
  });
  it('sorts siblings by sent date, ties by sequence number', () => {
    const msgs = [msg(1, 5, 'A', 'a@x'), msg(2, 9, 'Re: A', 'b@x', ['a@x']), msg(3, 7, 'Re: A', 'c@x', ['a@x']), msg(4, 7, 'Re: A', 'd@x', ['a@x']), msg(5, 1, 'Z', 'z@x')];
    expect(formatThreads(threadReferences(msgs))).toBe('(5)(1 (3)(4)(2))');
  });
  it('handles a chain of 20,000 replies without recursion', () => {
    const msgs = Array.from({ length: 20_000 }, (_, i) => msg(i + 1, i, `Re: deep`, `${i}@x`, i ? [`${i - 1}@x`] : []));
    const out = formatThreads(threadReferences(msgs));
    expect(out.startsWith('(1 2 3 ')).toBe(true);
    expect(out.endsWith(' 20000)')).toBe(true);
  });
});

describe('THREAD=ORDEREDSUBJECT', () => {
  it('groups by base subject, first message the parent, threads by first date', () => {
    const msgs = [msg(1, 3, 'Beta', null), msg(2, 1, 'Alpha', null), msg(3, 4, 'Re: alpha', null), msg(4, 2, 'Fwd: Beta', null), msg(5, 5, 'Re: Alpha', null), msg(6, 6, 'Gamma', null)];
    expect(formatThreads(threadOrderedSubject(msgs))).toBe('(2 (3)(5))(4 1)(6)');
  });
});

describe('address search text (SEARCH FROM/TO/CC/BCC)', () => {
  it('normalises comments, folding and encoded names away', async () => {
    const { addressSearchText } = await import('../../src/mime/address.js');
    const { decodeHeaderValue } = await import('../../src/mime/decode.js');
    const d = (w: string) => decodeHeaderValue(w);
    expect(addressSearchText('<user (comment)@ (comment) domain.org>', d)).toBe('<user@domain.org>');
    expect(addressSearchText('"Joe Q." (x) <joe (c) @\r\n example.com>, plain@x.org', d)).toBe('Joe Q. <joe@example.com>, <plain@x.org>');
    expect(addressSearchText('=?UTF-8?Q?=C3=89mile?= <e@x>', d)).toBe('Émile <e@x>');
    expect(addressSearchText('team: a@x, b@y;', d)).toBe('team:, <a@x>, <b@y>');
  });
});
