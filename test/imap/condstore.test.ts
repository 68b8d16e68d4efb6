// RFC 7162 CONDSTORE and QRESYNC against the real built imapd, the RFC's examples adapted to a small
// mailbox; a second real imapd process makes the changes a client must resynchronise from.
import { describe, expect, it } from 'vitest';
import { imapFixture, last, type TestSite } from './imap-client.js';

const fx = imapFixture();
const site = (n: number): TestSite => fx.site(n);
const session = fx.session;

const modseqOf = (lines: string[], re = /HIGHESTMODSEQ (\d+)/) => {
  for (const l of lines) {
    const m = re.exec(l);
    if (m) return Number(m[1]);
  }
  throw new Error(`no modseq in ${lines.join(' | ')}`);
};
const fetchModseq = (l: string) => Number(/MODSEQ \((\d+)\)/.exec(l)![1]);

describe('CONDSTORE', () => {
  it('is announced, enabled by ENABLE or SELECT (CONDSTORE), and SELECT reports HIGHESTMODSEQ', async () => {
    const t = site(3);
    const c = await session(t);
    const cap = await c.cmd('CAPABILITY');
    expect(cap[0]).toMatch(/ CONDSTORE( |$)/);
    expect(cap[0]).toMatch(/ QRESYNC( |$)/);
    const plain = await c.cmd('SELECT INBOX');
    expect(plain.some((l) => l.includes('HIGHESTMODSEQ'))).toBe(false);
    const sel = await c.cmd('SELECT INBOX (CONDSTORE)');
    const h = modseqOf(sel);
    expect(h).toBeGreaterThanOrEqual(1);
    expect(last(sel)).toMatch(/OK \[READ-WRITE\]/);
    // CONDSTORE enabled: switching mailboxes says [CLOSED] between the two.
    const ex = await c.cmd('EXAMINE INBOX');
    expect(ex[0]).toBe('* OK [CLOSED] Previous mailbox closed.');
    expect(modseqOf(ex)).toBe(h);
    const en = await c.cmd('ENABLE CONDSTORE');
    expect(en[0]).toBe('* ENABLED CONDSTORE'); // already on: said again, as Dovecot does
  });

  it('FETCH MODSEQ, FETCH (CHANGEDSINCE), STATUS HIGHESTMODSEQ and untagged FETCH with MODSEQ (RFC 7162 §3.1)', async () => {
    const t = site(4);
    const c = await session(t, 'SELECT INBOX');
    // FETCH MODSEQ is CONDSTORE-enabling: a selected mailbox's HIGHESTMODSEQ comes first.
    const f = await c.cmd('FETCH 1:* (MODSEQ)');
    const h0 = modseqOf(f);
    const modseqs = f.filter((l) => /^\* \d+ FETCH /.test(l)).map(fetchModseq);
    expect(modseqs.length).toBe(4);
    for (const m of modseqs) expect(m).toBeLessThanOrEqual(h0);
    // Another process changes message 3: it gets a mod-sequence above everything we saw.
    const other = await session(t, 'SELECT INBOX');
    await other.cmd('STORE 3 +FLAGS (\\Flagged)');
    const n = await c.cmd('NOOP');
    const upd = n.find((l) => l.startsWith('* 3 FETCH'))!;
    expect(upd).toMatch(/^\* 3 FETCH \(UID 3 FLAGS \(\\Flagged( \\Recent)?\) MODSEQ \(\d+\)\)$/);
    const m3 = fetchModseq(upd);
    expect(m3).toBeGreaterThan(h0);
    const since = await c.cmd(`FETCH 1:* (FLAGS) (CHANGEDSINCE ${h0})`);
    const changed = since.filter((l) => /^\* \d+ FETCH /.test(l));
    expect(changed.length).toBe(1);
    expect(changed[0]).toMatch(new RegExp(`^\\* 3 FETCH \\(FLAGS \\(\\\\Flagged( \\\\Recent)?\\) MODSEQ \\(${m3}\\)\\)$`));
    const uidSince = await c.cmd(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${m3})`);
    expect(uidSince.length).toBe(1);
    // STATUS HIGHESTMODSEQ is CONDSTORE-enabling too: `other` first hears its selected mailbox's.
    const st = await other.cmd('STATUS INBOX (HIGHESTMODSEQ MESSAGES)');
    expect(st[0]).toBe(`* OK [HIGHESTMODSEQ ${m3}] Highest`);
    expect(st[1]).toBe(`* STATUS INBOX (HIGHESTMODSEQ ${m3} MESSAGES 4)`);
  });

  it('STORE (UNCHANGEDSINCE) refuses messages changed since, with [MODIFIED] (RFC 7162 §3.1.3 example)', async () => {
    const t = site(5);
    const c = await session(t, 'SELECT INBOX (CONDSTORE)');
    const f = await c.cmd('FETCH 1:5 (MODSEQ)');
    const before = f.filter((l) => /^\* \d+ FETCH /.test(l)).map(fetchModseq);
    const other = await session(t, 'SELECT INBOX');
    await other.cmd('STORE 2,4 +FLAGS (\\Answered)');
    const base = Math.max(...before);
    const r = await c.cmd(`STORE 1:5 (UNCHANGEDSINCE ${base}) +FLAGS.SILENT (\\Deleted)`);
    expect(last(r)).toMatch(/^t\d+ OK \[MODIFIED 2,4\] Conditional STORE failed$/);
    // .SILENT, but the new mod-sequences are reported (with UID, as every FETCH under CONDSTORE).
    const silent = r.filter((l) => / FETCH \(UID \d+ MODSEQ \(\d+\)\)$/.test(l)).map((l) => l.split(' ')[1]);
    expect(silent).toEqual(['1', '3', '5']);
    const ur = await c.cmd('UID STORE 1:5 (UNCHANGEDSINCE 0) -FLAGS (\\Deleted)');
    expect(last(ur)).toMatch(/^t\d+ OK \[MODIFIED 1:5\]/);
    // The modifier after a parenthesised flag list, as imapflow sends it, is understood too.
    expect(last(await c.cmd('STORE 1 +FLAGS (\\Seen) (UNCHANGEDSINCE 0)'))).toMatch(/OK \[MODIFIED 1\]/);
    const fl = await c.cmd('FETCH 1:5 (FLAGS)');
    const deleted = fl.filter((l) => l.includes('\\Deleted')).map((l) => l.split(' ')[1]);
    expect(deleted).toEqual(['1', '3', '5']);
  });

  it('SEARCH MODSEQ returns the highest mod-sequence, also in ESEARCH (RFC 7162 §3.1.5)', async () => {
    const t = site(4);
    const c = await session(t);
    const h = modseqOf(await c.cmd('SELECT INBOX (CONDSTORE)'));
    await c.cmd('STORE 2 +FLAGS (\\Seen)');
    await c.cmd('STORE 4 +FLAGS (\\Seen)');
    const f = await c.cmd('FETCH 4 (MODSEQ)');
    const m4 = fetchModseq(f[0]!);
    const s = await c.cmd(`SEARCH MODSEQ ${h + 1}`);
    expect(s[0]).toBe(`* SEARCH 2 4 (MODSEQ ${m4})`);
    const s2 = await c.cmd(`UID SEARCH MODSEQ "/flags/\\\\draft" all ${h + 1}`);
    expect(s2[0]).toBe(`* SEARCH 2 4 (MODSEQ ${m4})`);
    const none = await c.cmd(`SEARCH MODSEQ ${m4 + 1}`);
    expect(none[0]).toBe('* SEARCH');
    const es = await c.cmd(`SEARCH RETURN (ALL COUNT) MODSEQ ${h + 1}`);
    expect(es[0]).toMatch(new RegExp(`^\\* ESEARCH \\(TAG "t\\d+"\\) ALL 2,4 COUNT 2 MODSEQ ${m4}$`));
  });

  it('while an expunge is held back, MODSEQs sent come with a HIGHESTMODSEQ below it (RFC 7162 §3.2)', async () => {
    const t = site(3);
    const c = await session(t);
    const h = modseqOf(await c.cmd('SELECT INBOX (CONDSTORE)'));
    const other = await session(t, 'SELECT INBOX');
    await other.cmd('STORE 3 +FLAGS (\\Seen)');
    await other.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await other.cmd('EXPUNGE');
    // Non-UID FETCH: no EXPUNGE may be sent, but message 3's new flags and MODSEQ are (update pass).
    const f = await c.cmd('FETCH 1:3 (MODSEQ)');
    expect(f.some((l) => / EXPUNGE$/.test(l))).toBe(false);
    const m3 = fetchModseq(f.filter((l) => l.startsWith('* 3 FETCH (UID 3 FLAGS')).pop()!);
    expect(m3).toBeGreaterThan(h);
    const resync = modseqOf(f.filter((l) => l.startsWith('* OK [HIGHESTMODSEQ')));
    // A client that stored the highest MODSEQ it saw would miss the expunge: the server's resync point
    // is below it (the last state this client was fully told of).
    expect(resync).toBe(h);
    const n = await c.cmd('NOOP');
    expect(n).toContain('* 1 EXPUNGE');
    expect(n.some((l) => l.startsWith('* OK [HIGHESTMODSEQ'))).toBe(false);
  });

  it('rejects bad syntax with BAD', async () => {
    const t = site(1);
    const c = await session(t, 'SELECT INBOX');
    expect(last(await c.cmd('FETCH 1 (FLAGS) (CHANGEDSINCE)'))).toMatch(/BAD/);
    expect(last(await c.cmd('FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)'))).toMatch(/BAD/);
    expect(last(await c.cmd('UID FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)'))).toMatch(/BAD/); // QRESYNC not enabled
    expect(last(await c.cmd('STORE 1 (UNCHANGEDSINCE x) +FLAGS (\\Seen)'))).toMatch(/BAD/);
    expect(last(await c.cmd('SEARCH MODSEQ 99999999999999999999'))).toMatch(/BAD/);
    expect(last(await c.cmd('SELECT INBOX (QRESYNC (1 1))'))).toMatch(/BAD/);
    expect(last(await c.cmd('SELECT INBOX (FOO)'))).toMatch(/BAD/);
  });
});

describe('QRESYNC', () => {
  it('SELECT (QRESYNC ...) reports VANISHED (EARLIER) and changed flags; EXPUNGE becomes VANISHED', async () => {
    const t = site(6);
    const c = await session(t, 'ENABLE QRESYNC');
    const sel = await c.cmd('SELECT INBOX');
    const uv = Number(/UIDVALIDITY (\d+)/.exec(sel.join('\n'))![1]);
    const h = modseqOf(sel);
    expect(last(await c.cmd('UNSELECT'))).toMatch(/OK/);

    // Meanwhile another process flags 2, expunges 3 and 5, and a message arrives.
    const other = await session(t, 'SELECT INBOX');
    await other.cmd('STORE 2 +FLAGS ($Important)');
    await other.cmd('STORE 3,5 +FLAGS.SILENT (\\Deleted)');
    await other.cmd('EXPUNGE');
    await other.cmd('APPEND INBOX {12+}\r\nSubject: n\r\n');

    const r = await c.cmd(`SELECT INBOX (QRESYNC (${uv} ${h}))`);
    expect(r).toContain('* 5 EXISTS');
    const vi = r.findIndex((l) => l.startsWith('* VANISHED (EARLIER) '));
    expect(r[vi]).toBe('* VANISHED (EARLIER) 3,5');
    const fetches = r.filter((l) => /^\* \d+ FETCH /.test(l));
    expect(fetches.length).toBe(2);
    expect(fetches[0]).toMatch(/^\* 2 FETCH \(UID 2 FLAGS \(\$Important\) MODSEQ \(\d+\)\)$/);
    expect(fetches[1]).toMatch(/^\* 5 FETCH \(UID 7 FLAGS \([^)]*\) MODSEQ \(\d+\)\)$/);
    expect(r.findIndex((l) => l === fetches[0])).toBeGreaterThan(vi);
    // The keyword was in FLAGS before the FETCH named it.
    expect(r.findIndex((l) => l.startsWith('* FLAGS') && l.includes('$Important'))).toBeLessThan(vi);
    const h2 = modseqOf(r);

    // known-uids limits both parts; a wrong UIDVALIDITY gives a plain SELECT.
    const k = await c.cmd(`SELECT INBOX (QRESYNC (${uv} ${h} 1:4))`);
    expect(k[0]).toBe('* OK [CLOSED] Previous mailbox closed.');
    expect(k.filter((l) => l.startsWith('* VANISHED'))).toEqual(['* VANISHED (EARLIER) 3']);
    expect(k.filter((l) => /^\* \d+ FETCH /.test(l)).length).toBe(1);
    const w = await c.cmd(`SELECT INBOX (QRESYNC (${uv + 1} ${h}))`);
    expect(w.some((l) => l.startsWith('* VANISHED') || /^\* \d+ FETCH /.test(l))).toBe(false);

    // Live: another session's expunge arrives as VANISHED, and EXPUNGE's OK carries HIGHESTMODSEQ.
    await other.cmd('NOOP');
    await other.cmd('UID STORE 1 +FLAGS.SILENT (\\Deleted)');
    await other.cmd('UID EXPUNGE 1');
    const n = await c.cmd('NOOP');
    expect(n).toContain('* VANISHED 1');
    expect(n.some((l) => / EXPUNGE$/.test(l))).toBe(false);
    await c.cmd('UID STORE 2 +FLAGS.SILENT (\\Deleted)');
    const e = await c.cmd('EXPUNGE');
    expect(e).toContain('* VANISHED 2');
    const he = modseqOf([last(e)]);
    expect(he).toBeGreaterThan(h2);
    expect(last(e)).toMatch(/^t\d+ OK \[HIGHESTMODSEQ \d+\] EXPUNGE completed/);

    // UID FETCH (CHANGEDSINCE n VANISHED): what vanished in the set since n, then what changed.
    const v = await c.cmd(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${h} VANISHED)`);
    expect(v[0]).toBe('* VANISHED (EARLIER) 1:3,5');
    expect(v.filter((l) => /^\* \d+ FETCH /.test(l)).map((l) => /UID (\d+)/.exec(l)![1])).toEqual(['7']);
  });

  it('takes known-uids with sequence-match data', async () => {
    const t = site(5);
    const c = await session(t, 'ENABLE QRESYNC');
    const sel = await c.cmd('SELECT INBOX');
    const uv = Number(/UIDVALIDITY (\d+)/.exec(sel.join('\n'))![1]);
    const h = modseqOf(sel);
    await c.cmd('UNSELECT');
    const other = await session(t, 'SELECT INBOX');
    await other.cmd('STORE 4 +FLAGS.SILENT (\\Deleted)');
    await other.cmd('EXPUNGE');
    // The client's cache said seq 1..3 = UID 1..3, still true: only UIDs above 3 can have gone.
    const r = await c.cmd(`SELECT INBOX (QRESYNC (${uv} ${h} 1:5 (1:3 1:3)))`);
    expect(r.filter((l) => l.startsWith('* VANISHED'))).toEqual(['* VANISHED (EARLIER) 4']);
  });
});
