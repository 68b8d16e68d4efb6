// A read that finds the mailbox changed must not hide the change from the next NOOP. Reading a message
// (FETCH BODY[], the facts of an uncached message) brings the store's knowledge of the files up to date
// when another process or session changed them (mbox: the read lock finds the spool grown by procmail
// and syncs under the mailbox lock). The session's own view must still be refreshed afterwards: a NOOP
// (or the update check after the FETCH) reports the new mail and the expunges. Before the fix the store
// answered "current" from the synced file knowledge and the session never heard of the change until yet
// another change came (found by facts-race.test.ts, one resident worker: a read that met another
// session's write took the locked path).
import { describe, expect, it } from 'vitest';
import { simpleMessage } from '../helpers/site.js';
import { haveProcmail, imapFixture, last, procmailDeliver } from './imap-client.js';

const fx = imapFixture();

describe('a read that meets a change, then NOOP', () => {
  it.skipIf(!haveProcmail)('new mail delivered before a FETCH BODY[] is reported', async () => {
    const t = fx.site(3);
    const a = await fx.session(t, 'SELECT INBOX');
    await procmailDeliver(t, 4, simpleMessage(4));
    // A message of the view, read by sequence number (no EXPUNGE allowed, new mail may be reported).
    const f = await a.cmd('FETCH 2 BODY.PEEK[]');
    expect(last(f)).toMatch(/OK/);
    const n = await a.cmd('NOOP');
    expect(last(n)).toMatch(/OK/);
    expect([...f, ...n].filter((l) => /^\* \d+ EXISTS$/.test(l))).toEqual(['* 4 EXISTS']);
  });

  it('an expunge by another session before a FETCH BODY[] is reported at NOOP', async () => {
    const t = fx.site(3);
    const a = await fx.session(t, 'SELECT INBOX');
    const b = await fx.session(t, 'SELECT INBOX');
    expect(last(await b.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)'))).toMatch(/OK/);
    expect(last(await b.cmd('EXPUNGE'))).toMatch(/OK/);
    await procmailDeliver(t, 4, simpleMessage(4)).catch(() => undefined);
    const f = await a.cmd('FETCH 2 BODY.PEEK[]');
    expect(last(f)).toMatch(/OK/);
    expect(f.filter((l) => /EXPUNGE/.test(l))).toEqual([]); // not during FETCH (RFC 3501 7.4.1)
    const n = await a.cmd('NOOP');
    expect(n.filter((l) => /^\* \d+ EXPUNGE$/.test(l))).toEqual(['* 1 EXPUNGE']);
  });
});
