// X-IMAPbase `<uidvalidity> <n>` and UW's hidden X-IMAP message: n is the LAST UID assigned (UW c-client
// and Dovecot write it so), not the next one. Read with a UW-written and a Dovecot-written mbox (Dovecot
// 2.3's own imap binary writes it here), and our writes read back by Dovecot.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempUser, type TempUser } from './helpers.js';
import { dovecotImap, dovecotUnavailable } from './dovecot-preauth.js';

const users: TempUser[] = [];
const mk = () => { const u = tempUser(); users.push(u); return u; };
afterEach(() => { for (const u of users.splice(0)) u.cleanup(); });

const UW_PSEUDO = 'From MAILER-DAEMON Tue Jan 05 16:41:58 1999\nDate: Tue, 05 Jan 1999 16:41:58 +0000\n' +
  'From: Mail System Internal Data <MAILER-DAEMON@uw.example>\n' +
  "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nMessage-ID: <915554518@uw.example>\n" +
  'X-IMAP: 1234567890 0000000009 Work\nStatus: RO\n\n' +
  'This text is part of the internal format of your mail folder, and is not\na real message.  It is created automatically by the mail system software.\n' +
  'If deleted, important folder data will be lost, and it will be re-created\nwith the data reset to initial values.\n\n';

describe('X-IMAPbase carries the last UID assigned', () => {
  it('a message without X-UID under `X-IMAPbase: 1234567890 9` gets UID 10 (Dovecot/UW header on the first message)', async () => {
    const u = mk();
    writeFileSync(u.paths.inbox,
      'From a Tue Jan 05 16:41:58 1999\nX-IMAPbase: 1234567890 9\nSubject: one\nX-UID: 5\nStatus: RO\n\nbody one\n\n' +
      'From b Tue Jan 05 16:41:59 1999\nSubject: two (delivered later, no X-UID)\n\nbody two\n\n');
    const box = await u.store().open('INBOX');
    expect(box.state.uidValidity).toBe(1234567890);
    expect(box.state.messages.map((m) => m.uid)).toEqual([5, 10]);
    expect(box.state.uidNext).toBe(11);
    await box.close();
  });

  it('the same under UW\'s hidden X-IMAP message, and it is written back as the last UID', async () => {
    const u = mk();
    writeFileSync(u.paths.inbox, UW_PSEUDO +
      'From a Tue Jan 05 16:41:58 1999\nSubject: one\nX-UID: 7\nStatus: RO\n\nbody one\n\n' +
      'From b Tue Jan 05 16:41:59 1999\nSubject: two\n\nbody two\n\n');
    const box = await u.store().open('INBOX');
    expect(box.state.uidValidity).toBe(1234567890);
    expect(box.state.messages.map((m) => m.uid)).toEqual([7, 10]);
    expect(box.state.uidNext).toBe(11);
    // A rewrite stamps UIDs into the spool; an expunge brings X-IMAP up to date: "last assigned" = 11.
    await box.setFlags([10], 'add', ['\\Seen']);
    const a = await u.store().append('INBOX', Buffer.from('Subject: three\n\nbody three\n'));
    expect(a.uid).toBe(11);
    await box.refresh();
    expect(await box.expunge([7])).toEqual([7]);
    await box.close();
    const text = readFileSync(u.paths.inbox, 'latin1');
    expect(text).toMatch(/\nX-IMAP: 1234567890 0000000011 Work /);
    expect(text).not.toContain('X-IMAPbase');
    // Without our index, the spool alone gives the same UIDs and UIDNEXT.
    unlinkSync(join(u.paths.indexDir, 'INBOX.idx'));
    const again = await u.store().open('INBOX');
    expect(again.state.messages.map((m) => m.uid)).toEqual([10, 11]);
    expect(again.state.uidNext).toBe(12);
    await again.close();
  });

  it('our X-IMAPbase says UIDNEXT - 1', async () => {
    const u = mk();
    for (let i = 1; i <= 3; i++) u.deliver(`Subject: m${i}\n\nbody ${i}\n`);
    const box = await u.store().open('INBOX');
    await box.setFlags([1], 'add', ['\\Seen']); // first rewrite: X-UID and X-IMAPbase go into the spool
    await box.close();
    expect(readFileSync(u.paths.inbox, 'latin1')).toMatch(new RegExp(`X-IMAPbase: ${box.state.uidValidity} 0*3 `));
  });
});

/** What UW c-client checks when it reads a spool: every X-UID ascending and not above the last UID the
 *  base header records (else it drops the UIDVALIDITY and renumbers every message). */
function uwAccepts(text: string): { last: number; uids: number[]; ok: boolean } {
  const last = Number(/^X-IMAP(?:base)?: \d+ (\d+)/m.exec(text)?.[1] ?? NaN);
  const uids = [...text.matchAll(/^X-UID: (\d+)$/gm)].map((m) => Number(m[1]));
  return { last, uids, ok: uids.every((u, i) => u <= last && (i === 0 || u > uids[i - 1]!)) };
}

