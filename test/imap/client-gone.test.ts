// A session ends when its client goes away in the middle of a big answer it stopped reading: at once when
// the client closes, and at the idle timeout when it only half-closes and keeps the socket without reading
// (nothing else would end it: the server waits for output that never leaves). In every test mode (a
// process per connection, maildir, the resident worker).
import { describe, expect, it } from 'vitest';
import { setInbox } from '../maildir/site-store.js';
import { connectImap, imapFixture, last } from './imap-client.js';

const fx = imapFixture();

/** Two messages of ~4 MB: FETCH 1:* BODY[] is more than the socket buffers hold (loopback: a few MB). */
const BIG = Array.from({ length: 2 }, (_, i) => ({ text: `From: n${i}@example.com\nSubject: big ${i}\n\n${`${'x'.repeat(76)}\n`.repeat(52_000)}` }));

async function stalledFetch(timeout: number) {
  const t = fx.site(0, { imapd_timeout: timeout });
  setInbox(t.site, 'bob', BIG);
  const s = await connectImap(t.site);
  fx.onCleanup(() => s.close());
  expect(last(await s.login())).toMatch(/OK/);
  expect(last(await s.cmd('SELECT INBOX'))).toMatch(/OK/);
  s.c.socket.pause(); // never read again
  s.send('f FETCH 1:* BODY.PEEK[]\r\n');
  // Wait until the answer has filled the socket buffers (the server is then blocked on the client).
  while (s.c.socket.readableLength === 0) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300));
  return s;
}

describe('a client that stopped reading a big FETCH', () => {
  it('then closes: the session ends at once (not at the idle timeout)', async () => {
    const s = await stalledFetch(3600);
    s.c.socket.destroy(); // unread data: the kernel resets the connection, the next write fails
    // Ended by the failed write, long before the idle timeout (an hour): the test's own timeout bounds it.
    expect(await s.c.exited()).toBe(0);
  });

  it('then half-closes and keeps the socket: the idle timeout ends the session', async () => {
    const s = await stalledFetch(1);
    s.c.socket.end(); // FIN, but the socket stays open and unread
    expect(await s.c.exited()).toBe(0);
    s.c.socket.destroy();
  });
});
