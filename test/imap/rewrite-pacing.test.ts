// Issue 12: a long mbox rewrite (the first STORE stamping a whole spool, the removal of an expunged first
// message) in a process serving many sessions (src/session/host.ts) goes in slices, so the process's
// other sessions go on meanwhile. No timings: the rewrite is held at a named step inside its sliced phase
// (DMAIL_STORE_HOLDPOINT, store/pace.ts) until the test has seen session B (another mailbox) answer a
// NOOP and get an IDLE update; session C (same mailbox) waits on the mailbox lock and then sees the
// rewrite's result. mbox only: a maildir has no spool rewrite (its long loops are paced the same way).
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleMessage } from '../helpers/site.js';
import { hostFixture } from '../helpers/host.js';
import { TEST_STORE } from '../maildir/site-store.js';
import { imapFixture, imapOver, last, type Imap } from './imap-client.js';

const fx = imapFixture();
const startHost = hostFixture();
const COUNT = 5_000; // about 1.5 MB: more than one 1 MB slice of journal

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A command whose answer is awaited later; `done` tells whether it has arrived. */
function pending(c: Imap, text: string): { lines: Promise<string[]>; done: () => boolean } {
  let arrived = false;
  const lines = c.cmd(text, 120_000).then((l) => { arrived = true; return l; });
  return { lines, done: () => arrived };
}

describe.skipIf(TEST_STORE !== 'mbox')('a long mbox rewrite does not stall the other sessions of its process', () => {
  for (const kind of ['first STORE', 'EXPUNGE of the first message'] as const) {
    it(`${kind}: another mailbox's session is served meanwhile, the same mailbox's waits`, { timeout: 120_000 }, async () => {
      const t = fx.site(COUNT);
      if (kind !== 'first STORE') {
        // Stamp the spool first (a full rewrite, in another process), so that only the removal is long.
        const pre = await fx.session(t, 'SELECT INBOX', 'STORE 1:* +FLAGS (\\Seen)', 'STORE 1 +FLAGS (\\Deleted)');
        expect(last(await pre.cmd('LOGOUT'))).toMatch(/OK/);
      }
      const gate = mkdtempSync(join(t.site.dir, 'hold-'));
      const host = await startHost('serve', 'imapd', t.site.conf, { DMAIL_STORE_HOLDPOINT: `journal-slice:${gate}` });
      const session = async (...cmds: string[]) => {
        const c = await imapOver(await host.connect());
        fx.onCleanup(() => c.close());
        expect(last(await c.login())).toMatch(/OK/);
        for (const x of cmds) expect(last(await c.cmd(x)), x).toMatch(/OK/);
        return c;
      };
      const other = simpleMessage(90001);
      const b = await session('CREATE Other', `APPEND Other {${other.length}+}\r\n${other}`, 'SELECT Other');
      const d = await session();
      const a = await session('SELECT INBOX');
      const c = kind === 'first STORE' ? await session('SELECT INBOX') : await session();

      // A starts the long rewrite: stamping every message (no X-UID yet), or removing the expunged first
      // message at CLOSE (deferred removal: the spool is rewritten from it on).
      const aCmd = pending(a, kind === 'first STORE' ? 'STORE 1 +FLAGS (\\Seen)' : 'CLOSE');
      while (!existsSync(join(gate, 'held'))) {
        expect(aCmd.done(), 'A finished without passing through a slice').toBe(false);
        await sleep(5);
      }
      // C on the same mailbox: must wait for A's rewrite.
      const cCmd = pending(c, kind === 'first STORE' ? 'NOOP' : 'SELECT INBOX');

      // B, on another mailbox of the same process, is served while A is in the middle of its rewrite.
      expect(last(await b.cmd('NOOP'))).toMatch(/^t\d+ OK/);
      b.send('i1 IDLE\r\n');
      expect((await b.c.line(30_000)).startsWith('+')).toBe(true);
      const next = simpleMessage(90002);
      expect(last(await d.cmd(`APPEND Other {${next.length}+}\r\n${next}`))).toMatch(/OK/);
      expect((await b.c.until('* 2 EXISTS', 30_000)).pop()).toBe('* 2 EXISTS');
      b.send('DONE\r\n');
      expect(last(await b.c.until('i1 ', 30_000))).toMatch(/^i1 OK/);
      // A new connection is greeted too.
      const e = await imapOver(await host.connect());
      fx.onCleanup(() => e.close());
      expect(e.greeting).toMatch(/^\* OK/);
      expect(aCmd.done()).toBe(false);
      expect(cCmd.done()).toBe(false);

      writeFileSync(join(gate, 'go'), '');
      expect(last(await aCmd.lines)).toMatch(/^t\d+ OK/);
      const cLines = await cCmd.lines;
      expect(last(cLines)).toMatch(/^t\d+ OK/);
      if (kind === 'first STORE') {
        // C's view is the rewritten mailbox: message 1 now \Seen, everything else as it was.
        expect(cLines.some((l) => /^\* 1 FETCH \(.*FLAGS \(.*\\Seen/.test(l)), cLines.join("\n")).toBe(true);
        const f = await c.cmd(`FETCH 1,${COUNT} (UID FLAGS)`);
        expect(f.filter((l) => l.startsWith('* '))).toHaveLength(2);
        expect(f[0]).toMatch(/\\Seen/);
        expect(f[1]).not.toMatch(/\\Seen/);
      } else {
        expect(cLines).toContain(`* ${COUNT - 1} EXISTS`);
        const f = await c.cmd('FETCH 1 (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])');
        expect(f.join('\n')).toContain('<msg2@example.com>');
      }
      expect(host.child.exitCode).toBeNull();
    });
  }
});