describe('X-UIDs we write never pass the base header (UW c-client would renumber everything)', () => {
  const spools: [string, string][] = [
    ['UW\'s short X-IMAPbase', 'From a Tue Jan 05 16:41:58 1999\nX-IMAPbase: 1234567890 2\nSubject: one\nX-UID: 2\nStatus: RO\n\nbody one\n\n'],
    ['UW\'s hidden X-IMAP message', UW_PSEUDO.replace('0000000009', '0000000002') + 'From a Tue Jan 05 16:41:58 1999\nSubject: one\nX-UID: 2\nStatus: RO\n\nbody one\n\n'],
    ['our own padded header', ''],
  ];
  for (const [what, start] of spools) {
    it(`after deliveries, flag changes and appends: ${what}`, async () => {
      const u = mk();
      if (start) writeFileSync(u.paths.inbox, start);
      else { u.deliver('Subject: zero\n\nbody\n'); const b = await u.store().open('INBOX'); await b.setFlags([b.state.messages[0]!.uid], 'add', ['\\Seen']); await b.close(); }
      const box = await u.store().open('INBOX');
      for (let i = 0; i < 3; i++) {
        u.deliver(`Subject: mda ${i}\n\nbody ${i}\n`); // no X-UID: gets one at the next rewrite
        const st = await box.refresh();
        await box.setFlags([st.messages[st.messages.length - 1]!.uid], 'add', ['\\Flagged']);
        const check = uwAccepts(readFileSync(u.paths.inbox, 'latin1'));
        expect(check, `after flag change ${i}`).toMatchObject({ ok: true });
        await u.store().append('INBOX', Buffer.from(`Subject: app ${i}\r\n\r\nappended ${i}\r\n`));
        expect(uwAccepts(readFileSync(u.paths.inbox, 'latin1')), `after append ${i}`).toMatchObject({ ok: true });
      }
      const final = uwAccepts(readFileSync(u.paths.inbox, 'latin1'));
      expect(final.uids).toHaveLength(7);
      expect(final.last).toBe(Math.max(...final.uids));
      // Our own reading agrees with the spool alone.
      await box.close();
      unlinkSync(join(u.paths.indexDir, 'INBOX.idx'));
      const again = await u.store().open('INBOX');
      expect(again.state.messages.map((m) => m.uid)).toEqual(final.uids);
      await again.close();
    });
  }
});

describe.skipIf(dovecotUnavailable() !== null)('with Dovecot 2.3 writing and reading the mbox', () => {
  it('reads what Dovecot wrote (expunged top UID not reused) and Dovecot reads what we wrote', async () => {
    const u = mk();
    mkdirSync(u.paths.folders, { recursive: true });
    writeFileSync(u.paths.inbox, '');
    const location = `mbox:${u.paths.folders}:INBOX=${u.paths.inbox}:INDEX=MEMORY`;
    const m = (i: number) => `Subject: m${i}\r\nMessage-ID: <m${i}@x>\r\n\r\nbody ${i}\r\n`;
    const out = await dovecotImap(u.dir, location, [
      'SELECT INBOX', ['APPEND INBOX', m(1)], ['APPEND INBOX', m(2)], ['APPEND INBOX', m(3)],
      'NOOP', 'STORE 3 +FLAGS (\\Deleted)', 'EXPUNGE', 'LOGOUT',
    ], ['mbox_lazy_writes = no']);
    const uidValidity = Number(/APPENDUID (\d+) 3\]/.exec(out)?.[1]);
    expect(uidValidity).toBeGreaterThan(0);
    const written = readFileSync(u.paths.inbox, 'latin1');
    expect(written).toMatch(new RegExp(`X-IMAPbase: ${uidValidity} 0*3\\b`)); // Dovecot: the last UID assigned

    const box = await u.store().open('INBOX');
    expect(box.state.uidValidity).toBe(uidValidity);
    expect(box.state.messages.map((x) => x.uid)).toEqual([1, 2]);
    expect(box.state.uidNext).toBe(4);
    u.deliver('Subject: m4\nMessage-ID: <m4@x>\n\nbody 4\n'); // the MDA: no X-UID
    const st = await box.refresh();
    expect(st.messages.map((x) => x.uid)).toEqual([1, 2, 4]); // UID 3 is never given again
    await box.setFlags([4], 'add', ['\\Flagged']); // our rewrite stamps X-UID 4 and X-IMAPbase
    await box.close();

    const back = await dovecotImap(u.dir, location, ['STATUS INBOX (UIDNEXT UIDVALIDITY MESSAGES)', 'SELECT INBOX', 'UID FETCH 1:* (FLAGS)', 'LOGOUT']);
    const status = /\* STATUS INBOX \(([^)]*)\)/.exec(back)?.[1] ?? '';
    expect(status.split(' ')).toEqual(expect.arrayContaining(['UIDNEXT', '5', 'UIDVALIDITY', String(uidValidity), 'MESSAGES', '3']));
    expect(back).toMatch(/\* 3 FETCH \((UID 4 FLAGS \([^)]*\\Flagged[^)]*\)|FLAGS \([^)]*\\Flagged[^)]*\) UID 4)\)/);
  });
});

