// RFC 5465 NOTIFY over the real bin/imapd, several real processes: one session sets NOTIFY and only
// listens; another session (and procmail) change the selected mailbox and other folders, create, delete
// and subscribe. Every expectation waits for the pushed line itself (no timings).
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectImap, haveProcmail, imapFixture, last, procmailDeliver, type Imap } from './imap-client.js';
import { TEST_STORE, userMaildir } from '../maildir/site-store.js';
import type { TestSite } from './imap-client.js';

/** The stored bytes of folder `name` of bob (mbox file, or every maildir message file). */
function folderBytes(t: TestSite, name: string): string {
  if (TEST_STORE === 'mbox') return readFileSync(join(`${t.site.drop('bob')}.mbx`, name), 'latin1');
  const dir = join(userMaildir(t.site, 'bob'), `.${name}`);
  return ['cur', 'new'].flatMap((d) => (existsSync(join(dir, d)) ? readdirSync(join(dir, d)).map((f) => readFileSync(join(dir, d, f), 'latin1')) : [])).join('');
}

const fx = imapFixture();
const MSG = 'Subject: hi\r\n\r\nhello\r\n';

/** Read pushed lines until one matches; returns it (the lines before it are returned too). */
async function pushed(s: Imap, re: RegExp): Promise<{ line: string; before: string[] }> {
  const before: string[] = [];
  for (;;) {
    const l = await s.c.line(10_000);
    if (re.test(l)) return { line: l, before };
    before.push(l);
  }
}

