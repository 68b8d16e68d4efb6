// Message commands against the real binary: SELECT/EXAMINE, FETCH (every item and section kind),
// STORE, SEARCH, APPEND, COPY/MOVE with UIDPLUS, EXPUNGE, CLOSE/UNSELECT, quota.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectImap, last, siteWithMessages, type Imap, type TestSite } from './imap-client.js';

let t: TestSite;
let s: Imap;
beforeAll(async () => {
  t = siteWithMessages(5);
  s = await connectImap(t.site);
  await s.login();
});
afterAll(() => {
  s.close();
  t.cleanup();
});

const MULTIPART = [
  'From: "Ann Example" <ann@example.com>',
  'To: bob@example.com, "Carl" <carl@example.org>',
  'Subject: =?UTF-8?B?R3LDvMOfZQ==?= multipart',
  'Date: Wed, 14 Feb 2024 10:00:00 +0100',
  'Message-ID: <mp1@example.com>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="XX"',
  '',
  'preamble',
  '--XX',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Caf=C3=A9 needle-in-body here',
  '--XX',
  'Content-Type: message/rfc822',
  '',
  'From: inner@example.com',
  'Subject: inner message',
  '',
  'inner body',
  '--XX--',
  '',
].join('\r\n');

describe('SELECT and EXAMINE', () => {
  it('answers like UW/DMail', async () => {
    const r = await s.cmd('SELECT inbox');
    expect(r[0]).toBe('* 5 EXISTS');
    expect(r[1]).toBe('* 5 RECENT');
    expect(r[2]).toMatch(/^\* OK \[UIDVALIDITY \d+\] /);
    expect(r[3]).toMatch(/^\* OK \[UIDNEXT 6\] /);
    expect(r[4]).toBe('* FLAGS (\\Answered \\Flagged \\Deleted \\Draft \\Seen)');
    expect(r[5]).toMatch(/^\* OK \[PERMANENTFLAGS \(\\\* \\Answered \\Flagged \\Deleted \\Draft \\Seen\)\]/);
    expect(r[6]).toMatch(/^\* OK \[UNSEEN 1\] /);
    expect(last(r)).toMatch(/^t\d+ OK \[READ-WRITE\] SELECT completed$/);
    const e = await s.cmd('EXAMINE INBOX');
    expect(e.find((l) => l.includes('RECENT'))).toBe('* 0 RECENT'); // the first SELECT claimed them
    expect(last(e)).toMatch(/OK \[READ-ONLY\] EXAMINE completed/);
    expect(last(await s.cmd('STORE 1 +FLAGS (\\Seen)'))).toMatch(/NO/);
    expect(last(await s.cmd('SELECT Missing'))).toMatch(/NO/);
    expect(last(await s.cmd('FETCH 1 UID'))).toMatch(/BAD/); // failed SELECT leaves nothing selected
    expect(last(await s.cmd('SELECT INBOX'))).toMatch(/OK \[READ-WRITE\]/);
  });
});

