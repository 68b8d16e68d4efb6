// Issue 14: STATUS and LIST-STATUS answer from the index without the spool lock when they can. Racing
// procmail deliveries and another session's APPENDs (other processes), a session's STATUS and
// LIST-STATUS never report fewer messages or a lower UIDNEXT than before, and end at the truth (what a
// fresh SELECT sees).
import { describe, expect, it } from 'vitest';
import { simpleMessage } from '../helpers/site.js';
import { haveProcmail, imapFixture, last, procmailDeliver } from './imap-client.js';

const fx = imapFixture();

const numbers = (line: string | undefined) => {
  const m = /MESSAGES (\d+) UIDNEXT (\d+) UNSEEN (\d+)/.exec(line ?? '');
  expect(m, line).not.toBeNull();
  return { messages: Number(m![1]), uidNext: Number(m![2]), unseen: Number(m![3]) };
};

describe('STATUS racing deliveries', () => {
  it.skipIf(!haveProcmail)('never goes back and ends at the truth', async () => {
    const t = fx.site(3);
    const asker = await fx.session(t, 'CREATE Other');
    const appender = await fx.session(t);
    const D = 4;
    const A = 3;
    // One delivery at a time (procmailDeliver rewrites its rc file per call), beside the appending session.
    const work = Promise.all([
      (async () => { for (let i = 1; i <= D; i++) await procmailDeliver(t, 100 + i); })(),
      (async () => {
        for (let i = 0; i < A; i++) {
          const m = simpleMessage(200 + i);
          expect(last(await appender.cmd(`APPEND INBOX {${m.length}+}\r\n${m}`))).toMatch(/OK/);
        }
      })(),
    ]);
    let done = false;
    void work.then(() => { done = true; }, () => { done = true; });
    let prev = { messages: 0, uidNext: 0 };
    const check = (st: { messages: number; uidNext: number }) => {
      expect(st.messages).toBeGreaterThanOrEqual(prev.messages);
      expect(st.uidNext).toBeGreaterThanOrEqual(prev.uidNext);
      expect(st.uidNext).toBeGreaterThan(st.messages);
      prev = st;
    };
    for (let round = 0; !done; round++) {
      const lines = await asker.cmd(round % 2 ? 'STATUS INBOX (MESSAGES UIDNEXT UNSEEN)' : 'LIST "" "*" RETURN (STATUS (MESSAGES UIDNEXT UNSEEN))');
      expect(last(lines)).toMatch(/OK/);
      check(numbers(lines.find((l) => /^\* STATUS "?INBOX"? /.test(l))));
    }
    await work;
    const final = numbers((await asker.cmd('STATUS INBOX (MESSAGES UIDNEXT UNSEEN)')).find((l) => l.startsWith('* STATUS')));
    check(final);
    expect(final.messages).toBe(3 + D + A);
    const fresh = await fx.session(t);
    const sel = await fresh.cmd('SELECT INBOX');
    expect(sel).toContain(`* ${3 + D + A} EXISTS`);
    expect(sel.find((l) => l.includes('[UIDNEXT '))).toContain(`[UIDNEXT ${final.uidNext}]`);
  });
});