describe('NOTIFY (RFC 5465)', () => {
  it('advertises NOTIFY; refuses unsupported events with BADEVENT and malformed filters with BAD', async () => {
    const t = fx.site(1);
    const s = await fx.session(t);
    expect(last(await s.cmd('CAPABILITY'))).toMatch(/OK/);
    expect(s.greeting).toMatch(/ NOTIFY[ \]]/);
    expect(last(await s.cmd('NOTIFY SET (selected (AnnotationChange))'))).toMatch(/^t\d+ NO \[BADEVENT \(MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange\)\]/);
    expect(last(await s.cmd('NOTIFY SET (personal (MailboxMetadataChange))'))).toMatch(/NO \[BADEVENT/);
    expect(last(await s.cmd('NOTIFY SET (personal (Bogus))'))).toMatch(/NO \[BADEVENT/);
    // MessageNew and MessageExpunge go together; FlagChange needs them.
    expect(last(await s.cmd('NOTIFY SET (personal (MessageNew))'))).toMatch(/^t\d+ BAD/);
    expect(last(await s.cmd('NOTIFY SET (personal (FlagChange))'))).toMatch(/^t\d+ BAD/);
    // Fetch attributes only for the selected mailbox.
    expect(last(await s.cmd('NOTIFY SET (personal (MessageNew (UID) MessageExpunge))'))).toMatch(/^t\d+ BAD/);
    expect(last(await s.cmd('NOTIFY SET (elsewhere (MessageNew MessageExpunge))'))).toMatch(/^t\d+ BAD/);
    expect(last(await s.cmd('NOTIFY SET (selected (MessageNew MessageExpunge)) (selected-delayed (MessageNew MessageExpunge))'))).toMatch(/^t\d+ BAD/);
    expect(last(await s.cmd('NOTIFY BOGUS'))).toMatch(/^t\d+ BAD/);
    expect(last(await s.cmd('NOTIFY SET (personal NONE)'))).toMatch(/^t\d+ OK/);
    expect(last(await s.cmd('NOTIFY NONE'))).toMatch(/^t\d+ OK/);
    // Not before login.
    const p = await connectImap(t.site);
    fx.onCleanup(() => p.close());
    expect(last(await p.cmd('NOTIFY NONE'))).toMatch(/^t\d+ BAD/);
  });

  it('STATUS indicator: the current state of each named mailbox at once; then STATUS on changes by another session', async () => {
    const t = fx.site(2);
    const other = await fx.session(t, 'CREATE Work', 'CREATE Lists');
    const s = await fx.session(t);
    const r = await s.cmd('NOTIFY SET STATUS (mailboxes (Work Lists) (MessageNew MessageExpunge FlagChange))');
    expect(last(r)).toMatch(/^t\d+ OK/);
    expect(r).toContain('* STATUS Work (MESSAGES 0 UIDNEXT 1 UIDVALIDITY ' + /UIDVALIDITY (\d+)/.exec(r.find((l) => l.includes('Work'))!)![1] + ' UNSEEN 0)');
    expect(r.some((l) => l.startsWith('* STATUS Lists (MESSAGES 0 '))).toBe(true);
    // Another session appends to Work: pushed without a command.
    expect(last(await other.cmd(`APPEND Work {${MSG.length}+}\r\n${MSG}`))).toMatch(/OK/);
    expect((await pushed(s, /^\* STATUS Work /)).line).toMatch(/^\* STATUS Work \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1\)$/);
    // A flag change there (FlagChange): UNSEEN.
    expect(last(await other.cmd('SELECT Work'))).toMatch(/OK/);
    expect(last(await other.cmd('STORE 1 +FLAGS (\\Seen)'))).toMatch(/OK/);
    expect((await pushed(s, /^\* STATUS Work /)).line).toMatch(/\(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 0\)$/);
    // An expunge (MessageExpunge). The listening session opened no handle on Work, so nothing holds
    // the expunged message back: its bytes leave the storage at once (deferred removal has no claim).
    expect(folderBytes(t, 'Work')).toContain('hello');
    expect(last(await other.cmd('STORE 1 +FLAGS (\\Deleted)'))).toMatch(/OK/);
    expect(last(await other.cmd('EXPUNGE'))).toMatch(/OK/);
    expect(last(await other.cmd('UNSELECT'))).toMatch(/OK/);
    expect(folderBytes(t, 'Work')).not.toContain('hello');
    expect((await pushed(s, /^\* STATUS Work \(MESSAGES 0 /)).line).toMatch(/UIDNEXT 2 /);
    // The listening session still works normally, and NOTIFY NONE stops it all.
    expect(last(await s.cmd('NOTIFY NONE'))).toMatch(/OK/);
    expect(last(await other.cmd(`APPEND Lists {${MSG.length}+}\r\n${MSG}`))).toMatch(/OK/);
    const n = await s.cmd('NOOP');
    expect(n).toEqual([n[0]]);
    expect(n[0]).toMatch(/^t\d+ OK/);
  });

  it('selected: procmail deliveries pushed as EXISTS plus the MessageNew fetch attributes; flags and expunges of another session', async () => {
    if (!haveProcmail) return;
    const t = fx.site(3);
    const other = await fx.session(t, 'SELECT INBOX');
    const s = await fx.session(t, 'SELECT INBOX');
    expect(last(await s.cmd('NOTIFY SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (Subject)]) MessageExpunge FlagChange)) (personal (MessageNew MessageExpunge))'))).toMatch(/OK/);
    await procmailDeliver(t, 4);
    const ex = await pushed(s, /^\* 4 EXISTS$/);
    expect(ex.before.filter((l) => !/RECENT/.test(l))).toEqual([]);
    const f = await pushed(s, /^\* 4 FETCH /);
    expect(f.line).toMatch(/^\* 4 FETCH \(UID 4 BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}$/i);
    expect(await s.c.line()).toBe('Subject: Test message 4');
    // A flag set by the other session.
    expect(last(await other.cmd('STORE 2 +FLAGS (\\Flagged)'))).toMatch(/OK/);
    expect((await pushed(s, /^\* 2 FETCH /)).line).toBe('* 2 FETCH (UID 2 FLAGS (\\Flagged))');
    // An expunge by the other session.
    expect(last(await other.cmd('STORE 1 +FLAGS (\\Deleted)'))).toMatch(/OK/);
    expect(last(await other.cmd('EXPUNGE'))).toMatch(/OK/);
    await pushed(s, /^\* 1 EXPUNGE$/);
    const st = await s.cmd('FETCH 1:* (UID)');
    expect(st.slice(0, -1)).toEqual(['* 1 FETCH (UID 2)', '* 2 FETCH (UID 3)', '* 3 FETCH (UID 4)']);
  });

  it('selected-delayed: flag changes pushed at once, the expunge held back until a command allows it', async () => {
    const t = fx.site(3);
    const other = await fx.session(t, 'SELECT INBOX');
    const s = await fx.session(t, 'SELECT INBOX');
    expect(last(await s.cmd('NOTIFY SET (selected-delayed (MessageNew MessageExpunge FlagChange))'))).toMatch(/OK/);
    expect(last(await other.cmd('STORE 1 +FLAGS (\\Deleted)'))).toMatch(/OK/);
    expect(last(await other.cmd('EXPUNGE'))).toMatch(/OK/);
    expect(last(await other.cmd('STORE 2 +FLAGS (\\Flagged)'))).toMatch(/OK/);
    // Message 3 (UID 3) is still number 3 for this session: no EXPUNGE went out before its flags.
    const f = await pushed(s, /^\* 3 FETCH \((UID 3 )?FLAGS \(\\Flagged( \\Recent)?\)\)$/);
    expect(f.before.filter((l) => /EXPUNGE/.test(l))).toEqual([]);
    const n = await s.cmd('NOOP');
    expect(n).toContain('* 1 EXPUNGE');
  });

  it('MailboxName and SubscriptionChange: CREATE, DELETE, SUBSCRIBE, UNSUBSCRIBE by another session, also during IDLE', async () => {
    const t = fx.site(1);
    const other = await fx.session(t, 'CREATE Old');
    const s = await fx.session(t);
    expect(last(await s.cmd('NOTIFY SET (personal (MessageNew MessageExpunge MailboxName SubscriptionChange))'))).toMatch(/OK/);
    expect(last(await other.cmd('CREATE Fresh'))).toMatch(/OK/);
    expect((await pushed(s, /^\* LIST .*Fresh/)).line).toBe('* LIST () "/" Fresh');
    expect(last(await other.cmd('DELETE Old'))).toMatch(/OK/);
    expect((await pushed(s, /^\* LIST .*Old/)).line).toBe('* LIST (\\NonExistent) "/" Old');
    expect(last(await other.cmd('SUBSCRIBE Fresh'))).toMatch(/OK/);
    expect((await pushed(s, /^\* LIST \(\\Subscribed\)/)).line).toBe('* LIST (\\Subscribed) "/" Fresh');
    // During IDLE: the news arrives while the client waits.
    s.send('i1 IDLE\r\n');
    expect(await s.c.line()).toMatch(/^\+ /);
    expect(last(await other.cmd('UNSUBSCRIBE Fresh'))).toMatch(/OK/);
    expect((await pushed(s, /^\* LIST .*Fresh/)).line).toBe('* LIST () "/" Fresh');
    expect(last(await other.cmd(`APPEND Fresh {${MSG.length}+}\r\n${MSG}`))).toMatch(/OK/);
    expect((await pushed(s, /^\* STATUS Fresh /)).line).toMatch(/^\* STATUS Fresh \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1\)$/);
    // A rename: one LIST with OLDNAME when the listener recognises it (same UIDVALIDITY), else (it
    // learnt of the deletion before the creation) the deletion and the creation.
    expect(last(await other.cmd('RENAME Fresh Renamed'))).toMatch(/OK/);
    const ren = (await pushed(s, /^\* LIST /)).line;
    if (ren !== '* LIST () "/" Renamed ("OLDNAME" (Fresh))') {
      expect(ren).toBe('* LIST (\\NonExistent) "/" Fresh');
      expect((await pushed(s, /^\* LIST /)).line).toBe('* LIST () "/" Renamed');
    }
    s.send('DONE\r\n');
    expect((await pushed(s, /^i1 /)).line).toBe('i1 OK IDLE terminated');
  });

  it('subtree and inboxes filters; a mailbox outside every filter says nothing; procmail into INBOX gives STATUS', async () => {
    if (!haveProcmail) return;
    const t = fx.site(1);
    const other = await fx.session(t, 'CREATE Proj/', 'CREATE Proj/A', 'CREATE Else');
    const s = await fx.session(t);
    expect(last(await s.cmd('NOTIFY SET (inboxes (MessageNew MessageExpunge)) (subtree Proj (MessageNew MessageExpunge))'))).toMatch(/OK/);
    expect(last(await other.cmd(`APPEND Else {${MSG.length}+}\r\n${MSG}`))).toMatch(/OK/);
    expect(last(await other.cmd(`APPEND Proj/A {${MSG.length}+}\r\n${MSG}`))).toMatch(/OK/);
    const a = await pushed(s, /^\* STATUS /);
    expect(a.line).toMatch(/^\* STATUS Proj\/A \(MESSAGES 1 /);
    await procmailDeliver(t, 2);
    const b = await pushed(s, /^\* STATUS /);
    expect(b.line).toMatch(/^\* STATUS INBOX \(MESSAGES 2 UIDNEXT 3 /);
    expect([...a.before, ...b.before].some((l) => l.includes('Else'))).toBe(false);
  });
});
