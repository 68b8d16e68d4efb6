// FETCH of metadata items only (FLAGS, UID, INTERNALDATE, RFC822.SIZE, MODSEQ) takes its own path
// (commands/fetch.ts fetchSimple: no per-message parts, one string per batch). Its answers must be the
// very bytes of the general path: compare with the same FETCH plus ENVELOPE (which takes the general
// path), ENVELOPE cut off, over a mailbox big enough for several output batches, with mixed flags,
// keywords and \Recent.
import { describe, expect, it } from 'vitest';
import { imapFixture, last, type Imap } from './imap-client.js';

const fx = imapFixture();
const N = 1500;

/** The untagged FETCH lines of a command, ENVELOPE (the last item but an implied MODSEQ) removed. */
async function fetchLines(c: Imap, cmd: string, envelope: boolean): Promise<string[]> {
  const r = await c.cmd(cmd);
  expect(last(r)).toMatch(/OK/);
  const lines = r.slice(0, -1);
  return envelope ? lines.map((l) => l.replace(/ ENVELOPE \(.*?\)( MODSEQ \(\d+\))?\)$/, '$1)')) : lines;
}

describe('FETCH of metadata items only', () => {
  it('answers byte for byte like the general path, over several output batches', async () => {
    const t = fx.site(N);
    const a = await fx.session(t, 'SELECT INBOX');
    // Mixed flags and keywords (the store shares flag sets between messages with the same flags).
    expect(last(await a.cmd('STORE 1:200 +FLAGS.SILENT (\\Seen)'))).toMatch(/OK/);
    expect(last(await a.cmd('STORE 150:300 +FLAGS.SILENT (\\Flagged $Label1)'))).toMatch(/OK/);
    expect(last(await a.cmd('STORE 7,900:1000 +FLAGS.SILENT (kw2 \\Answered)'))).toMatch(/OK/);
    expect(last(await a.cmd('STORE 1499 +FLAGS.SILENT (\\Deleted)'))).toMatch(/OK/);
    // A second session sees two messages nobody has claimed yet as \Recent, the others not.
    const b = await fx.session(t);
    for (const n of [1, 2]) {
      const msg = `Subject: late ${n}\r\n\r\nbody ${n}\r\n`;
      b.send(`x${n} APPEND INBOX {${msg.length}+}\r\n${msg}\r\n`);
      expect(last(await b.c.until(`x${n} `, 15_000))).toMatch(/OK/);
    }
    expect(last(await b.cmd('SELECT INBOX'))).toMatch(/OK/);
    // Session a set its keywords silently: its first FETCH of them announces each one in a FLAGS and
    // PERMANENTFLAGS just before the first response naming it (RFC 3501 §7.2.6), once.
    expect(last(await a.cmd('NOOP'))).toMatch(/OK/);
    const first = await fetchLines(a, 'FETCH 1:* (FLAGS)', false);
    const at = (n: number) => first.findIndex((l) => l.startsWith(`* ${n} FETCH `));
    expect(first[at(7) - 2]).toBe('* FLAGS (\\Answered \\Flagged \\Deleted \\Draft \\Seen kw2)');
    expect(first[at(7) - 1]).toMatch(/^\* OK \[PERMANENTFLAGS \(\\\* .* kw2\)\]/);
    expect(first[at(150) - 2]).toBe('* FLAGS (\\Answered \\Flagged \\Deleted \\Draft \\Seen kw2 $Label1)');
    expect(first.length).toBe(N + 2 + 4);
    for (const c of [a, b]) {
      expect(last(await c.cmd('NOOP'))).toMatch(/OK/);
      for (const items of ['FLAGS', 'UID FLAGS', 'FLAGS RFC822.SIZE INTERNALDATE UID']) {
        const simple = await fetchLines(c, `FETCH 1:* (${items})`, false);
        const general = await fetchLines(c, `FETCH 1:* (${items} ENVELOPE)`, true);
        expect(simple.filter((l) => !/^\* \d+ FETCH /.test(l))).toEqual([]);
        expect(simple.length).toBe(N + 2);
        expect(simple).toEqual(general);
        const uidSimple = await fetchLines(c, `UID FETCH 1:* (${items})`, false);
        expect(uidSimple).toEqual(await fetchLines(c, `UID FETCH 1:* (${items} ENVELOPE)`, true));
      }
      // Some of what the fast path answers really varies: \Recent, keywords, several flag sets.
      const flags = await fetchLines(c, 'FETCH 1:* (FLAGS)', false);
      expect(new Set(flags.map((l) => l.replace(/^\* \d+ /, ''))).size).toBeGreaterThanOrEqual(5);
    }
    const fb = await fetchLines(b, 'FETCH 1:* (FLAGS)', false);
    expect(fb.filter((l) => l.includes('\\Recent'))).toHaveLength(2);
    expect(fb[6]).toMatch(/kw2/);
    // With CONDSTORE: MODSEQ items, by sequence number and by UID, and CHANGEDSINCE.
    expect(last(await b.cmd('ENABLE CONDSTORE'))).toMatch(/OK/);
    for (const cmd of ['FETCH 1:* (FLAGS MODSEQ)', 'UID FETCH 1:* (MODSEQ)', 'FETCH 1:* (FLAGS) (CHANGEDSINCE 1)']) {
      const general = cmd.replace(/\)( \(CHANGEDSINCE 1\))?$/, ' ENVELOPE)$1');
      expect(await fetchLines(b, cmd, false)).toEqual(await fetchLines(b, general, true));
    }
  });
});
