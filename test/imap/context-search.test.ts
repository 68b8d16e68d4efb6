// CONTEXT=SEARCH (RFC 5267 §4) over the real bin/imapd, both stores: SEARCH RETURN (UPDATE) results
// kept up to date with ADDTO/REMOVEFROM (whatever the other RETURN options, §4.3) as this and other
// sessions (and IDLE) change the mailbox, REMOVEFROM before the EXPUNGE (§4.3.4); CANCELUPDATE;
// NOUPDATE (§4.3.1); tag reuse; contexts end with the next SELECT.
import { describe, expect, it } from 'vitest';
import { imapFixture, last } from './imap-client.js';

const f = imapFixture();
const esearch = (r: string[]) => r.filter((l) => l.startsWith('* ESEARCH'));

describe('CONTEXT=SEARCH (RFC 5267 §4)', () => {
  it('is advertised', async () => {
    const t = f.site(1);
    const a = await f.session(t);
    expect((await a.cmd('CAPABILITY'))[0]!.split(' ')).toContain('CONTEXT=SEARCH');
  });

  it('follows flag changes, new mail and expunges with REMOVEFROM/ADDTO (position 0)', async () => {
    const t = f.site(5);
    const a = await f.session(t, 'SELECT INBOX');
    const b = await f.session(t, 'SELECT INBOX');
    const tag = a.nextTag();
    a.send(`${tag} UID SEARCH RETURN (UPDATE) UNSEEN\r\n`);
    const r = await a.c.until(`${tag} `, 15_000);
    expect(last(r)).toMatch(/OK/);
    const uids = (await a.cmd('UID SEARCH ALL')).find((l) => l.startsWith('* SEARCH'))!.slice(9).split(' ').map(Number);
    expect(esearch(r)).toEqual([`* ESEARCH (TAG "${tag}") UID ALL ${uids[0]}:${uids[4]}`]);
    // This session's own STORE: the message leaves the result.
    const s = await a.cmd(`UID STORE ${uids[1]} +FLAGS (\\Seen)`);
    expect(esearch(s)).toEqual([`* ESEARCH (TAG "${tag}") UID REMOVEFROM (0 ${uids[1]})`]);
    // Another session marks one unseen again and expunges another: NOOP brings both. (b looks first:
    // on maildir a -FLAGS from a view that never saw the flag is lost, a store bug reported separately.)
    expect(last(await b.cmd('NOOP'))).toMatch(/OK/);
    expect(last(await b.cmd(`UID STORE ${uids[1]} -FLAGS (\\Seen)`))).toMatch(/OK/);
    expect(last(await b.cmd(`UID STORE ${uids[3]} +FLAGS (\\Deleted)`))).toMatch(/OK/);
    expect(last(await b.cmd('EXPUNGE'))).toMatch(/OK/);
    const n = await a.cmd('NOOP');
    // The expunged one leaves the result before its EXPUNGE (§4.3.4), the unseen one comes back after.
    const rm = n.indexOf(`* ESEARCH (TAG "${tag}") UID REMOVEFROM (0 ${uids[3]})`);
    const ex = n.indexOf('* 4 EXPUNGE');
    const add = n.indexOf(`* ESEARCH (TAG "${tag}") UID ADDTO (0 ${uids[1]})`);
    expect(rm).toBeGreaterThanOrEqual(0);
    expect(ex).toBeGreaterThan(rm);
    expect(add).toBeGreaterThan(ex);
    expect(esearch(n)).toHaveLength(2);
    // New mail through another session's APPEND.
    const msg = 'Subject: new\r\n\r\nhi\r\n';
    expect(last(await b.cmd(`APPEND INBOX {${msg.length}+}\r\n${msg}`))).toMatch(/OK/);
    const n2 = await a.cmd('NOOP');
    const exists = n2.findIndex((l) => /^\* 5 EXISTS$/.test(l));
    const upd = n2.findIndex((l) => l.startsWith('* ESEARCH'));
    expect(exists).toBeGreaterThanOrEqual(0);
    expect(upd).toBeGreaterThan(exists); // after the client knows the message
    expect(n2[upd]).toMatch(new RegExp(`^\\* ESEARCH \\(TAG "${tag}"\\) UID ADDTO \\(0 \\d+\\)$`));
    // Nothing changed: nothing sent.
    expect(esearch(await a.cmd('NOOP'))).toEqual([]);
    // CANCELUPDATE ends it.
    expect(last(await a.cmd(`CANCELUPDATE "${tag}"`))).toMatch(/OK/);
    expect(last(await b.cmd('STORE 1 +FLAGS (\\Seen)'))).toMatch(/OK/);
    expect(esearch(await a.cmd('NOOP'))).toEqual([]);
    expect(last(await a.cmd(`CANCELUPDATE "${tag}"`))).toMatch(/BAD/);
  });

  it('sends ADDTO/REMOVEFROM with sequence numbers also under MIN/MAX/COUNT (§4.3); pushes during IDLE', async () => {
    const t = f.site(4);
    const a = await f.session(t, 'SELECT INBOX');
    const b = await f.session(t, 'SELECT INBOX');
    const tag = a.nextTag();
    a.send(`${tag} SEARCH RETURN (COUNT MAX UPDATE) UNSEEN\r\n`);
    expect(esearch(await a.c.until(`${tag} `, 15_000))).toEqual([`* ESEARCH (TAG "${tag}") MAX 4 COUNT 4`]);
    expect(esearch(await a.cmd('STORE 4 +FLAGS.SILENT (\\Seen)'))).toEqual([`* ESEARCH (TAG "${tag}") REMOVEFROM (0 4)`]);
    expect(esearch(await a.cmd('STORE 1 +FLAGS.SILENT (\\Seen)'))).toEqual([`* ESEARCH (TAG "${tag}") REMOVEFROM (0 1)`]);
    // IDLE: another session's change arrives without a command.
    const idle = a.nextTag();
    a.send(`${idle} IDLE\r\n`);
    await a.c.until('+ ', 15_000);
    expect(last(await b.cmd('STORE 2 +FLAGS (\\Seen)'))).toMatch(/OK/);
    const pushed = await a.c.until('* ESEARCH', 15_000);
    expect(pushed[pushed.length - 1]).toBe(`* ESEARCH (TAG "${tag}") REMOVEFROM (0 2)`);
    a.send('DONE\r\n');
    expect(last(await a.c.until(`${idle} `, 15_000))).toMatch(/OK/);
  });

  it('refuses what it cannot keep; a new SELECT ends every context', async () => {
    const t = f.site(3);
    const a = await f.session(t, 'SELECT INBOX');
    expect(last(await a.cmd('SEARCH RETURN (UPDATE SAVE) ALL'))).toMatch(/^t\d+ BAD/);
    // UPDATE goes with PARTIAL (§4.4) and the CONTEXT hint (§4.2).
    const p = a.nextTag();
    a.send(`${p} SEARCH RETURN (UPDATE PARTIAL 1:2 CONTEXT) ALL\r\n`);
    const pr = await a.c.until(`${p} `, 15_000);
    expect(esearch(pr)).toEqual([`* ESEARCH (TAG "${p}") PARTIAL (1:2 1:2)`]);
    expect(last(pr)).toMatch(/OK/);
    // §4.3: UPDATE under the tag of a live context is BAD, and the old context lives on.
    a.send(`${p} SEARCH RETURN (UPDATE) UNSEEN\r\n`);
    expect(last(await a.c.until(`${p} `, 15_000))).toMatch(/BAD/);
    for (let i = 0; i < 9; i++) expect(last(await a.cmd('SEARCH RETURN (UPDATE) UNSEEN'))).toMatch(/OK/);
    // §4.3.1: over the limit, an untagged NO [NOUPDATE] and the other options are still honoured.
    const tag = a.nextTag();
    a.send(`${tag} SEARCH RETURN (UPDATE COUNT) UNSEEN\r\n`);
    const r = await a.c.until(`${tag} `, 15_000);
    expect(r).toContain(`* NO [NOUPDATE "${tag}"] Too many search contexts, will not notify`);
    expect(esearch(r)).toEqual([`* ESEARCH (TAG "${tag}") COUNT 3`]);
    expect(last(r)).toMatch(/^t\d+ OK/);
    // The nine UNSEEN contexts lose message 3; the refused one (and p's ALL) say nothing.
    const st = esearch(await a.cmd('STORE 3 +FLAGS (\\Seen)'));
    expect(st).toHaveLength(9);
    for (const l of st) expect(l).toMatch(/^\* ESEARCH \(TAG "t\d+"\) REMOVEFROM \(0 3\)$/);
    expect(st.some((l) => l.includes(`"${tag}"`))).toBe(false);
    expect(last(await a.cmd('SELECT INBOX'))).toMatch(/OK/);
    expect(esearch(await a.cmd('STORE 1:* +FLAGS (\\Seen)'))).toEqual([]);
    expect(last(await a.cmd('SEARCH RETURN (UPDATE) UNSEEN'))).toMatch(/OK/); // room again
  });
});
