// Through the built imapd (real sessions, inetd style): DELETE and RENAME of a folder SELECTed in
// another session succeed (no [INUSE]); the other session is told with an untagged BYE, as Dovecot does,
// and nothing is lost. Needs the store's refresh() NONEXISTENT and the IMAP BYE (issue 11).
import { describe, expect, it } from 'vitest';
import { imapFixture, last, type Imap, type TestSite } from '../imap/imap-client.js';

const fx = imapFixture();
const session = (t: TestSite): Promise<Imap> => fx.session(t);

/** The selected session's next command: an untagged BYE, then the connection ends. */
async function toldGone(a: Imap): Promise<void> {
  a.send('n1 NOOP\r\n');
  const lines: string[] = [];
  for (;;) {
    let l: string;
    try { l = await a.c.line(); } catch { break; }
    lines.push(l);
    if (l.startsWith('n1 ')) break;
  }
  expect(lines.some((l) => /^\* BYE /.test(l))).toBe(true);
  expect(await a.c.exited()).toBe(0);
}

describe('IMAP: DELETE and RENAME of a folder selected in another session', () => {
  it('DELETE succeeds and the selecting session gets BYE', async () => {
    const t = fx.site(2);
    const a = await session(t);
    const b = await session(t);
    expect(last(await b.cmd('CREATE Work'))).toMatch(/OK/);
    expect(last(await b.cmd('SELECT INBOX'))).toMatch(/OK/);
    expect(last(await b.cmd('COPY 1:2 Work'))).toMatch(/OK/);
    expect(last(await a.cmd('SELECT Work'))).toMatch(/OK/);
    expect(last(await b.cmd('DELETE Work'))).toMatch(/^t\d+ OK/);
    await toldGone(a);
    expect((await b.cmd('LIST "" "*"')).some((l) => l.includes('Work'))).toBe(false);
  });

  it('RENAME succeeds, keeps UIDs and UIDVALIDITY, and the selecting session gets BYE', async () => {
    const t = fx.site(3);
    const a = await session(t);
    const b = await session(t);
    expect(last(await b.cmd('CREATE Work'))).toMatch(/OK/);
    expect(last(await b.cmd('SELECT INBOX'))).toMatch(/OK/);
    expect(last(await b.cmd('COPY 1:3 Work'))).toMatch(/OK/);
    const sel = await a.cmd('SELECT Work');
    const uv = /UIDVALIDITY (\d+)/.exec(sel.join('\n'))![1];
    expect(last(await b.cmd('RENAME Work Play'))).toMatch(/^t\d+ OK/);
    await toldGone(a);
    expect(await b.cmd('STATUS Play (MESSAGES UIDVALIDITY UIDNEXT)')).toContain(`* STATUS Play (MESSAGES 3 UIDVALIDITY ${uv} UIDNEXT 4)`);
  });
});