describe('FETCH', () => {
  it('fetches simple items and macros', async () => {
    const r = await s.cmd('FETCH 1:2 (UID FLAGS RFC822.SIZE INTERNALDATE)');
    expect(r[0]).toMatch(/^\* 1 FETCH \(UID 1 FLAGS \((\\Recent)?\) RFC822\.SIZE \d+ INTERNALDATE "02-Jan-2024 03:04:05 \+0000"\)$/);
    expect(r[1]).toMatch(/^\* 2 FETCH \(UID 2 /);
    const all = await s.cmd('FETCH 3 ALL');
    expect(all[0]).toMatch(/^\* 3 FETCH \(FLAGS .* ENVELOPE \("Tue, 02 Jan 2024 03:04:05 \+0000" "Test message 3" \(\("Sender 3" NIL "sender3" "example.com"\)\)/);
    const uidf = await s.cmd('UID FETCH 4:* FLAGS');
    expect(uidf.filter((l) => l.startsWith('*')).length).toBe(2);
    expect(uidf[0]).toMatch(/UID 4/);
    expect(last(await s.cmd('FETCH 9 FLAGS'))).toMatch(/BAD/);
    expect(last(await s.cmd('FETCH 1 (FLAGS'))).toMatch(/BAD/);
    expect(last(await s.cmd('UID FETCH 100:200 FLAGS'))).toMatch(/OK/);
  });

  it('BODY.PEEK does not set \\Seen, BODY[] does and reports FLAGS', async () => {
    const peek = await s.cmd('FETCH 1 BODY.PEEK[HEADER.FIELDS (Subject)]');
    expect(peek[0]).toMatch(/^\* 1 FETCH \(BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}$/);
    expect(peek[1]).toBe('Subject: Test message 1');
    expect(peek.some((l) => l.includes('\\Seen'))).toBe(false);
    const body = await s.cmd('FETCH 1 BODY[TEXT]');
    expect(body.join('\n')).toContain('Hello, this is message 1.');
    expect(body.join('\n')).toMatch(/FLAGS \(\\Seen( \\Recent)?\)/);
    const again = await s.cmd('FETCH 1 FLAGS');
    expect(again[0]).toContain('\\Seen');
  });

  it('whole message, partials and RFC822 forms', async () => {
    const size = Number(/RFC822\.SIZE (\d+)/.exec((await s.cmd('FETCH 2 RFC822.SIZE'))[0]!)![1]);
    s.send('f1 FETCH 2 BODY.PEEK[]\r\n');
    const head = await s.c.line();
    expect(head).toBe(`* 2 FETCH (BODY[] {${size}}`);
    const bytes = await s.c.bytes(size);
    expect(bytes.toString()).toMatch(/^From: Sender 2 .*Hello, this is message 2\.\r\n$/s);
    expect(await s.c.line()).toBe(')');
    expect(await s.c.line()).toMatch(/^f1 OK/);
    const part = await s.cmd('FETCH 2 BODY.PEEK[]<6.6>');
    expect(part[0]).toBe('* 2 FETCH (BODY[]<6> {6}');
    expect(part[1]).toBe('Sender)');
    const beyond = await s.cmd(`FETCH 2 BODY.PEEK[]<${size + 10}.5>`);
    expect(beyond[0]).toBe(`* 2 FETCH (BODY[]<${size + 10}> "")`);
    const hdr = await s.cmd('FETCH 2 RFC822.HEADER');
    expect(hdr[0]).toMatch(/^\* 2 FETCH \(RFC822\.HEADER \{\d+\}$/);
    expect(hdr.some((l) => l.includes('\\Seen'))).toBe(false);
  });

  it('sections of a multipart message with a message/rfc822 part', async () => {
    const lit = Buffer.from(MULTIPART);
    s.send(`a1 APPEND INBOX (\\Flagged) "14-Feb-2024 10:00:00 +0100" {${lit.length}}\r\n`);
    expect(await s.c.line()).toMatch(/^\+ /);
    s.send(Buffer.concat([lit, Buffer.from('\r\n')]));
    const ap = await s.c.until('a1 ');
    expect(last(ap)).toMatch(/^a1 OK \[APPENDUID \d+ 6\] APPEND completed/);
    expect(ap).toContain('* 6 EXISTS'); // appending to the selected mailbox announces it at once
    const bs = await s.cmd('FETCH 6 (BODYSTRUCTURE INTERNALDATE FLAGS)');
    expect(bs[0]).toContain('("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable"');
    expect(bs[0]).toContain('"message" "rfc822"');
    expect(bs[0]).toContain('"mixed" ("boundary" "XX")');
    expect(bs[0]).toContain('INTERNALDATE "14-Feb-2024 09:00:00 +0000"');
    expect(bs[0]).toContain('\\Flagged');
    const p1 = await s.cmd('FETCH 6 BODY.PEEK[1]');
    expect(p1[1]).toBe('Caf=C3=A9 needle-in-body here)'); // the CRLF before the boundary is not part of it
    const mime = await s.cmd('FETCH 6 BODY.PEEK[1.MIME]');
    expect(mime.join('\n')).toContain('Content-Transfer-Encoding: quoted-printable');
    const inner = await s.cmd('FETCH 6 (BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT])');
    expect(inner.join('\n')).toContain('Subject: inner message');
    expect(inner.join('\n')).toContain('inner body');
    const not = await s.cmd('FETCH 6 BODY.PEEK[HEADER.FIELDS.NOT (From To Subject Date Message-ID MIME-Version)]');
    expect(not.join('\n')).toContain('Content-Type: multipart/mixed');
    expect(not.join('\n')).not.toContain('Subject:');
    const env = await s.cmd('FETCH 6 ENVELOPE');
    expect(env[0]).toContain('(("Ann Example" NIL "ann" "example.com"))');
    expect(env[0]).toContain('("Carl" NIL "carl" "example.org")');
  });
});

describe('STORE', () => {
  it('adds, removes and replaces flags and keywords', async () => {
    const r = await s.cmd('STORE 2:3 +FLAGS (\\Flagged $Important)');
    // A new keyword: FLAGS and PERMANENTFLAGS name it before any FETCH does (RFC 3501 §7.2.6).
    expect(r[0]).toMatch(/^\* FLAGS \(.*\$Important.*\)$/);
    expect(r[1]).toMatch(/^\* OK \[PERMANENTFLAGS \(.*\$Important.*\)\]/);
    expect(r[2]).toMatch(/^\* 2 FETCH \(FLAGS \(.*\\Flagged.*\$Important.*\)\)$/);
    expect(r[3]).toMatch(/^\* 3 FETCH/);
    const u = await s.cmd('UID STORE 2 -FLAGS.SILENT (\\Flagged)');
    expect(u.filter((l) => l.startsWith('* 2 FETCH')).length).toBe(0);
    const rep = await s.cmd('STORE 3 FLAGS \\Answered \\Draft');
    expect(rep[0]).toMatch(/^\* 3 FETCH \(FLAGS \(\\Answered \\Draft( \\Recent)?\)\)$/);
    const uid = await s.cmd('UID STORE 3 +FLAGS (\\seen)');
    expect(uid[0]).toMatch(/^\* 3 FETCH \(FLAGS \(.*\\Seen.*\) UID 3\)$/);
    expect(last(await s.cmd('STORE 3 +FLAGS (\\Bogus)'))).toMatch(/BAD/);
    expect(last(await s.cmd('STORE 3 +FLAGZ (\\Seen)'))).toMatch(/BAD/);
    const sel = await s.cmd('SELECT INBOX');
    expect(sel.find((l) => l.startsWith('* FLAGS'))).toContain('$Important');
  });
});

describe('SEARCH', () => {
  const hits = (lines: string[]) => lines.find((l) => l.startsWith('* SEARCH'))!.split(' ').slice(2).map(Number);

  it('flags, sequence sets, sizes, dates, OR/NOT', async () => {
    expect(hits(await s.cmd('SEARCH ALL'))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(hits(await s.cmd('SEARCH SEEN'))).toEqual([1, 3]);
    expect(hits(await s.cmd('SEARCH UNSEEN NOT 6'))).toEqual([2, 4, 5]);
    expect(hits(await s.cmd('SEARCH KEYWORD $Important'))).toEqual([2]); // FLAGS replaced 3's
    expect(hits(await s.cmd('SEARCH OR ANSWERED FLAGGED'))).toEqual([3, 6]);
    expect(hits(await s.cmd('SEARCH 2:4 UNANSWERED'))).toEqual([2, 4]);
    expect(hits(await s.cmd('SEARCH LARGER 400'))).toEqual([6]);
    expect(hits(await s.cmd('SEARCH SINCE 4-Jan-2024 BEFORE 6-Jan-2024'))).toEqual([3, 4]);
    expect(hits(await s.cmd('SEARCH ON 2-Jan-2024'))).toEqual([1]);
    expect(hits(await s.cmd('SEARCH SENTON 14-Feb-2024'))).toEqual([6]);
    expect(hits(await s.cmd('SEARCH SENTBEFORE 1-Feb-2024'))).toEqual([1, 2, 3, 4, 5]);
    expect(hits(await s.cmd('UID SEARCH UID 2:3'))).toEqual([2, 3]);
    expect(hits(await s.cmd('SEARCH (OR 1 2) (NOT SEEN)'))).toEqual([2]);
    const recent = hits(await s.cmd('SEARCH RECENT'));
    const unseen = hits(await s.cmd('SEARCH UNSEEN'));
    expect(hits(await s.cmd('SEARCH NEW'))).toEqual(recent.filter((n) => unseen.includes(n)));
    expect(hits(await s.cmd('SEARCH OLD'))).toEqual([1, 2, 3, 4, 5, 6].filter((n) => !recent.includes(n)));
  });

  it('headers and text, case-insensitive, decoded', async () => {
    expect(hits(await s.cmd('SEARCH SUBJECT "test MESSAGE 4"'))).toEqual([4]);
    expect(hits(await s.cmd('SEARCH FROM sender5'))).toEqual([5]);
    expect(hits(await s.cmd('SEARCH TO carl'))).toEqual([6]);
    expect(hits(await s.cmd('SEARCH HEADER Message-ID "<msg2@"'))).toEqual([2]);
    expect(hits(await s.cmd('SEARCH HEADER X-Missing ""'))).toEqual([]);
    expect(hits(await s.cmd('SEARCH BODY needle-in-body'))).toEqual([6]);
    expect(hits(await s.cmd('SEARCH TEXT "this is message 3"'))).toEqual([3]);
    expect(hits(await s.cmd('SEARCH CHARSET UTF-8 SUBJECT multipart'))).toEqual([6]);
    expect(last(await s.cmd('SEARCH CHARSET X-UNKNOWN-CS SUBJECT x'))).toMatch(/NO \[BADCHARSET/);
    // RFC 2047 subject and a quoted-printable UTF-8 body, searched with 8-bit literals.
    const withLiteral = async (head: string, lit: Buffer) => {
      const tag = s.nextTag();
      s.send(Buffer.concat([Buffer.from(`${tag} ${head} {${lit.length}+}\r\n`), lit, Buffer.from('\r\n')]));
      return s.c.until(`${tag} `);
    };
    expect(hits(await withLiteral('SEARCH CHARSET UTF-8 SUBJECT', Buffer.from('grüße', 'utf8')))).toEqual([6]);
    expect(hits(await withLiteral('SEARCH CHARSET ISO-8859-1 BODY', Buffer.from('CAFÉ', 'latin1')))).toEqual([6]);
    expect(hits(await s.cmd('SEARCH TEXT "inner message"'))).toEqual([6]); // encapsulated message header
    expect(last(await s.cmd('SEARCH FROBNICATE'))).toMatch(/BAD/);
  });

  it('ESEARCH RETURN options', async () => {
    const r = await s.cmd('SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN');
    expect(r[0]).toMatch(/^\* ESEARCH \(TAG "t\d+"\) MIN 2 MAX 6 ALL 2,4:6 COUNT 4$/);
    const u = await s.cmd('UID SEARCH RETURN () SEEN');
    expect(u[0]).toMatch(/^\* ESEARCH \(TAG "t\d+"\) UID ALL 1,3$/);
    const none = await s.cmd('SEARCH RETURN (COUNT) KEYWORD nothing');
    expect(none[0]).toMatch(/COUNT 0$/);
  });
});

describe('COPY, MOVE, EXPUNGE', () => {
  it('copies with COPYUID and refuses a missing target with TRYCREATE', async () => {
    expect(last(await s.cmd('CREATE Archive'))).toMatch(/OK/);
    const c = await s.cmd('COPY 1:2 Archive');
    expect(last(c)).toMatch(/^t\d+ OK \[COPYUID \d+ 1:2 1:2\] COPY completed/);
    expect(last(await s.cmd('COPY 1 Nowhere'))).toMatch(/NO \[TRYCREATE\]/);
    expect((await s.cmd('STATUS Archive (MESSAGES)'))[0]).toMatch(/MESSAGES 2/);
  });

  it('moves with COPYUID and EXPUNGE responses', async () => {
    const m = await s.cmd('UID MOVE 4 Archive');
    expect(m[0]).toMatch(/^\* OK \[COPYUID \d+ 4 3\]/);
    expect(m).toContain('* 4 EXPUNGE');
    expect(last(m)).toMatch(/OK UID MOVE completed/);
    expect((await s.cmd('STATUS Archive (MESSAGES)'))[0]).toMatch(/MESSAGES 3/);
  });

  it('expunges \\Deleted messages; UID EXPUNGE only the given ones', async () => {
    await s.cmd('STORE 1:2 +FLAGS.SILENT (\\Deleted)');
    const ue = await s.cmd('UID EXPUNGE 2');
    expect(ue).toContain('* 2 EXPUNGE');
    expect(ue.filter((l) => l.endsWith('EXPUNGE')).length).toBe(1);
    const e = await s.cmd('EXPUNGE');
    expect(e).toContain('* 1 EXPUNGE');
    const left = await s.cmd('FETCH 1:* UID');
    expect(left.filter((l) => l.startsWith('*')).map((l) => /UID (\d+)/.exec(l)![1])).toEqual(['3', '5', '6']);
  });

  it('CLOSE expunges silently, UNSELECT does not', async () => {
    await s.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)');
    expect(last(await s.cmd('UNSELECT'))).toMatch(/OK/);
    expect((await s.cmd('STATUS INBOX (MESSAGES)'))[0]).toMatch(/MESSAGES 3/);
    await s.cmd('SELECT INBOX');
    const cl = await s.cmd('CLOSE');
    expect(cl.some((l) => l.includes('EXPUNGE'))).toBe(false);
    expect((await s.cmd('STATUS INBOX (MESSAGES)'))[0]).toMatch(/MESSAGES 2/);
    expect(last(await s.cmd('FETCH 1 UID'))).toMatch(/BAD/);
  });
});

describe('APPEND errors and quota', () => {
  it('refuses bad APPENDs', async () => {
    expect(last(await s.cmd('APPEND Nowhere {5+}\r\nhello'))).toMatch(/NO \[TRYCREATE\]/);
    expect(last(await s.cmd('APPEND INBOX "bad date" {5+}\r\nhello'))).toMatch(/BAD/);
    expect(last(await s.cmd('APPEND INBOX {0+}\r\n'))).toMatch(/NO/);
  });

  it('enforces user_quota with OVERQUOTA and reports QUOTA', async () => {
    const q = siteWithMessages(1, { user_quota: true }, { quota: '1' });
    const c = await connectImap(q.site);
    await c.login();
    const root = await c.cmd('GETQUOTAROOT INBOX');
    expect(root[0]).toBe('* QUOTAROOT INBOX ""');
    expect(root[1]).toMatch(/^\* QUOTA "" \(STORAGE \d+ 1\)$/);
    const big = 'x'.repeat(1500);
    // Starts under quota: allowed to finish over (DMail behaviour).
    expect(last(await c.cmd(`APPEND INBOX {${big.length}+}\r\n${big}`))).toMatch(/OK/);
    expect(last(await c.cmd(`APPEND INBOX {${big.length}+}\r\n${big}`))).toMatch(/NO \[OVERQUOTA\]/);
    await c.cmd('SELECT INBOX');
    await c.cmd('CREATE Other');
    expect(last(await c.cmd('COPY 1 Other'))).toMatch(/NO \[OVERQUOTA\]/);
    c.close();
    q.cleanup();
  });
});
