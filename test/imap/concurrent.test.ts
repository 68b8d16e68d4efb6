// Two sessions on one mailbox, and an MDA delivering, must see each other's changes as untagged
// EXISTS / EXPUNGE / FETCH FLAGS updates; IDLE must push a delivery without being asked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simpleMessage } from '../helpers/site.js';
import { deliver } from '../maildir/site-store.js';
import { connectImap, last, siteWithMessages, type Imap, type TestSite } from './imap-client.js';

let t: TestSite;
let a: Imap;
let b: Imap;
beforeAll(async () => {
  t = siteWithMessages(3);
  a = await connectImap(t.site);
  b = await connectImap(t.site);
  await a.login();
  await b.login();
  await a.cmd('SELECT INBOX');
  await b.cmd('SELECT INBOX');
});
afterAll(() => {
  a.close();
  b.close();
  t.cleanup();
});

describe('concurrent sessions', () => {
  it('sees flag changes made by another session', async () => {
    await a.cmd('STORE 2 +FLAGS (\\Flagged)');
    const n = await b.cmd('NOOP');
    expect(n.find((l) => l.startsWith('* 2 FETCH'))).toMatch(/FLAGS \(.*\\Flagged.*\)/);
  });

  it('sees an APPEND by another session and a delivery by an MDA as EXISTS', async () => {
    await a.cmd('APPEND INBOX {12+}\r\nSubject: x\r\n');
    const n = await b.cmd('NOOP');
    expect(n).toContain('* 4 EXISTS');
    deliver(t.site, 'bob', { text: simpleMessage(99) });
    const c = await b.cmd('CHECK');
    expect(c).toContain('* 5 EXISTS');
    expect(last(c)).toMatch(/OK CHECK completed/);
  });

  it('defers EXPUNGE during FETCH, sends it on NOOP', async () => {
    await a.cmd('NOOP');
    await a.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)');
    expect((await a.cmd('EXPUNGE'))).toContain('* 1 EXPUNGE');
    const f = await b.cmd('FETCH 2 (UID)');
    expect(f.some((l) => l.includes('EXPUNGE'))).toBe(false);
    expect(f[0]).toBe('* 2 FETCH (UID 2)'); // numbering unchanged until the EXPUNGE is sent
    const n = await b.cmd('NOOP');
    expect(n).toContain('* 1 EXPUNGE');
    const f2 = await b.cmd('FETCH 1 (UID)');
    expect(f2[0]).toBe('* 1 FETCH (UID 2)');
  });

  it('STORE and FETCH on a message another session expunged work on the view: original bytes, silent no-op', async () => {
    await a.cmd('NOOP');
    await b.cmd('NOOP');
    await a.cmd('STORE 2 +FLAGS.SILENT (\\Deleted)');
    await a.cmd('EXPUNGE');
    const st = await b.cmd('STORE 2 +FLAGS (\\Flagged)');
    expect(last(st)).toMatch(/OK STORE completed/); // RFC 2180 §4.2.1, as Dovecot
    expect(st.length).toBe(1);
    const f = await b.cmd('FETCH 2 BODY.PEEK[]');
    expect(last(f)).toMatch(/OK FETCH completed/);
    expect(f.join('\n')).toContain('Subject: Test message 3');
    // UID commands may announce the expunge, and do; after that the UID is simply absent.
    const uf = await b.cmd('UID FETCH 1:* (UID)');
    expect(last(uf)).toMatch(/OK UID FETCH/);
    expect(uf).toContain('* 2 EXPUNGE');
    const again = await b.cmd('UID FETCH 3 (UID)');
    expect(again.length).toBe(1);
    // Bring the view back to the state the IDLE test expects: one more message delivered.
    deliver(t.site, 'bob', { text: simpleMessage(98) });
    await a.cmd('NOOP');
    await b.cmd('NOOP');
  });

  it('IDLE pushes a delivery and an expunge', async () => {
    b.send('i1 IDLE\r\n');
    expect(await b.c.line()).toBe('+ idling');
    deliver(t.site, 'bob', { text: simpleMessage(100) });
    expect(last(await b.c.until('* 5 EXISTS', 10_000))).toBe('* 5 EXISTS');
    await a.cmd('NOOP');
    await a.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await a.cmd('EXPUNGE');
    expect(last(await b.c.until('* 1 EXPUNGE', 10_000))).toBe('* 1 EXPUNGE');
    b.send('DONE\r\n');
    const end = await b.c.until('i1 ');
    expect(last(end)).toMatch(/^i1 OK IDLE terminated/);
  });
});
