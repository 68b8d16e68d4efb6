// SORT (RFC 5256 §3, SORT=DISPLAY RFC 5957, ESORT RFC 5267), THREAD (RFC 5256 §2.2), PARTIAL (RFC 9394)
// and WITHIN (RFC 5032) over the real bin/imapd, on both stores. The mailbox below is built so that
// every sort key orders it differently; the expected answers are worked out by hand from the RFCs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectImap, last, siteWithMessages, type Imap, type TestSite } from './imap-client.js';
import { setInbox } from '../maildir/site-store.js';

const day = (d: number) => new Date(Date.UTC(2024, 0, d, 12, 0, 0));
const MESSAGES = [
  // 1
  { date: day(5), text: 'From: "Bob Brown" <bob@ex.com>\nTo: Yann <yann@ex.com>\nCc: zoe@ex.com\nSubject: Apple pie\nDate: Wed, 03 Jan 2024 10:00:00 +0000\nMessage-ID: <a1@x>\n\nfirst\n' },
  // 2: Date in +0100, reply to 1
  { date: day(2), text: 'From: <alice@ex.com>\nTo: mike@ex.com\nSubject: Re: apple PIE\nDate: Thu, 04 Jan 2024 09:00:00 +0100\nMessage-ID: <a2@x>\nReferences: <a1@x>\n\nsecond, a longer body than the others have\n' },
  // 3: no Date (INTERNALDATE is the sent date), encoded display names
  { date: day(1), text: 'From: =?UTF-8?Q?=C3=89mile?= <emile@ex.com>\nTo: =?UTF-8?Q?=C3=A9lodie?= <zz@ex.com>\nSubject: [list] Banana\nMessage-ID: <b1@x>\n\nthird\n' },
  // 4: no To, In-Reply-To only, forwarded subject
  { date: day(4), text: 'From: dave <Dave@ex.com>\nCc: x <aaron@ex.com>\nSubject: Fwd: Cherry (fwd)\nDate: Tue, 02 Jan 2024 23:00:00 -0500\nMessage-ID: <c1@x>\nIn-Reply-To: <b1@x>\n\nfourth\n' },
  // 5: reply to 2 (References chain)
  { date: day(3), text: 'From: carl@ex.com\nTo: Adam <adam@ex.com>\nSubject: Re: Re: Apple pie\nDate: Sat, 06 Jan 2024 00:00:00 +0000\nMessage-ID: <a3@x>\nReferences: <a1@x> <a2@x>\n\nfifth\n' },
  // 6: refers to a message that is not there
  { date: day(6), text: 'From: Bob <bob@ex.com>\nSubject: banana\nDate: Mon, 01 Jan 2024 00:00:00 +0000\nMessage-ID: <b2@x>\nReferences: <missing@x>\n\nsixth\n' },
];

let t: TestSite;
let c: Imap;
let uids: number[] = [];

beforeAll(async () => {
  t = siteWithMessages(0);
  setInbox(t.site, 'bob', MESSAGES);
  c = await connectImap(t.site);
  expect(last(await c.login())).toMatch(/OK/);
  expect(last(await c.cmd('SELECT INBOX'))).toMatch(/OK/);
  const r = await c.cmd('FETCH 1:* (UID)');
  uids = r.filter((l) => l.startsWith('* ')).map((l) => Number(/UID (\d+)/.exec(l)![1]));
  expect(uids).toHaveLength(6);
});
afterAll(() => {
  c?.close();
  t?.cleanup();
});

async function untagged(cmd: string, name: string): Promise<string> {
  const r = await c.cmd(cmd);
  expect(last(r)).toMatch(/^t\d+ OK/);
  const lines = r.filter((l) => l.startsWith(`* ${name}`));
  expect(lines).toHaveLength(1);
  return lines[0]!;
}
const sortOf = async (cmd: string) => (await untagged(cmd, 'SORT')).replace(/^\* SORT ?/, '');

