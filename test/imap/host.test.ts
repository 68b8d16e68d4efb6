// Issue 12 (the resident-mode seam): ONE process serving many IMAP sessions through src/session/host.ts
// (test/session/fixtures/host-server.ts), racing with an inetd-mode bin/imapd and procmail on one mailbox;
// IDLE woken by another session of the same process; kill -9 of that process in the middle of a rewrite.
import { describe, expect, it } from 'vitest';
import { simpleMessage } from '../helpers/site.js';
import { hostFixture } from '../helpers/host.js';
import { TEST_STORE } from '../maildir/site-store.js';
import { connectImap, haveProcmail, imapFixture, imapOver, last, procmailDeliver, rng, Tracked, type Imap, type TestSite, expectViewsAgree } from './imap-client.js';

const fx = imapFixture();
const startHost = hostFixture();

async function work(c: Imap, k: number, ops: number): Promise<Tracked> {
  fx.onCleanup(() => c.close());
  const s = new Tracked(c, `imap${k}`);
  await s.cmd('LOGIN bob secret');
  await s.cmd('SELECT INBOX');
  const r = rng(4000 + k);
  const range = () => {
    const a = 1 + r(s.exists);
    const b = Math.min(s.exists, a + r(3));
    return a === b ? `${a}` : `${a}:${b}`;
  };
  const flags = ['\\Seen', '\\Flagged', '\\Deleted', `Work${k}`];
  for (let i = 0; i < ops; i++) {
    const op = r(8);
    if (s.exists === 0 || op === 7) {
      const m = simpleMessage(600 + k * 100 + i);
      await s.cmd(`APPEND INBOX {${m.length}+}\r\n${m}`);
      continue;
    }
    switch (op) {
      case 0: await s.cmd(`FETCH ${range()} (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])`); break;
      case 1: await s.cmd(`FETCH ${range()} (BODY.PEEK[] FLAGS)`); break;
      case 2: await s.cmd(`STORE ${range()} ${r(2) ? '+' : '-'}FLAGS (${flags[r(flags.length)]})`); break;
      case 3: await s.cmd('EXPUNGE'); break;
      case 4: await s.cmd(`COPY ${range()} Archive`); break;
      case 5: await s.cmd('SEARCH UNSEEN'); break;
      default: await s.cmd('NOOP');
    }
  }
  return s;
}

