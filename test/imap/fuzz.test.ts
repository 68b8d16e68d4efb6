// Robustness: random bytes and mangled commands, before and after login, must never crash the process
// or hang it; afterwards the same connection must still answer a well-formed command.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectImap, last, siteWithMessages, type TestSite } from './imap-client.js';

let t: TestSite;
beforeAll(() => {
  t = siteWithMessages(3, { max_line_length: 4096 });
});
afterAll(() => t.cleanup());

/** Deterministic PRNG so a failure can be reproduced. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

const TEMPLATES = [
  'FETCH 1:* (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (A B)]<0.10>)', 'SEARCH OR (FROM x) NOT 1:3 SINCE 1-Jan-2024',
  'STORE 1 +FLAGS (\\Seen)', 'UID FETCH 1:* BODYSTRUCTURE', 'LIST "" "*"', 'STATUS INBOX (MESSAGES)',
  'COPY 1 INBOX', 'APPEND INBOX {5+}\r\nhello', 'SELECT INBOX', 'UID SEARCH RETURN (COUNT) ALL',
  'FETCH 1 BODY[]<0.5>', 'EXAMINE INBOX', 'NOOP', 'ID ("a" "b")', 'LSUB "" %',
];

function mangle(s: string, rnd: () => number): string {
  const chars = [...s];
  const n = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < n; i++) {
    const p = Math.floor(rnd() * (chars.length + 1));
    const r = rnd();
    const junk = '(){}[]<>"\\*%:,.+ \0\xff0123456789'[Math.floor(rnd() * 25)]!;
    if (r < 0.4) chars.splice(p, 1);
    else if (r < 0.8) chars.splice(p, 0, junk);
    else chars.splice(p, 1, junk);
  }
  return chars.join('').replace(/\r?\n/g, ' ');
}

describe('fuzz', () => {
  it('random bytes before login do not crash the server', async () => {
    const rnd = prng(42);
    for (let round = 0; round < 3; round++) {
      const s = await connectImap(t.site);
      const junk = Buffer.alloc(20000);
      for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(rnd() * 256);
      // Keep literals in the junk from stalling the conversation: never a '{' right before CRLF.
      s.send(junk.toString('latin1').replace(/\{/g, '(').replace(/[\r\n]/g, '\r\n'));
      s.send('\r\nzz NOOP\r\n');
      const lines = await s.c.until('zz ', 20_000);
      expect(last(lines)).toMatch(/^zz OK/);
      s.close();
      expect(await s.c.exited()).not.toBe(1);
    }
  });

  it('mangled commands after login get BAD/NO, never a crash', async () => {
    const rnd = prng(7);
    const s = await connectImap(t.site);
    await s.login();
    await s.cmd('SELECT INBOX');
    for (let i = 0; i < 300; i++) {
      const text = mangle(TEMPLATES[i % TEMPLATES.length]!, rnd).replace(/\{(\d*)\+?\}$/, '');
      const tag = s.nextTag();
      s.send(`${tag} ${text}\r\n`);
      s.send(`${tag}x NOOP\r\n`);
      const lines = await s.c.until(`${tag}x `, 20_000);
      expect(last(lines)).toMatch(new RegExp(`^${tag}x (OK|BAD|NO)`));
      expect(lines.some((l) => l.startsWith('* BYE'))).toBe(false);
    }
    expect(last(await s.cmd('NOOP'))).toMatch(/OK NOOP/);
    // Random bytes in the selected state too: every line is answered, none kills the session.
    const junk = Buffer.alloc(20000);
    for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(rnd() * 256);
    s.send(Buffer.from(junk.toString('latin1').replace(/\{/g, '(').replace(/[\r\n]/g, '\r\n'), 'latin1'));
    s.send('\r\nzz NOOP\r\n');
    const after = await s.c.until('zz ', 20_000);
    expect(last(after)).toMatch(/^zz OK/);
    expect(after.some((l) => l.startsWith('* BYE'))).toBe(false);
    s.close();
    expect(await s.c.exited()).not.toBe(1);
  });
});
