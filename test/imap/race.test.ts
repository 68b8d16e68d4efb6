// Issue 11: three real imapd processes, a dpop process and procmail on one mailbox at the same time, each
// doing legitimate work on the view it was given (FETCH, STORE, EXPUNGE, COPY, APPEND, SEARCH). Nothing
// another session does may make a command fail: every tagged response is OK, every untagged number is
// within what the client was told, and at the end all sessions agree with each other and with STATUS.
import { afterEach, describe, expect, it } from 'vitest';
import { simpleMessage } from '../helpers/site.js';
import { pop } from '../pop3/pop-client.js';
import { connectImap, haveProcmail, last, procmailDeliver, rng, siteWithMessages, Tracked, type TestSite, expectViewsAgree } from './imap-client.js';

const cleanup: (() => void)[] = [];
afterEach(() => { for (const f of cleanup.splice(0).reverse()) f(); });

async function imapWorker(t: TestSite, k: number, ops: number): Promise<Tracked> {
  const c = await connectImap(t.site);
  cleanup.push(() => c.close());
  const s = new Tracked(c, `imap${k}`);
  await s.cmd('LOGIN bob secret');
  await s.cmd('SELECT INBOX');
  const r = rng(1000 + k);
  const range = () => {
    const a = 1 + r(s.exists);
    const b = Math.min(s.exists, a + r(4));
    return a === b ? `${a}` : `${a}:${b}`;
  };
  const flags = ['\\Seen', '\\Flagged', '\\Deleted', '$Label1', `Work${k}`];
  for (let i = 0; i < ops; i++) {
    const op = r(10);
    if (s.exists === 0 && op < 6) {
      const m = simpleMessage(500 + k * 100 + i);
      await s.cmd(`APPEND INBOX {${m.length}+}\r\n${m}`);
      continue;
    }
    switch (op) {
      case 0: await s.cmd(`FETCH ${range()} (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])`); break;
      case 1: await s.cmd(`FETCH ${range()} (BODY.PEEK[] FLAGS)`); break;
      case 2: await s.cmd(`STORE ${range()} ${r(2) ? '+' : '-'}FLAGS (${flags[r(flags.length)]})`); break;
      case 3: await s.cmd(`UID STORE 1:* +FLAGS.SILENT (${flags[r(2)]})`); break;
      case 4: await s.cmd('EXPUNGE'); break;
      case 5: await s.cmd(`COPY ${range()} Archive`); break;
      case 6: await s.cmd('SEARCH UNSEEN'); break;
      case 7: await s.cmd('UID FETCH 1:* (FLAGS)'); break;
      case 8: {
        const m = simpleMessage(500 + k * 100 + i);
        await s.cmd(`APPEND INBOX {${m.length}+}\r\n${m}`);
        break;
      }
      default: await s.cmd('NOOP');
    }
  }
  return s;
}

async function popWorker(t: TestSite, rounds: number): Promise<string[]> {
  const problems: string[] = [];
  const r = rng(77);
  for (let round = 0; round < rounds; round++) {
    const p = await pop(t.site);
    cleanup.push(() => p.close());
    const check = (what: string, answer: string) => { if (!answer.startsWith('+OK')) problems.push(`pop: ${what} -> ${answer}`); };
    check('login', await p.login());
    const stat = await p.cmd('STAT');
    check('STAT', stat);
    const n = Number(stat.split(' ')[1] ?? 0);
    if (n > 0) {
      const retr = await p.multiCmd(`RETR ${1 + r(n)}`);
      check('RETR', retr.status);
      check('DELE', await p.cmd(`DELE ${1 + r(n)}`));
    }
    check('QUIT', await p.cmd('QUIT'));
    await p.exited();
  }
  return problems;
}

describe('three imapd, a dpop and procmail on one mailbox', () => {
  it('never fail a command because of another session\'s work, and agree at the end', { timeout: 120_000 }, async () => {
    const t = siteWithMessages(12);
    cleanup.push(() => t.cleanup());
    const setup = await connectImap(t.site);
    cleanup.push(() => setup.close());
    await setup.login();
    expect(last(await setup.cmd('CREATE Archive'))).toMatch(/OK/);
    const deliveries = (async () => {
      if (!haveProcmail) return;
      for (let i = 0; i < 8; i++) await procmailDeliver(t, 200 + i);
    })();
    const [imaps, popProblems] = await Promise.all([
      Promise.all([1, 2, 3].map((k) => imapWorker(t, k, 40))),
      popWorker(t, 3),
      deliveries,
    ]);
    // Everyone catches up; then all views agree with each other and with STATUS.
    await expectViewsAgree(imaps, setup, popProblems);
  });
});