describe('one process serving several IMAP sessions on one mailbox', () => {
  it('races with an inetd-mode imapd and procmail without a protocol error, and all agree at the end', { timeout: 120_000 }, async () => {
    const t: TestSite = fx.site(10);
    const host = await startHost('serve', 'imapd', t.site.conf);
    const setup = await fx.session(t, 'CREATE Archive');
    const deliveries = (async () => {
      if (!haveProcmail) return;
      for (let i = 0; i < 4; i++) await procmailDeliver(t, 300 + i);
    })();
    const inProcess = [1, 2, 3].map(async (k) => work(await imapOver(await host.connect()), k, 15));
    const inetd = (async () => work(await connectImap(t.site), 9, 15))();
    const sessions = await Promise.all([...inProcess, inetd]);
    await deliveries;
    await expectViewsAgree(sessions, setup);
    // Still one live process serving them all.
    expect(host.child.exitCode).toBeNull();
    expect(host.stderr()).toBe('');
  });

  it('IDLE in one session is woken by a STORE of another session of the same process', async () => {
    const t = fx.site(3);
    const host = await startHost('serve', 'imapd', t.site.conf);
    const a = await imapOver(await host.connect());
    const b = await imapOver(await host.connect());
    fx.onCleanup(() => { a.close(); b.close(); });
    for (const c of [a, b]) {
      expect(last(await c.login())).toMatch(/OK/);
      expect(last(await c.cmd('SELECT INBOX'))).toMatch(/OK/);
    }
    const tag = a.nextTag();
    a.send(`${tag} IDLE\r\n`);
    expect(await a.c.line()).toBe('+ idling');
    expect(last(await b.cmd('STORE 2 +FLAGS (\\Flagged)'))).toMatch(/OK/);
    expect(await a.c.line(30_000)).toMatch(/^\* 2 FETCH \(.*FLAGS \(.*\\Flagged/);
    a.send('DONE\r\n');
    expect(last(await a.c.until(`${tag} `))).toMatch(/OK/);
    // And an expunge by B reaches A's IDLE as well.
    const tag2 = a.nextTag();
    a.send(`${tag2} IDLE\r\n`);
    expect(await a.c.line()).toBe('+ idling');
    expect(last(await b.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)'))).toMatch(/OK/);
    expect(last(await b.cmd('EXPUNGE'))).toMatch(/OK/);
    const seen: string[] = [];
    while (!seen.includes('* 1 EXPUNGE')) seen.push(await a.c.line(30_000));
    a.send('DONE\r\n');
    expect(last(await a.c.until(`${tag2} `))).toMatch(/OK/);
  });
});

describe('kill -9 of the process serving several sessions, in the middle of a rewrite', () => {
  it('loses nothing: every message and every acknowledged APPEND is there, once, intact', { timeout: 60_000 }, async () => {
    const t = fx.site(6);
    const killpoint = TEST_STORE === 'mbox' ? 'mid-write' : 'maildir-expunge-logged';
    const host = await startHost('serve', 'imapd', t.site.conf, { DMAIL_STORE_KILLPOINT: killpoint });
    const a = await imapOver(await host.connect());
    const b = await imapOver(await host.connect());
    fx.onCleanup(() => { a.close(); b.close(); });
    expect(last(await a.login())).toMatch(/OK/);
    expect(last(await b.login())).toMatch(/OK/);
    expect(last(await a.cmd('SELECT INBOX'))).toMatch(/OK/);
    // B appends while A rewrites; what B was told is stored must survive the kill.
    const acked: number[] = [];
    const appender = (async () => {
      for (let i = 0; i < 50; i++) {
        const m = simpleMessage(900 + i);
        try {
          const r = await b.cmd(`APPEND INBOX {${m.length}+}\r\n${m}`, 5_000);
          if (/^t\d+ OK /.test(last(r))) acked.push(900 + i);
        } catch { return; } // the process is gone
      }
    })();
    try {
      await a.cmd('STORE 2,4 +FLAGS.SILENT (\\Deleted)', 5_000);
      await a.cmd('EXPUNGE', 5_000);
      for (let i = 0; i < 5; i++) {
        await a.cmd('NOOP', 5_000);
        const m = simpleMessage(800 + i);
        await a.cmd(`APPEND INBOX {${m.length}+}\r\n${m}`, 5_000);
        await a.cmd('EXPUNGE', 5_000);
      }
    } catch { /* the process died under us: that is the point */ }
    const gone = await host.exited;
    expect(gone.signal).toBe('SIGKILL');
    await appender;

    // A fresh inetd-mode session recovers (journal replay) and shows everything that must be there.
    const c = await connectImap(t.site);
    fx.onCleanup(() => c.close());
    expect(last(await c.login())).toMatch(/OK/);
    expect(last(await c.cmd('SELECT INBOX'))).toMatch(/OK/);
    const f = await c.cmd('FETCH 1:* (BODY.PEEK[])', 30_000);
    expect(last(f)).toMatch(/OK/);
    const text = f.join('\n');
    const count = (i: number) => text.split(`Hello, this is message ${i}.`).length - 1;
    for (const i of [1, 3, 5, 6, ...acked]) expect(count(i), `message ${i}`).toBe(1);
    for (const i of [2, 4]) expect(count(i)).toBeLessThanOrEqual(1);
    for (let i = 800; i < 805; i++) expect(count(i)).toBeLessThanOrEqual(1);
  });
});
