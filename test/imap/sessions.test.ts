// Issue 11: several real imapd processes (and procmail, and dpop) on one mailbox. A session works on the
// view it was given until it is told otherwise; keywords are announced before use; \Recent goes to
// exactly one session; IDLE hears other sessions and the MDA; a folder deleted or renamed under a
// session ends it with Dovecot's BYE.
import { describe, expect, it } from 'vitest';
import { simpleMessage } from '../helpers/site.js';
import { pop } from '../pop3/pop-client.js';
import { haveProcmail, imapFixture, last, procmailDeliver, type Imap, type TestSite } from './imap-client.js';

const fx = imapFixture();
const site = (n: number): TestSite => fx.site(n);
/** A session with INBOX selected, or with the given command ('' for none). */
const session = (t: TestSite, select = 'SELECT INBOX'): Promise<Imap> => (select ? fx.session(t, select) : fx.session(t));
const procmail = procmailDeliver;

const tagged = (lines: string[]) => last(lines);
const untagged = (lines: string[]) => lines.slice(0, -1);

describe('a message expunged by another session', () => {
  it('still FETCHes with its original data and bytes, STORE is a silent no-op, COPY skips it', async () => {
    const t = site(3);
    const a = await session(t);
    const b = await session(t);
    expect(last(await b.cmd('CREATE Keep'))).toMatch(/OK/);
    const before = await b.cmd('FETCH 2 (UID FLAGS RFC822.SIZE BODY.PEEK[])');
    expect(tagged(before)).toMatch(/OK/);
    await a.cmd('STORE 2 +FLAGS.SILENT (\\Deleted)');
    expect(await a.cmd('EXPUNGE')).toContain('* 2 EXPUNGE');

    // B has not been told (no command of B ran since): sequence 2 is still UID 2, with its bytes.
    const f = await b.cmd('FETCH 2 (UID FLAGS RFC822.SIZE BODY.PEEK[])');
    expect(tagged(f)).toMatch(/^t\d+ OK FETCH completed/);
    expect(f.join('\n')).toContain('Hello, this is message 2.');
    expect(f[0]).toBe(before[0]); // same UID, flags as B knew them, same size and literal length
    expect(f.some((l) => /EXPUNGE/.test(l))).toBe(false);
    const all = await b.cmd('FETCH 1:* (UID)');
    expect(tagged(all)).toMatch(/OK/);
    expect(untagged(all).filter((l) => /^\* \d+ FETCH /.test(l))).toEqual(['* 1 FETCH (UID 1)', '* 2 FETCH (UID 2)', '* 3 FETCH (UID 3)']);

    const st = await b.cmd('STORE 2 +FLAGS (\\Flagged)');
    expect(tagged(st)).toMatch(/^t\d+ OK STORE completed/);
    expect(st.some((l) => l.startsWith('* 2 FETCH'))).toBe(false);
    const mixed = await b.cmd('STORE 1:3 +FLAGS (\\Seen)');
    expect(tagged(mixed)).toMatch(/OK/);
    expect(mixed.filter((l) => /^\* \d+ FETCH /.test(l)).map((l) => l.split(' ')[1])).toEqual(['1', '3']);

    // COPY copies what still exists, and (EXPUNGE being allowed after COPY) tells B at last.
    const cp = await b.cmd('COPY 1:3 Keep');
    expect(tagged(cp)).toMatch(/^t\d+ OK \[COPYUID \d+ 1,3 1:2\]/);
    expect(cp).toContain('* 2 EXPUNGE');
    // From then on the message is gone for B too: by UID a silent no-op, nothing fetched.
    const us = await b.cmd('UID STORE 2 +FLAGS (\\Answered)');
    expect(us.length).toBe(1);
    expect(tagged(us)).toMatch(/OK/);
    const after = await b.cmd('UID FETCH 2 (UID)');
    expect(untagged(after)).toEqual([]);
    const st2 = await b.cmd('STATUS Keep (MESSAGES)');
    expect(st2[0]).toBe('* STATUS Keep (MESSAGES 2)');
  });

  it('MOVE moves what still exists and says nothing about the rest', async () => {
    const t = site(3);
    const a = await session(t);
    const b = await session(t);
    expect(last(await b.cmd('CREATE Keep'))).toMatch(/OK/);
    await a.cmd('STORE 2 +FLAGS.SILENT (\\Deleted)');
    await a.cmd('EXPUNGE');
    const mv = await b.cmd('MOVE 1:3 Keep');
    expect(last(mv)).toMatch(/^t\d+ OK MOVE completed/);
    expect(mv.find((l) => l.startsWith('* OK [COPYUID '))).toMatch(/^\* OK \[COPYUID \d+ 1,3 1:2\] Moved$/);
    expect(mv.filter((l) => / EXPUNGE$/.test(l))).toEqual(['* 3 EXPUNGE', '* 2 EXPUNGE', '* 1 EXPUNGE']);
    expect((await a.cmd('STATUS Keep (MESSAGES)'))[0]).toBe('* STATUS Keep (MESSAGES 2)');
    expect((await a.cmd('STATUS INBOX (MESSAGES)'))[0]).toBe('* STATUS INBOX (MESSAGES 0)');
  });

  it('POP3 can RETR what an IMAP session expunged during its listing', async () => {
    const t = site(3);
    const p = await pop(t.site);
    fx.onCleanup(() => p.close());
    expect(await p.login()).toMatch(/^\+OK/);
    const a = await session(t);
    await a.cmd('STORE 1:2 +FLAGS.SILENT (\\Deleted)');
    expect(await a.cmd('EXPUNGE')).toContain('* 1 EXPUNGE');
    const r = await p.multiCmd('RETR 2');
    expect(r.status).toMatch(/^\+OK/);
    expect(r.lines.join('\n')).toContain('Hello, this is message 2.');
    expect(await p.cmd('DELE 1')).toMatch(/^\+OK/);
    expect(await p.cmd('QUIT')).toMatch(/^\+OK/);
    const s = await a.cmd('STATUS INBOX (MESSAGES)');
    expect(s[0]).toBe('* STATUS INBOX (MESSAGES 1)');
  });
});

