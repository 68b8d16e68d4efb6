// A POP3 session ends when its client goes away in the middle of a big RETR it stopped reading: at once
// when the client closes, and at the idle timeout (pop_timeout) when it only half-closes and keeps the
// socket without reading (the server would otherwise wait for ever for output that never leaves). In
// every test mode (a process per connection, maildir, the resident worker).
import { describe, expect, it } from 'vitest';
import { popFixture, writeMail } from './pop-client.js';

const fx = popFixture();

/** One message of ~8 MB: more than the socket buffers hold (loopback: a few MB). */
const BIG = `From: big@example.com\nSubject: big\n\n${`${'x'.repeat(76)}\n`.repeat(105_000)}`;

async function stalledRetr(timeout: number) {
  const site = fx.site(0, { pop_timeout: timeout });
  writeMail(site, 'bob', [BIG]);
  const c = await fx.connect(site);
  expect(await c.login()).toMatch(/^\+OK/);
  c.socket.pause(); // never read again
  c.send('RETR 1\r\n');
  // Wait until the answer has filled the socket buffers (the server is then blocked on the client).
  while (c.socket.readableLength === 0) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300));
  return c;
}

describe('a client that stopped reading a big RETR', () => {
  it('then closes: the session ends at once (not at the idle timeout)', async () => {
    const c = await stalledRetr(3600);
    c.socket.destroy(); // unread data: the kernel resets the connection, the next write fails
    // Ended by the failed write, long before the idle timeout (an hour): the test's own timeout bounds it.
    expect(await c.exited()).toBe(0);
  });

  it('then half-closes and keeps the socket: the idle timeout ends the session', async () => {
    const c = await stalledRetr(1);
    c.socket.end(); // FIN, but the socket stays open and unread
    expect(await c.exited()).toBe(0);
  });
});
