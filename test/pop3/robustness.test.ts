// Bad input never crashes or hangs dpop, and a QUIT that deletes while an MDA (procmail) delivers
// loses nothing.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleMessage, type Site } from '../helpers/site.js';
import { popFixture, NOT_MBOX } from './pop-client.js';

const fixture = popFixture();
const { connect } = fixture;
const site = (n: number): Site => fixture.site(n, { auth_max_failures: 1000 });

/** Deterministic pseudo-random bytes (xorshift), so a failure can be replayed. */
function noise(seed: number, n: number): Buffer {
  let x = seed || 1;
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; b[i] = x & 0xff; }
  return b;
}

describe('bad input', () => {
  it('random bytes before and after login get -ERR answers, and the session still works', async () => {
    const s = site(2);
    const c = await connect(s);
    for (const phase of ['before', 'after'] as const) {
      for (let seed = 1; seed <= 30; seed++) {
        // One line of noise without LF/CR inside, so exactly one answer is due.
        const line = Buffer.from(noise(seed * (phase === 'after' ? 7919 : 1), 1 + (seed * 37) % 400).filter((b) => b !== 10 && b !== 13));
        // A line that happens to start with a real keyword may legitimately succeed or start SASL.
        const word = line.subarray(0, 4).toString('latin1').toUpperCase();
        if (['USER', 'PASS', 'AUTH', 'APOP', 'STLS', 'QUIT', 'DELE', 'RSET'].includes(word)) continue;
        c.send(Buffer.concat([line, Buffer.from('\r\n')]));
        expect(await c.line()).toMatch(/^[-+]/);
      }
      c.send(Buffer.from([0, 0, 0, 0x0d, 0x0a]));
      expect(await c.line()).toMatch(/^-ERR/);
      if (phase === 'before') expect(await c.login()).toMatch(/^\+OK/);
    }
    expect(await c.cmd('STAT')).toMatch(/^\+OK 2 /);
    expect(await c.cmd('QUIT')).toMatch(/^\+OK/);
    expect(await c.exited()).toBe(0);
  });
});

describe.skipIf(NOT_MBOX)('QUIT during delivery', () => {
  it('deleting every old message while procmail delivers 30 new ones loses none of the new', async () => {
    const s = site(20);
    const rc = join(s.dir, 'procmailrc');
    writeFileSync(rc, `LOCKSLEEP=1\nLOGFILE=${join(s.dir, 'procmail.log')}\n:0:\n${s.drop('bob')}\n`);
    const c = await connect(s);
    expect(await c.login()).toMatch(/^\+OK bob has 20 msgs/);
    for (let i = 1; i <= 20; i++) c.send(`DELE ${i}\r\n`);
    for (let i = 1; i <= 20; i++) expect(await c.line()).toMatch(/^\+OK/);
    const deliveries = Array.from({ length: 30 }, (_, i) => new Promise<number | null>((resolve) => {
      const p = spawn('procmail', ['-m', rc], { stdio: ['pipe', 'ignore', 'inherit'] });
      p.on('close', resolve);
      p.stdin.end(`From mda@example.com Tue Jan  2 03:04:05 2024\n${simpleMessage(100 + i)}`);
    }));
    const quit = c.cmd('QUIT');
    expect(await Promise.all(deliveries)).toEqual(Array(30).fill(0));
    expect(await quit).toMatch(/^\+OK/);
    await c.exited();

    const d = await connect(s);
    expect(await d.login()).toMatch(/^\+OK bob has 30 msgs/);
    const subjects: string[] = [];
    for (let i = 1; i <= 30; i++) subjects.push((await d.multiCmd(`TOP ${i} 0`)).lines.find((l) => l.startsWith('Subject: '))!);
    expect(subjects.sort()).toEqual(Array.from({ length: 30 }, (_, i) => `Subject: Test message ${100 + i}`).sort());
    await d.cmd('QUIT');
  });
});

describe('kill -9 during UPDATE', () => {
  it('never loses a kept message nor duplicates one, wherever the kill lands', async () => {
    for (let round = 0; round < 6; round++) {
      const s = site(30);
      const c = await connect(s);
      expect(await c.login()).toMatch(/^\+OK bob has 30 msgs/);
      await c.multiCmd('RETR 2'); // add_status makes QUIT rewrite flags too
      for (let i = 1; i <= 30; i += 2) c.send(`DELE ${i}\r\n`);
      for (let i = 1; i <= 30; i += 2) expect(await c.line()).toMatch(/^\+OK/);
      c.send('QUIT\r\n');
      await new Promise((r) => setTimeout(r, round * 5));
      c.kill('SIGKILL');
      await c.exited();

      const d = await connect(s);
      const reply = await d.login();
      expect(reply, `round ${round}`).toMatch(/^\+OK/);
      const n = Number((await d.cmd('STAT')).split(' ')[1]);
      const seen: string[] = [];
      for (let i = 1; i <= n; i++) seen.push((await d.multiCmd(`TOP ${i} 0`)).lines.find((l) => l.startsWith('Subject: '))!);
      await d.cmd('QUIT');
      await d.exited();
      expect(new Set(seen).size, `round ${round}: duplicates`).toBe(seen.length);
      for (let i = 2; i <= 30; i += 2) expect(seen, `round ${round}`).toContain(`Subject: Test message ${i}`);
      for (const subj of seen) expect(subj).toMatch(/^Subject: Test message \d+$/);
    }
  });
});