describe('SORT', () => {
  it('is advertised with its companions', async () => {
    const caps = (await c.cmd('CAPABILITY'))[0]!;
    for (const cap of ['SORT', 'SORT=DISPLAY', 'ESORT', 'THREAD=ORDEREDSUBJECT', 'THREAD=REFERENCES', 'WITHIN', 'PARTIAL']) {
      expect(caps.split(' ')).toContain(cap);
    }
  });

  it('sorts by every key of RFC 5256 and RFC 5957', async () => {
    expect(await sortOf('SORT (SUBJECT) UTF-8 ALL')).toBe('1 2 5 3 6 4'); // base subjects, ties by sequence
    expect(await sortOf('SORT (DATE) UTF-8 ALL')).toBe('6 3 4 1 2 5'); // in UTC; 3 by INTERNALDATE
    expect(await sortOf('SORT (ARRIVAL) US-ASCII ALL')).toBe('3 2 5 4 1 6');
    expect(await sortOf('SORT (REVERSE ARRIVAL) UTF-8 ALL')).toBe('6 1 4 5 2 3');
    expect(await sortOf('SORT (FROM) UTF-8 ALL')).toBe('2 1 6 5 4 3'); // addr-mailbox, case-insensitive
    expect(await sortOf('SORT (TO) UTF-8 ALL')).toBe('4 6 5 2 1 3'); // none sorts first
    expect(await sortOf('SORT (CC) UTF-8 ALL')).toBe('2 3 5 6 4 1');
    expect(await sortOf('SORT (DISPLAYFROM) UTF-8 ALL')).toBe('2 6 1 5 4 3'); // decoded names, else addr-spec
    expect(await sortOf('SORT (DISPLAYTO) UTF-8 ALL')).toBe('4 6 5 3 2 1');
    expect(await sortOf('SORT (SUBJECT REVERSE DATE) UTF-8 ALL')).toBe('5 2 1 3 6 4');
    expect(await sortOf('SORT (REVERSE SUBJECT) UTF-8 ALL')).toBe('4 3 6 1 2 5'); // ties stay by sequence
  });

  it('sorts by SIZE as RFC822.SIZE orders it', async () => {
    const r = await c.cmd('FETCH 1:* (RFC822.SIZE)');
    const sizes = r.filter((l) => l.startsWith('* ')).map((l) => Number(/RFC822\.SIZE (\d+)/.exec(l)![1]));
    const expected = sizes.map((s, i) => ({ s, n: i + 1 })).sort((a, b) => a.s - b.s || a.n - b.n).map((x) => x.n);
    expect(await sortOf('SORT (SIZE) UTF-8 ALL')).toBe(expected.join(' '));
  });

  it('sorts only what the search criteria select; UID SORT answers UIDs', async () => {
    expect(await sortOf('SORT (DATE) UTF-8 FROM bob')).toBe('6 1');
    expect(await sortOf('SORT (SUBJECT) UTF-8 OR 2 3:4')).toBe('2 3 4');
    expect(await sortOf('UID SORT (SUBJECT) UTF-8 ALL')).toBe([1, 2, 5, 3, 6, 4].map((n) => uids[n - 1]).join(' '));
    expect(await sortOf(`UID SORT (DATE) UTF-8 UID ${uids[0]}:${uids[2]}`)).toBe([3, 1, 2].map((n) => uids[n - 1]).join(' '));
    expect(await sortOf('SORT (DATE) UTF-8 SUBJECT nothing-like-this')).toBe('');
  });

  it('refuses unknown charsets, keys and broken syntax', async () => {
    expect(last(await c.cmd('SORT (SUBJECT) X-NO-SUCH-CHARSET ALL'))).toMatch(/^t\d+ NO \[BADCHARSET/);
    expect(last(await c.cmd('SORT (FOO) UTF-8 ALL'))).toMatch(/^t\d+ BAD/);
    expect(last(await c.cmd('SORT () UTF-8 ALL'))).toMatch(/^t\d+ BAD/);
    expect(last(await c.cmd('SORT (SUBJECT) UTF-8'))).toMatch(/^t\d+ BAD/);
    expect(last(await c.cmd('SORT (REVERSE) UTF-8 ALL'))).toMatch(/^t\d+ BAD/);
    expect(last(await c.cmd('SORT SUBJECT UTF-8 ALL'))).toMatch(/^t\d+ BAD/);
  });

  it('ESORT: RETURN (MIN MAX COUNT ALL) in sort order (RFC 5267 §3)', async () => {
    const tag = c.nextTag();
    c.send(`${tag} SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL\r\n`);
    const r = await c.c.until(`${tag} `, 15_000);
    expect(r).toContain(`* ESEARCH (TAG "${tag}") MIN 6 MAX 5 ALL 6,3:4,1:2,5 COUNT 6`);
    expect(await untagged('UID SORT RETURN (COUNT) (DATE) UTF-8 ALL', 'ESEARCH')).toMatch(/^\* ESEARCH \(TAG "t\d+"\) UID COUNT 6$/);
    expect(await untagged('SORT RETURN () (DATE) UTF-8 FROM bob', 'ESEARCH')).toMatch(/ ALL 6,1$/);
    expect(await untagged('SORT RETURN (MIN MAX ALL) (DATE) UTF-8 FROM nobody', 'ESEARCH')).toMatch(/^\* ESEARCH \(TAG "t\d+"\)$/);
  });

  it('PARTIAL (RFC 9394) on SORT and SEARCH', async () => {
    expect(await untagged('SORT RETURN (PARTIAL 2:3) (DATE) UTF-8 ALL', 'ESEARCH')).toMatch(/ PARTIAL \(2:3 3:4\)$/);
    expect(await untagged('SORT RETURN (PARTIAL -1:-2 COUNT) (DATE) UTF-8 ALL', 'ESEARCH')).toMatch(/ COUNT 6 PARTIAL \(-1:-2 2,5\)$/);
    expect(await untagged('SEARCH RETURN (PARTIAL 1:2) ALL', 'ESEARCH')).toMatch(/ PARTIAL \(1:2 1:2\)$/);
    expect(await untagged('SEARCH RETURN (PARTIAL -1:-1) ALL', 'ESEARCH')).toMatch(/ PARTIAL \(-1:-1 6\)$/);
    expect(await untagged('UID SEARCH RETURN (PARTIAL 5:100) ALL', 'ESEARCH')).toMatch(new RegExp(` UID PARTIAL \\(5:100 ${uids[4]}:${uids[5]}\\)$`));
    expect(await untagged('SEARCH RETURN (PARTIAL 7:9) ALL', 'ESEARCH')).toMatch(/ PARTIAL \(7:9 NIL\)$/);
    expect(last(await c.cmd('SEARCH RETURN (ALL PARTIAL 1:2) ALL'))).toMatch(/^t\d+ BAD/);
    expect(last(await c.cmd('SEARCH RETURN (PARTIAL 0:2) ALL'))).toMatch(/^t\d+ BAD/);
    expect(last(await c.cmd('SEARCH RETURN (PARTIAL 1:-2) ALL'))).toMatch(/^t\d+ BAD/);
  });
});

describe('THREAD', () => {
  const threadOf = async (cmd: string) => (await untagged(cmd, 'THREAD')).replace(/^\* THREAD ?/, '');
  it('REFERENCES: links, prunes the missing parent, merges equal subjects under a dummy', async () => {
    expect(await threadOf('THREAD REFERENCES UTF-8 ALL')).toBe('((6)(3 4))(1 2 5)');
    const u = (n: number) => uids[n - 1];
    expect(await threadOf('UID THREAD REFERENCES UTF-8 ALL')).toBe(`((${u(6)})(${u(3)} ${u(4)}))(${u(1)} ${u(2)} ${u(5)})`);
    // Without message 2 the chain 1 → 2 → 5 still holds through 5's References (2 becomes a dummy).
    expect(await threadOf('THREAD REFERENCES UTF-8 NOT 2')).toBe('((6)(3 4))(1 5)');
  });
  it('ORDEREDSUBJECT: groups by base subject, ordered by first sent date', async () => {
    expect(await threadOf('THREAD ORDEREDSUBJECT UTF-8 ALL')).toBe('(6 3)(4)(1 (2)(5))');
    expect(await threadOf('THREAD ORDEREDSUBJECT UTF-8 SUBJECT nothing-like-this')).toBe('');
  });
  it('refuses unknown algorithms and charsets', async () => {
    expect(last(await c.cmd('THREAD REFS UTF-8 ALL'))).toMatch(/^t\d+ BAD/);
    expect(last(await c.cmd('THREAD REFERENCES X-NO-SUCH-CHARSET ALL'))).toMatch(/^t\d+ NO \[BADCHARSET/);
  });
});

describe('WITHIN (RFC 5032)', () => {
  it('YOUNGER and OLDER compare INTERNALDATE with now', async () => {
    expect(await untagged('SEARCH YOUNGER 3600', 'SEARCH')).toBe('* SEARCH');
    expect(await untagged('SEARCH OLDER 3600', 'SEARCH')).toBe('* SEARCH 1 2 3 4 5 6');
    const msg = 'Subject: now\r\n\r\nhi\r\n';
    expect(last(await c.cmd(`APPEND INBOX {${msg.length}+}\r\n${msg}`))).toMatch(/OK/);
    expect(last(await c.cmd('NOOP'))).toMatch(/OK/);
    expect(await untagged('SEARCH YOUNGER 3600', 'SEARCH')).toBe('* SEARCH 7');
    expect(await untagged('SEARCH OLDER 3600', 'SEARCH')).toBe('* SEARCH 1 2 3 4 5 6');
    expect(await untagged('SEARCH NOT OLDER 86400 YOUNGER 86400', 'SEARCH')).toBe('* SEARCH 7');
    expect(last(await c.cmd('SEARCH YOUNGER 0'))).toMatch(/^t\d+ BAD/);
    expect(last(await c.cmd('SEARCH OLDER x'))).toMatch(/^t\d+ BAD/);
  });
});

describe('SEARCH FROM/TO/CC/BCC on addresses with comments', () => {
  it('matches the address without its comments, as Dovecot does', async () => {
    const s = siteWithMessages(0);
    try {
      setInbox(s.site, 'bob', [
        { text: 'From: Some One <user (comment)@ (comment) domain.org>\nTo: "List" <list(the list)@lists.example>\nCc: x@y.org\nBcc: <hidden (c)@ secret.org>\nSubject: a\n\nbody\n' },
        { text: 'From: other@domain.org\nTo: list@lists.example.net\nSubject: b\n\nbody\n' },
      ]);
      const k = await connectImap(s.site);
      try {
        expect(last(await k.login())).toMatch(/OK/);
        expect(last(await k.cmd('SELECT INBOX'))).toMatch(/OK/);
        const search = async (q: string) => (await k.cmd(`SEARCH ${q}`)).find((l) => l.startsWith('* SEARCH'));
        expect(await search('FROM user@domain.org')).toBe('* SEARCH 1');
        expect(await search('FROM "Some One <user@domain"')).toBe('* SEARCH 1');
        expect(await search('FROM comment')).toBe('* SEARCH 1'); // the raw text still matches too
        expect(await search('TO list@lists.example')).toBe('* SEARCH 1 2');
        expect(await search('TO <list@lists.example>')).toBe('* SEARCH 1');
        expect(await search('BCC hidden@secret.org')).toBe('* SEARCH 1');
        expect(await search('CC x@y.org')).toBe('* SEARCH 1');
        expect(await search('FROM nobody@domain.org')).toBe('* SEARCH');
      } finally {
        k.close();
      }
    } finally {
      s.cleanup();
    }
  });
});
