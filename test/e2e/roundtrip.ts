// Protocol round trips that prove a deployment path works: IMAP greeting, CAPABILITY, optional LOGIN +
// SELECT, LOGOUT; POP3 greeting, optional USER/PASS + STAT, QUIT.
import { expect } from 'vitest';
import { lineClient } from './launchers.js';

export async function imapRoundTrip(port: number, tls = false, login?: { user: string; pass: string; exists: number }) {
  const c = await lineClient(port, tls);
  expect(await c.line()).toMatch(/^\* OK /);
  c.send('a CAPABILITY\r\n');
  const cap = await c.until('a ');
  expect(cap[0]).toMatch(/^\* CAPABILITY .*IMAP4rev1/);
  expect(cap[cap.length - 1]).toMatch(/^a OK/);
  if (login) {
    c.send(`b LOGIN ${login.user} ${login.pass}\r\n`);
    expect((await c.until('b ')).pop()).toMatch(/^b OK/);
    c.send('c SELECT INBOX\r\n');
    const sel = await c.until('c ');
    expect(sel).toContain(`* ${login.exists} EXISTS`);
    expect(sel.pop()).toMatch(/^c OK/);
  }
  c.send('z LOGOUT\r\n');
  const bye = await c.until('z ');
  expect(bye[0]).toMatch(/^\* BYE/);
  expect(bye[bye.length - 1]).toMatch(/^z OK/);
  await c.closed();
}

export async function popRoundTrip(port: number, tls = false, login?: { user: string; pass: string; count: number }) {
  const c = await lineClient(port, tls);
  expect(await c.line()).toMatch(/^\+OK /);
  if (login) {
    c.send(`USER ${login.user}\r\n`);
    expect(await c.line()).toMatch(/^\+OK/);
    c.send(`PASS ${login.pass}\r\n`);
    expect(await c.line()).toMatch(/^\+OK/);
    c.send('STAT\r\n');
    expect(await c.line()).toMatch(new RegExp(`^\\+OK ${login.count} \\d+$`));
  }
  c.send('QUIT\r\n');
  expect(await c.line()).toMatch(/^\+OK/);
  await c.closed();
}
