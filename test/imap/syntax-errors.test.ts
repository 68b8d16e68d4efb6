// Odd-but-legal syntax that real clients send, and the error answer of every command's failure paths,
// table-driven against the real binary.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectImap, last, siteWithMessages, type Imap, type TestSite } from './imap-client.js';

let t: TestSite;
let s: Imap;
beforeAll(async () => {
  t = siteWithMessages(4);
  s = await connectImap(t.site);
  await s.login();
  await s.cmd('CREATE "My Folder"');
  await s.cmd('SELECT INBOX');
});
afterAll(() => {
  s.close();
  t.cleanup();
});

const OK_CASES: [string, RegExp?][] = [
  ['select "INBOX"'],
  ['STATUS "My Folder" (messages uidnext)', /^\* STATUS "My Folder" \(MESSAGES 0 UIDNEXT \d+\)$/],
  ['FETCH 3:1 UID', /^\* 1 FETCH \(UID 1\)$/],
  ['FETCH 1,3 (UID)', /^\* 1 FETCH \(UID 1\)$/],
  ['FETCH * FAST', /^\* 4 FETCH \(FLAGS/],
  ['fetch 1 body.peek[header.fields ("Subject" from)]', /^\* 1 FETCH \(BODY\[HEADER\.FIELDS \(SUBJECT FROM\)\] \{\d+\}$/],
  ['FETCH 1 BODY.PEEK[1]<0.5>', /^\* 1 FETCH \(BODY\[1\]<0> \{5\}$/],
  ['FETCH 1 (BODY.PEEK[TEXT]<0.2048> BODY.PEEK[HEADER])', /^\* 1 FETCH \(BODY\[TEXT\]<0> \{\d+\}$/],
  ['FETCH 1 (INTERNALDATE UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (DATE FROM)])'],
  ['FETCH 1 FULL', /BODY \("text" "plain"/],
  ['FETCH 1 BODY.PEEK[5]', /^\* 1 FETCH \(BODY\[5\] (\{0\}|"")/],
  ['SEARCH *', /^\* SEARCH 4$/],
  ['SEARCH 1,3', /^\* SEARCH 1 3$/],
  ['SEARCH UID 1:*', /^\* SEARCH 1 2 3 4$/],
  ['UID SEARCH 2:3', /^\* SEARCH 2 3$/],
  ['search charset us-ascii subject "message"', /^\* SEARCH 1 2 3 4$/],
  ['SEARCH NOT (OR SUBJECT "message 1" OR SUBJECT "message 2" SUBJECT "message 3")', /^\* SEARCH 4$/],
  ['SEARCH (SUBJECT "message" FROM sender2)', /^\* SEARCH 2$/],
  ['SEARCH HEADER "Message-ID" "msg4"', /^\* SEARCH 4$/],
  ['SEARCH SMALLER 10', /^\* SEARCH$/],
  ['UID STORE 1:* +FLAGS.SILENT ($Seen-By-Test)'],
  ['UID COPY 1:2 "My Folder"', /COPYUID/],
  ['STORE 1 -FLAGS \\Seen'],
  ['APPEND "My Folder" {5+}\r\nhello', /APPENDUID/],
  ['APPEND "My Folder" () {5+}\r\nhello'],
  ['LIST "" "My*"', /^\* LIST \(.*\) "\/" "My Folder"$/],
  ['LIST "My Folder" ""', /^\* LIST \(\\Noselect\) "\/" ""$/],
  ['SUBSCRIBE {9+}\r\nMy Folder'],
  ['LSUB "" "*"', /^\* LSUB \(.*\) "\/" "My Folder"$/],
  ['CHECK'],
  ['NOOP'],
  ['ID NIL', /^\* ID /],
];

const ERROR_CASES: [string, RegExp][] = [
  // RFC 7162 syntax: refused before anything is enabled or changed.
  ['SELECT INBOX (', /^t\d+ BAD/],
  ['SELECT INBOX (CONDSTORE', /^t\d+ BAD/],
  ['EXAMINE INBOX (QRESYNC (1 2))', /^t\d+ BAD/],
  ['FETCH 1 FLAGS (CHANGEDSINCE 1', /^t\d+ BAD/],
  ['FETCH 1 FLAGS (CHANGEDSINCE -1)', /^t\d+ BAD/],
  ['FETCH 1 FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)', /^t\d+ BAD/],
  ['FETCH 1 FLAGS (VANISHED)', /^t\d+ BAD/],
  ['FETCH 1 FLAGS (FOO 1)', /^t\d+ BAD/],
  ['STORE 1 (UNCHANGEDSINCE) +FLAGS (\\Seen)', /^t\d+ BAD/],
  ['STORE 1 (UNCHANGEDSINCE 1 UNCHANGEDSINCE 2) +FLAGS (\\Seen)', /^t\d+ BAD/],
  ['STORE 1 +FLAGS \\Seen (UNCHANGEDSINCE 1)', /^t\d+ BAD/],
  ['SEARCH MODSEQ', /^t\d+ BAD/],
  ['SEARCH MODSEQ "/flags/\\\\seen" bogus 5', /^t\d+ BAD/],
  ['SEARCH MODSEQ "/other/x" all 5', /^t\d+ BAD/],
  ['STATUS INBOX (HIGHESTMODSEQ X)', /^t\d+ BAD/],
  ['CREATE', /^t\d+ BAD/],
  ['DELETE', /^t\d+ BAD/],
  ['RENAME Foo', /^t\d+ BAD/],
  ['SUBSCRIBE', /^t\d+ BAD/],
  ['STATUS Missing (MESSAGES)', /^t\d+ NO \[NONEXISTENT\]/],
  ['FETCH 1', /^t\d+ BAD/],
  ['FETCH 1 BODY[HEADER.FIELDS ()]', /^t\d+ BAD/],
  ['FETCH 1 BODY[1.MIME.TEXT]', /^t\d+ BAD/],
  ['FETCH 1 BODY[]<1>', /^t\d+ BAD/],
  ['FETCH 1 BODY[]<0.0>', /^t\d+ BAD/],
  ['FETCH 0 UID', /^t\d+ BAD/],
  ['FETCH a:b UID', /^t\d+ BAD/],
  ['FETCH 1 UID extra', /^t\d+ BAD/],
  ['STORE 1 +FLAGS', /^t\d+ BAD/],
  ['STORE 1 +FLAGS (\\Recent)', /^t\d+ OK/],
  ['STORE 1 FLAGS (\\*)', /^t\d+ BAD/],
  ['COPY 1', /^t\d+ BAD/],
  ['COPY 99 "My Folder"', /^t\d+ BAD/],
  ['UID COPY 99 "My Folder"', /^t\d+ OK/],
  ['MOVE 1 Missing', /^t\d+ NO \[TRYCREATE\]/],
  ['SEARCH', /^t\d+ BAD/],
  ['SEARCH (', /^t\d+ BAD/],
  ['SEARCH OR SEEN', /^t\d+ BAD/],
  ['SEARCH LARGER x', /^t\d+ BAD/],
  ['SEARCH $:3', /^t\d+ BAD/],
  ['UID EXPUNGE', /^t\d+ BAD/],
  ['UID EXPUNGE x', /^t\d+ BAD/],
  ['APPEND "My Folder" (\\Bogus) {1+}\r\nx', /^t\d+ BAD/],
  ['APPEND "My Folder" "1-Jan-2024 10:00:00" {1+}\r\nx', /^t\d+ BAD/],
  ['APPEND', /^t\d+ BAD/],
  ['DELETE INBOX', /^t\d+ NO/],
  ['LIST ""', /^t\d+ BAD/],
  ['GETQUOTA "other"', /^t\d+ NO/],
  ['GETQUOTAROOT Missing', /^t\d+ NO/],
  ['ENABLE', /^t\d+ BAD/],
  ['ID (', /^t\d+ BAD/],
  ['LOGIN bob secret', /^t\d+ BAD/],
  ['AUTHENTICATE PLAIN', /^t\d+ BAD/],
  ['STARTTLS', /^t\d+ BAD/],
  ['CAPABILITY extra', /^t\d+ BAD/],
  ['NAMESPACE x', /^t\d+ BAD/],
  // Last: a failed EXAMINE leaves no mailbox selected.
  ['EXAMINE Missing', /^t\d+ NO/],
  ['FETCH 1 UID', /^t\d+ BAD .*not allowed/],
];

describe('odd but legal syntax', () => {
  for (const [cmd, first] of OK_CASES) {
    it(cmd.replace(/\r\n/g, ' '), async () => {
      const r = await s.cmd(cmd);
      expect(last(r), r.join('\n')).toMatch(/^t\d+ OK/);
      if (first) expect(r.join('\n')).toMatch(new RegExp(first.source, 'm'));
    });
  }
});

describe('error answers', () => {
  for (const [cmd, answer] of ERROR_CASES) {
    it(cmd.replace(/\r\n/g, ' ') || '(empty)', async () => {
      expect(last(await s.cmd(cmd))).toMatch(answer);
    });
  }

  it('read-only mailbox refuses EXPUNGE, MOVE, STORE', async () => {
    await s.cmd('EXAMINE INBOX');
    expect(last(await s.cmd('EXPUNGE'))).toMatch(/^t\d+ NO/);
    expect(last(await s.cmd('MOVE 1 "My Folder"'))).toMatch(/^t\d+ NO/);
    expect(last(await s.cmd('STORE 1 +FLAGS (\\Deleted)'))).toMatch(/^t\d+ NO/);
    expect(last(await s.cmd('COPY 1 "My Folder"'))).toMatch(/^t\d+ OK/);
    await s.cmd('SELECT INBOX');
  });

  it('DELETE of the selected folder succeeds; the next command ends the session with BYE (as Dovecot)', async () => {
    const own = await connectImap(t.site);
    try {
      await own.login();
      await own.cmd('CREATE Doomed');
      expect(last(await own.cmd('SELECT Doomed'))).toMatch(/OK/);
      expect(last(await own.cmd('DELETE Doomed'))).toMatch(/^t\d+ OK DELETE completed/);
      own.send('n1 NOOP\r\n');
      expect(last(await own.c.until('* BYE'))).toBe('* BYE Selected mailbox was deleted, have to disconnect.');
      expect(await own.c.exited()).toBe(0);
    } finally {
      own.close();
    }
  });

  it('IDLE ends with BAD on anything but DONE', async () => {
    s.send('i1 IDLE\r\n');
    expect(await s.c.line()).toBe('+ idling');
    s.send('NOPE\r\n');
    expect(last(await s.c.until('i1 '))).toMatch(/^i1 BAD/);
    expect(last(await s.cmd('NOOP'))).toMatch(/OK/);
  });
});
