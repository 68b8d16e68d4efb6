// Issue 13, weakness "pre-login lifetime": a client that keeps sending a byte now and then never trips
// the idle timer, so before login it could hold a process forever. login_lifetime (DMail: 3 minutes,
// fixed) ends an unauthenticated connection however active it is; after login it no longer applies.
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inetdConnect, type Client } from '../helpers/inetd.js';
import { BIN, makeSite, type Site, removeSite } from '../helpers/site.js';

const sites: Site[] = [];
afterAll(() => { for (const s of sites) removeSite(s.dir); });

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Trickles `text` one byte every 200 ms (well inside the idle timeout) until the server closes the
 *  connection or `maxBytes` were sent. Returns whether the server closed it. */
async function trickle(c: Client, text: string, maxBytes: number): Promise<boolean> {
  let closed = false;
  c.socket.on('close', () => { closed = true; });
  void c.exited().then(() => { closed = true; });
  for (let i = 0; i < maxBytes && !closed; i++) {
    c.socket.write(text[i % text.length]!);
    await pause(200);
  }
  return closed;
}

function site(): Site {
  // Idle timeouts far longer than the test; only the lifetime can end the connection.
  const s = makeSite({ login_lifetime: 2, imapd_login_timeout: 600, pop_timeout: 600 });
  s.addUser('bob', { pass: 'secret' });
  sites.push(s);
  return s;
}

describe('pre-login lifetime (login_lifetime)', () => {
  it('imapd ends a trickling unauthenticated client with a BYE and logs it', async () => {
    const s = site();
    const c = await inetdConnect(BIN.imapd, ['-i', s.conf]);
    expect(await c.line()).toMatch(/^\* OK/);
    // 75 bytes at 200 ms: 15 s of activity; the lifetime is 2 s.
    expect(await trickle(c, 'a NOOP\r\n', 75)).toBe(true);
    const rest: string[] = [];
    for (;;) { try { rest.push(await c.line(1000)); } catch { break; } }
    expect(rest.join('\n')).toContain('* BYE Login time limit exceeded');
    await c.exited();
    expect(readFileSync(join(s.logs, 'imapd.log'), 'utf8')).toContain('not logged in within login_lifetime');
  });

  it('dpop ends a trickling unauthenticated client with -ERR', async () => {
    const s = site();
    const c = await inetdConnect(BIN.dpop, ['-i', s.conf]);
    expect(await c.line()).toMatch(/^\+OK/);
    expect(await trickle(c, 'NOOP\r\n', 75)).toBe(true);
    const rest: string[] = [];
    for (;;) { try { rest.push(await c.line(1000)); } catch { break; } }
    expect(rest.join('\n')).toContain('-ERR Login time limit exceeded');
    await c.exited();
  });

  it('no longer applies after login (IMAP and POP3)', async () => {
    const s = site();
    const i = await inetdConnect(BIN.imapd, ['-i', s.conf]);
    const p = await inetdConnect(BIN.dpop, ['-i', s.conf]);
    await i.line();
    await p.line();
    i.send('a LOGIN bob secret\r\n');
    expect((await i.until('a ')).at(-1)).toMatch(/^a OK/);
    p.send('USER bob\r\nPASS secret\r\n');
    await p.line();
    expect(await p.line()).toMatch(/^\+OK/);
    // Keep both busy for twice the lifetime: they stay.
    for (let k = 0; k < 20; k++) {
      i.send(`n${k} NOOP\r\n`);
      expect((await i.until(`n${k} `)).at(-1)).toMatch(/OK/);
      p.send('NOOP\r\n');
      expect(await p.line()).toMatch(/^\+OK/);
      await pause(200);
    }
    i.send('z LOGOUT\r\n');
    expect((await i.until('z ')).at(-1)).toMatch(/^z OK/);
    p.send('QUIT\r\n');
    expect(await p.line()).toMatch(/^\+OK/);
    await Promise.all([i.exited(), p.exited()]);
  });
});
