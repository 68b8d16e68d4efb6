// CONTEXT=SEARCH (RFC 5267 §4) over the real bin/imapd, both stores: SEARCH RETURN (UPDATE) results
// kept up to date with ADDTO/REMOVEFROM and new MIN/MAX/COUNT as this and other sessions (and IDLE)
// change the mailbox; CANCELUPDATE; NOUPDATE; contexts end with the next SELECT.
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
    expect(n).toContain('* 4 EXPUNGE');
    expect(esearch(n)).toEqual([`* ESEARCH (TAG "${tag}") UID ADDTO (0 ${uids[1]})`]); // no REMOVEFROM for the expunged one
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

  it('sends new MIN/MAX/COUNT values with sequence numbers; pushes during IDLE', async () => {
    const t = f.site(4);
    const a = await f.session(t, 'SELECT INBOX');
    const b = await f.session(t, 'SELECT INBOX');
    const tag = a.nextTag();
    a.send(`${tag} SEARCH RETURN (COUNT MAX UPDATE) UNSEEN\r\n`);
    expect(esearch(await a.c.until(`${tag} `, 15_000))).toEqual([`* ESEARCH (TAG "${tag}") MAX 4 COUNT 4`]);
    expect(esearch(await a.cmd('STORE 4 +FLAGS.SILENT (\\Seen)'))).toEqual([`* ESEARCH (TAG "${tag}") MAX 3 COUNT 3`]);
    expect(esearch(await a.cmd('STORE 1 +FLAGS.SILENT (\\Seen)'))).toEqual([`* ESEARCH (TAG "${tag}") COUNT 2`]);
    // IDLE: another session's change arrives without a command.
    const idle = a.nextTag();
    a.send(`${idle} IDLE\r\n`);
    await a.c.until('+ ', 15_000);
    expect(last(await b.cmd('STORE 2 +FLAGS (\\Seen)'))).toMatch(/OK/);
    const pushed = await a.c.until('* ESEARCH', 15_000);
    expect(pushed[pushed.length - 1]).toBe(`* ESEARCH (TAG "${tag}") COUNT 1`); // MAX stays 3
    a.send('DONE\r\n');
    expect(last(await a.c.until(`${idle} `, 15_000))).toMatch(/OK/);
  });

  it('refuses what it cannot keep; a new SELECT ends every context', async () => {
    const t = f.site(3);
    const a = await f.session(t, 'SELECT INBOX');
    expect(last(await a.cmd('SEARCH RETURN (UPDATE SAVE) ALL'))).toMatch(/^t\d+ BAD/);
    expect(last(await a.cmd('SEARCH RETURN (UPDATE PARTIAL 1:2) ALL'))).toMatch(/^t\d+ BAD/);
    expect(last(await a.cmd('SORT RETURN (UPDATE) (DATE) UTF-8 ALL'))).toMatch(/^t\d+ BAD/);
    for (let i = 0; i < 10; i++) expect(last(await a.cmd('SEARCH RETURN (UPDATE) UNSEEN'))).toMatch(/OK/);
    const tag = a.nextTag();
    a.send(`${tag} SEARCH RETURN (UPDATE) UNSEEN\r\n`);
    expect(last(await a.c.until(`${tag} `, 15_000))).toBe(`${tag} NO [NOUPDATE "${tag}"] Too many search contexts`);
    expect(last(await a.cmd('SELECT INBOX'))).toMatch(/OK/);
    expect(esearch(await a.cmd('STORE 1:* +FLAGS (\\Seen)'))).toEqual([]);
    expect(last(await a.cmd('SEARCH RETURN (UPDATE) UNSEEN'))).toMatch(/OK/); // room again
  });
});
