// POP3 beside other sessions of the same user, real dpop and imapd processes racing:
// - a POP3 session can RETR/TOP every message of its listing until QUIT, even after an IMAP session
//   expunged it (the store keeps the bytes for a handle that never acknowledges: dpop keeps its INBOX
//   handle open from login to QUIT); its DELE of such a message is harmless at QUIT;
// - a POP3 client that disconnects without QUIT ends its process at once (nothing deleted), so the
//   next session finds the maildrop free.
// Needs the store's deferred removal (issue 11, store helper): fails on a store that removes bytes at once.
import { describe, expect, it } from 'vitest';
import { connectImap, last } from '../imap/imap-client.js';
import { EOF_GRACE_MS } from '../../src/transport/stream-connection.js';
import { crlf, popFixture } from './pop-client.js';
import { simpleMessage } from '../helpers/site.js';

const { site, connect } = popFixture();

function exitWithinGrace(exited: Promise<number | null>): Promise<number | null | 'lingered'> {
  return Promise.race([exited, new Promise<'lingered'>((r) => setTimeout(() => r('lingered'), EOF_GRACE_MS).unref())]);
}

async function subjectsNow(s: ReturnType<typeof site>): Promise<string[]> {
  const c = await connect(s);
  expect(await c.login()).toMatch(/^\+OK/);
  const n = Number((await c.cmd('STAT')).split(' ')[1]);
  const out: string[] = [];
  for (let i = 1; i <= n; i++) { const t = await c.multiCmd(`TOP ${i} 0`); const subj = t.lines.find((l) => l.startsWith("Subject: ")); if (!subj) throw new Error(`TOP ${i}: ${t.status} ${t.lines.join("|")}`); out.push(subj.slice(9)); }
  expect(await c.cmd('QUIT')).toMatch(/^\+OK/);
  await c.exited();
  return out;
}

describe('POP3 and IMAP expunging the same maildrop', () => {
  it('RETR and TOP serve messages another session expunged; their DELE is harmless at QUIT', async () => {
    const s = site(5);
    const p = await connect(s);
    expect(await p.login()).toMatch(/^\+OK bob has 5 msgs/);

    const imap = await connectImap(s);
    expect(last(await imap.login())).toMatch(/OK/);
    expect(last(await imap.cmd('SELECT INBOX'))).toMatch(/OK/);
    expect(last(await imap.cmd('STORE 2,4 +FLAGS.SILENT (\\Deleted)'))).toMatch(/OK/);
    const ex = await imap.cmd('EXPUNGE');
    expect(last(ex)).toMatch(/OK/);
    expect(ex.filter((l) => / EXPUNGE$/.test(l))).toHaveLength(2);
    expect(last(await imap.cmd('LOGOUT'))).toMatch(/OK/);
    await imap.c.exited();

    // The POP3 session's listing still holds: every message readable, with its original bytes.
    expect((await p.multiCmd('LIST')).lines).toHaveLength(5);
    for (let i = 1; i <= 5; i++) {
      const r = await p.multiCmd(`RETR ${i}`);
      expect(r.status).toMatch(/^\+OK/);
      expect(r.lines.join('\r\n') + '\r\n').toBe(crlf(simpleMessage(i)));
      expect((await p.multiCmd(`TOP ${i} 0`)).lines).toContain(`Subject: Test message ${i}`);
    }
    expect(await p.cmd('DELE 2')).toMatch(/^\+OK/); // already expunged by IMAP
    expect(await p.cmd('DELE 3')).toMatch(/^\+OK/);
    expect(await p.cmd('QUIT')).toMatch(/^\+OK .*\(2 messages left\)/);
    expect(await p.exited()).toBe(0);

    expect(await subjectsNow(s)).toEqual(['Test message 1', 'Test message 5']);
  });

  it('racing: every RETR of the listing succeeds while an imapd expunges message after message', async () => {
    const n = 30;
    const s = site(n);
    const p = await connect(s);
    expect(await p.login()).toMatch(/^\+OK/);
    const imap = await connectImap(s);
    expect(last(await imap.login())).toMatch(/OK/);
    expect(last(await imap.cmd('SELECT INBOX'))).toMatch(/OK/);

    const expunger = (async () => {
      const errors: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = await imap.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)');
        if (!/OK/.test(last(r))) errors.push(last(r));
        const e = await imap.cmd('EXPUNGE');
        if (!/OK/.test(last(e))) errors.push(last(e));
      }
      expect(last(await imap.cmd('LOGOUT'))).toMatch(/OK/);
      return errors;
    })();
    const answers: string[] = [];
    for (let i = 1; i <= n; i++) {
      const r = await p.multiCmd(`RETR ${i}`);
      answers.push(r.status.startsWith('+OK') && r.lines.join('\r\n') + '\r\n' === crlf(simpleMessage(i)) ? 'ok' : `${i}: ${r.status}`);
    }
    expect(await expunger).toEqual([]);
    expect(answers.filter((a) => a !== 'ok')).toEqual([]);
    expect(await p.cmd('DELE 1')).toMatch(/^\+OK/);
    expect(await p.cmd('QUIT')).toMatch(/^\+OK .*maildrop empty/);
    expect(await p.exited()).toBe(0);
    expect(await subjectsNow(s)).toEqual([]);
  });
});

describe('POP3: a client that leaves without QUIT', () => {
  it('ends its process at once, deletes nothing, and the next session gets the maildrop', async () => {
    const s = site(2);
    const p = await connect(s);
    expect(await p.login()).toMatch(/^\+OK/);
    expect(await p.cmd('DELE 1')).toMatch(/^\+OK/);
    p.socket.end(); // FIN, no QUIT
    expect(await exitWithinGrace(p.exited())).toBe(0);
    expect(await subjectsNow(s)).toEqual(['Test message 1', 'Test message 2']);
  });

  it('answers what was pipelined before a half-close, then ends at once', async () => {
    const s = site(2);
    const p = await connect(s);
    p.socket.end('USER bob\r\nPASS secret\r\nSTAT\r\nDELE 2\r\nQUIT\r\n');
    expect(await p.line()).toMatch(/^\+OK/);
    expect(await p.line()).toMatch(/^\+OK bob has 2 msgs/);
    expect(await p.line()).toMatch(/^\+OK 2 \d+$/);
    expect(await p.line()).toMatch(/^\+OK/);
    expect(await p.line()).toMatch(/^\+OK .*\(1 messages left\)/);
    expect(await exitWithinGrace(p.exited())).toBe(0);
    expect(await subjectsNow(s)).toEqual(['Test message 1']);
  });
});