describe('keywords set by another session', () => {
  it('are announced in FLAGS and PERMANENTFLAGS before a FETCH names them', async () => {
    const t = site(2);
    const a = await session(t);
    const b = await session(t);
    expect(tagged(await a.cmd('STORE 1 +FLAGS ($Label1 Work)'))).toMatch(/OK/);
    const n = await b.cmd('NOOP');
    const flags = n.findIndex((l) => l.startsWith('* FLAGS ') && l.includes('$Label1') && l.includes('Work'));
    const perm = n.findIndex((l) => l.startsWith('* OK [PERMANENTFLAGS ') && l.includes('$Label1'));
    const fetch = n.findIndex((l) => l.startsWith('* 1 FETCH') && l.includes('$Label1'));
    expect(flags).toBeGreaterThanOrEqual(0);
    expect(perm).toBeGreaterThan(flags);
    expect(fetch).toBeGreaterThan(perm);
    // Known now: no second announcement.
    await a.cmd('STORE 2 +FLAGS (Work)');
    const n2 = await b.cmd('NOOP');
    expect(n2.some((l) => l.startsWith('* FLAGS'))).toBe(false);
    expect(n2.some((l) => l.startsWith('* 2 FETCH') && l.includes('Work'))).toBe(true);
    // A session that sets a new keyword itself hears of it first too.
    const own = await b.cmd('STORE 2 +FLAGS (Fresh)');
    const of = own.findIndex((l) => l.startsWith('* FLAGS ') && l.includes('Fresh'));
    expect(of).toBeGreaterThanOrEqual(0);
    expect(own.findIndex((l) => l.startsWith('* 2 FETCH') && l.includes('Fresh'))).toBeGreaterThan(of);
  });
});

