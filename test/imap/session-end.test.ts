// A client that goes away without LOGOUT (or half-closes after pipelining) must not leave its server
// process behind holding the folder: once input has ended and everything the client sent is answered,
// the process finishes at once. Real imapd processes, inetd style; bounded waits only.
import { afterEach, describe, expect, it } from 'vitest';
import { connectImap, last, siteWithMessages, type TestSite } from './imap-client.js';
import { EOF_GRACE_MS } from '../../src/transport/stream-connection.js';

const sites: TestSite[] = [];
afterEach(() => { for (const t of sites.splice(0)) t.cleanup(); });

/** The child's exit code, or 'lingered' if it is still there when the old grace period would end. */
function exitWithinGrace(exited: Promise<number | null>): Promise<number | null | 'lingered'> {
  return Promise.race([exited, new Promise<'lingered'>((r) => setTimeout(() => r('lingered'), EOF_GRACE_MS).unref())]);
}

describe('IMAP: a session whose client left', () => {
  it('ends at once on disconnect without LOGOUT, and its folder can be deleted and renamed right away', async () => {
    const t = siteWithMessages(2);
    sites.push(t);
    const a = await connectImap(t.site);
    expect(last(await a.login())).toMatch(/OK/);
    expect(last(await a.cmd('CREATE Work'))).toMatch(/OK/);
    expect(last(await a.cmd('COPY 1:2 Work'))).toMatch(/^t\d+ (BAD|NO)/); // not selected: refused, nothing copied
    expect(last(await a.cmd('SELECT INBOX'))).toMatch(/OK/);
    expect(last(await a.cmd('COPY 1:2 Work'))).toMatch(/OK/);
    expect(last(await a.cmd('SELECT Work'))).toMatch(/OK/);
    a.c.socket.end(); // FIN, no LOGOUT
    expect(await exitWithinGrace(a.c.exited())).toBe(0);

    const b = await connectImap(t.site);
    expect(last(await b.login())).toMatch(/OK/);
    expect(last(await b.cmd('RENAME Work Play'))).toMatch(/OK/);
    const st = await b.cmd('STATUS Play (MESSAGES)');
    expect(st).toContain('* STATUS Play (MESSAGES 2)');
    expect(last(await b.cmd('DELETE Play'))).toMatch(/OK/);
    expect(last(await b.cmd('LOGOUT'))).toMatch(/OK/);
    expect(await b.c.exited()).toBe(0);
  });

  it('answers every pipelined command after a half-close, then ends at once', async () => {
    const t = siteWithMessages(3);
    sites.push(t);
    const a = await connectImap(t.site);
    a.c.socket.end('p1 LOGIN bob secret\r\np2 SELECT INBOX\r\np3 UID FETCH 1:* (UID)\r\np4 STORE 1 +FLAGS (\\Seen)\r\n');
    const got = await a.c.until('p4 ');
    expect(got.filter((l) => /^p\d OK/.test(l))).toHaveLength(4);
    expect(got.filter((l) => /^\* \d+ FETCH \(UID \d+\)$/.test(l))).toHaveLength(3);
    expect(await exitWithinGrace(a.c.exited())).toBe(0);
  });

  it('a client that resets the connection in the middle of IDLE ends the process', async () => {
    const t = siteWithMessages(1);
    sites.push(t);
    const a = await connectImap(t.site);
    expect(last(await a.login())).toMatch(/OK/);
    expect(last(await a.cmd('SELECT INBOX'))).toMatch(/OK/);
    a.send('i1 IDLE\r\n');
    expect(await a.c.line()).toMatch(/^\+ /);
    a.c.socket.end();
    expect(await exitWithinGrace(a.c.exited())).toBe(0);
  });
});
