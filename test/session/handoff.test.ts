// Issue 12 (the resident-mode seam): a pre-login process greets and authenticates (serveConnection with
// stopAtLogin: it opens no mail file and does not answer the login), then hands the socket and the
// Handoff to another process (child_process send(handle)), which answers the login itself and serves
// the commands the client had already pipelined after it (resumeConnection). IMAP and POP3.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostFixture } from '../helpers/host.js';
import { listSessions } from '../../src/log/sessions.js';
import { imapOver, last, siteWithMessages } from '../imap/imap-client.js';
import { siteWithMail } from '../pop3/pop-client.js';
import { removeSite } from '../helpers/site.js';

const startHost = hostFixture();

describe('stopAtLogin + resumeConnection across two processes', () => {
  it('IMAP: a failed LOGIN is answered by the pre-login process; the good one, and what was pipelined after it, by the worker', async () => {
    const t = siteWithMessages(3);
    try {
      const h = await startHost('prelogin', 'imapd', t.site.conf);
      const c = await imapOver(await h.connect());
      expect(c.greeting).toMatch(/^\* OK \[CAPABILITY .*\] .* ready$/);
      expect(last(await c.cmd('CAPABILITY'))).toMatch(/^t\d+ OK/);
      expect(last(await c.cmd('LOGIN bob wrong'))).toMatch(/^t\d+ NO \[AUTHENTICATIONFAILED\]/);
      // LOGIN, then SELECT and FETCH in the same packet: the worker must answer all three, in order.
      c.send('a1 LOGIN bob secret\r\na2 SELECT INBOX\r\na3 FETCH 1:* (UID FLAGS)\r\n');
      const login = await c.c.until('a1 ');
      expect(last(login)).toMatch(/^a1 OK \[CAPABILITY IMAP4rev1 .*\] LOGIN completed$/);
      const select = await c.c.until('a2 ');
      expect(select).toContain('* 3 EXISTS');
      expect(last(select)).toMatch(/^a2 OK \[READ-WRITE\]/);
      const fetch = await c.c.until('a3 ');
      expect(fetch.filter((l) => /^\* \d FETCH \(UID \d FLAGS/.test(l))).toHaveLength(3);
      expect(last(fetch)).toMatch(/^a3 OK/);
      // The session is the worker's: its session record names the worker, never the pre-login process.
      const live = listSessions(join(t.site.dir, 'work'));
      expect(live.map((s) => s.pid)).toEqual([h.worker]);
      c.send('a4 AUTHENTICATE PLAIN\r\n'); // not allowed once authenticated: answered by the worker
      expect(last(await c.c.until('a4 '))).toMatch(/^a4 BAD/);
      c.send('a5 LOGOUT\r\n');
      const bye = await c.c.until('a5 ');
      expect(bye[0]).toMatch(/^\* BYE/);
      expect(last(bye)).toMatch(/^a5 OK/);
      c.close();
    } finally {
      t.cleanup();
    }
  });

  it('IMAP: AUTHENTICATE PLAIN with an initial response is handed over with its tag', async () => {
    const t = siteWithMessages(1);
    try {
      const h = await startHost('prelogin', 'imapd', t.site.conf);
      const c = await imapOver(await h.connect());
      const ir = Buffer.from('\0bob\0secret').toString('base64');
      c.send(`x1 AUTHENTICATE PLAIN ${ir}\r\nx2 STATUS INBOX (MESSAGES)\r\n`);
      expect(last(await c.c.until('x1 '))).toMatch(/^x1 OK \[CAPABILITY .*\] AUTHENTICATE completed$/);
      const st = await c.c.until('x2 ');
      expect(st[0]).toBe('* STATUS INBOX (MESSAGES 1)');
      c.close();
    } finally {
      t.cleanup();
    }
  });

  it('POP3: USER is answered before, PASS and the pipelined STAT, LIST and QUIT after the handover', async () => {
    const site = siteWithMail(2);
    try {
      const h = await startHost('prelogin', 'dpop', site.conf);
      const c = await h.connect();
      expect(await c.line()).toMatch(/^\+OK .*<.*>$/);
      c.send('USER bob\r\nPASS secret\r\nSTAT\r\nLIST\r\nQUIT\r\n');
      expect(await c.line()).toMatch(/^\+OK bob nice to hear from you/);
      expect(await c.line()).toMatch(/^\+OK bob has 2 msgs \(\d+ octets\)/);
      expect(await c.line()).toMatch(/^\+OK 2 \d+$/);
      expect(await c.line()).toMatch(/^\+OK/);
      expect(await c.line()).toMatch(/^1 \d+$/);
      expect(await c.line()).toMatch(/^2 \d+$/);
      expect(await c.line()).toBe('.');
      expect(await c.line()).toMatch(/^\+OK .*signing off/);
      c.close();
      expect(h.child.exitCode).toBeNull();
    } finally {
      removeSite(site.dir);
    }
  });
});