describe('flags changed by another session the view has not heard of yet', () => {
  it('a STORE -FLAGS from the stale view removes the flag another session set (and +FLAGS keeps theirs)', async () => {
    const t = site(2);
    const a = await session(t);
    const b = await session(t);
    expect(tagged(await a.cmd('STORE 1 +FLAGS (\\Seen $Theirs)'))).toMatch(/OK/);
    // b has not been told: its view of message 1 has no flags. Its STORE still works on the message as
    // it is now, and answers with the flags the message really has afterwards.
    const minus = await b.cmd('STORE 1 -FLAGS (\\Seen)');
    expect(tagged(minus)).toMatch(/OK/);
    const seen = minus.filter((l) => l.startsWith('* 1 FETCH'));
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.at(-1)).not.toContain('\\Seen');
    expect(seen.at(-1)).toContain('$Theirs');
    const plus = await b.cmd('STORE 2 +FLAGS (\\Flagged)');
    expect(tagged(plus)).toMatch(/OK/);
    const c = await session(t, 'EXAMINE INBOX');
    const f = await c.cmd('FETCH 1:2 (FLAGS)');
    expect(f.find((l) => l.startsWith('* 1 FETCH'))).not.toContain('\\Seen');
    expect(f.find((l) => l.startsWith('* 1 FETCH'))).toContain('$Theirs');
    expect(f.find((l) => l.startsWith('* 2 FETCH'))).toContain('\\Flagged');
  });
});

describe('\\Recent', () => {
  it('goes to exactly one of several sessions selecting at once; EXAMINE and STATUS do not take it', async () => {
    const t = site(0);
    const watcher = await session(t, '');
    for (let i = 1; i <= 3; i++) {
      if (haveProcmail) await procmail(t, i);
      else expect(last(await watcher.cmd(`APPEND INBOX {${simpleMessage(i).length}+}\r\n${simpleMessage(i)}`))).toMatch(/OK/);
    }
    expect((await watcher.cmd('STATUS INBOX (MESSAGES RECENT)'))[0]).toBe('* STATUS INBOX (MESSAGES 3 RECENT 3)');
    const ex = await session(t, '');
    await ex.cmd('EXAMINE INBOX');
    expect((await watcher.cmd('STATUS INBOX (RECENT)'))[0]).toBe('* STATUS INBOX (RECENT 3)');
    // Three processes SELECT at the same instant: the three messages are recent in exactly one.
    const racers = await Promise.all([0, 1, 2].map(() => session(t, '')));
    const answers = await Promise.all(racers.map((r) => r.cmd('SELECT INBOX')));
    const counts0 = answers.map((a) => Number(a.find((l) => / RECENT$/.test(l))!.split(' ')[1]));
    expect([...counts0].sort()).toEqual([0, 0, 3]);
    const winner = racers[answers.findIndex((a) => a.includes('* 3 RECENT'))]!;
    const wf = await winner.cmd('FETCH 1:* (FLAGS)');
    expect(wf.filter((l) => l.includes('\\Recent')).length).toBe(3);
    expect((await watcher.cmd('STATUS INBOX (RECENT)'))[0]).toBe('* STATUS INBOX (RECENT 0)');
    // A later delivery is recent for one of the sessions that have the mailbox selected, never two.
    if (haveProcmail) await procmail(t, 4);
    else await watcher.cmd(`APPEND INBOX {${simpleMessage(4).length}+}\r\n${simpleMessage(4)}`);
    const noops = await Promise.all(racers.map((r) => r.cmd('NOOP')));
    // RECENT is each session's count, sent when it changes: the counts grow by one in all, together.
    const after = noops.map((n, k) => Number(n.find((l) => / RECENT$/.test(l))?.split(' ')[1] ?? counts0[k]));
    expect(after.reduce((x, y) => x + y, 0) - counts0.reduce((x, y) => x + y, 0)).toBe(1);
  });

  it('is seen, not taken, by a read-only session that comes first (RFC 3501 §2.3.2)', async () => {
    const t = site(0);
    const watcher = await session(t, '');
    for (let i = 1; i <= 2; i++) {
      if (haveProcmail) await procmail(t, i);
      else expect(last(await watcher.cmd(`APPEND INBOX {${simpleMessage(i).length}+}\r\n${simpleMessage(i)}`))).toMatch(/OK/);
    }
    const ex = await session(t, '');
    const exr = await ex.cmd('EXAMINE INBOX');
    expect(exr).toContain('* 2 RECENT');
    expect((await ex.cmd('FETCH 1:2 (FLAGS)')).filter((l) => l.includes('\\Recent')).length).toBe(2);
    const sel = await session(t, '');
    expect(await sel.cmd('SELECT INBOX')).toContain('* 2 RECENT');
    expect((await watcher.cmd('STATUS INBOX (RECENT)'))[0]).toBe('* STATUS INBOX (RECENT 0)');
  });
});

describe('IDLE', () => {
  it('pushes another session\'s STORE and EXPUNGE, a POP3 DELE and a procmail delivery', async () => {
    const t = site(3);
    const a = await session(t);
    const b = await session(t);
    b.send('i1 IDLE\r\n');
    expect(await b.c.line()).toBe('+ idling');
    await a.cmd('STORE 2 +FLAGS (\\Flagged)');
    const f = await b.c.until('* 2 FETCH', 10_000);
    expect(last(f)).toMatch(/^\* 2 FETCH \(UID 2 FLAGS \(\\Flagged\)\)$/);
    await a.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await a.cmd('EXPUNGE');
    expect(last(await b.c.until('* 1 EXPUNGE', 10_000))).toBe('* 1 EXPUNGE');
    // POP3 deletes the (now) first message at QUIT.
    const p = await pop(t.site);
    fx.onCleanup(() => p.close());
    expect(await p.login()).toMatch(/^\+OK/);
    expect(await p.cmd('DELE 1')).toMatch(/^\+OK/);
    expect(await p.cmd('QUIT')).toMatch(/^\+OK/);
    expect(last(await b.c.until('* 1 EXPUNGE', 10_000))).toBe('* 1 EXPUNGE');
    if (haveProcmail) {
      await procmail(t, 9);
      expect(last(await b.c.until('* 2 EXISTS', 10_000))).toBe('* 2 EXISTS');
    }
    b.send('DONE\r\n');
    expect(last(await b.c.until('i1 '))).toMatch(/^i1 OK IDLE terminated/);
  });
});

describe('IDLE, the edges', () => {
  it('reports at once what changed since the last command, and waits for DONE with nothing selected', async () => {
    const t = site(2);
    const a = await session(t);
    const b = await session(t);
    await a.cmd('STORE 2 +FLAGS (\\Answered)'); // before B idles: no watch event can tell B of it
    b.send('i1 IDLE\r\n');
    expect(await b.c.line()).toBe('+ idling');
    expect(last(await b.c.until('* 2 FETCH', 10_000))).toMatch(/^\* 2 FETCH \(UID 2 FLAGS \(\\Answered/);
    b.send('DONE\r\n');
    expect(last(await b.c.until('i1 '))).toMatch(/^i1 OK IDLE terminated/);
    const n = await session(t, '');
    n.send('i2 IDLE\r\n');
    expect(await n.c.line()).toBe('+ idling');
    n.send('DONE\r\n');
    expect(await n.c.line()).toMatch(/^i2 OK IDLE terminated/);
    expect(last(await n.cmd('NOOP'))).toMatch(/OK/);
  });
});

describe('a folder deleted or renamed while selected elsewhere', () => {
  it('DELETE succeeds and the other session gets BYE and is disconnected', async () => {
    const t = site(1);
    const a = await session(t, '');
    await a.cmd('CREATE Work');
    await a.cmd('APPEND Work {12+}\r\nSubject: x\r\n');
    const b = await session(t, 'SELECT Work');
    expect(tagged(await a.cmd('DELETE Work'))).toMatch(/^t\d+ OK DELETE/);
    b.send('n1 NOOP\r\n');
    const n = await b.c.until('* BYE');
    expect(last(n)).toBe('* BYE Selected mailbox was deleted, have to disconnect.');
    expect(await b.c.exited()).toBe(0);
  });

  it('RENAME reaches a session in IDLE with BYE, and the folder keeps its messages', async () => {
    const t = site(1);
    const a = await session(t, '');
    await a.cmd('CREATE Old');
    await a.cmd('APPEND Old {12+}\r\nSubject: x\r\n');
    const b = await session(t, 'SELECT Old');
    b.send('i1 IDLE\r\n');
    expect(await b.c.line()).toBe('+ idling');
    expect(tagged(await a.cmd('RENAME Old New'))).toMatch(/^t\d+ OK RENAME/);
    const bye = await b.c.until('* BYE', 10_000);
    expect(last(bye)).toMatch(/^\* BYE Selected mailbox was (renamed|deleted), have to disconnect\.$/);
    expect(await b.c.exited()).toBe(0);
    expect((await a.cmd('STATUS New (MESSAGES)'))[0]).toBe('* STATUS New (MESSAGES 1)');
  });
});
