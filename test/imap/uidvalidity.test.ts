// UIDVALIDITY never repeats for a name (issue 11 point 5), through real imapd processes racing: each
// deletes and creates its folder again and again within the same seconds, and a RENAME lands on a
// deleted name. All values distinct; per name increasing.
import { describe, expect, it } from 'vitest';
import { imapFixture, last, type Imap, type TestSite } from './imap-client.js';

const fx = imapFixture();
const session = (t: TestSite): Promise<Imap> => fx.session(t);

async function uidValidity(c: Imap, name: string): Promise<number> {
  const r = await c.cmd(`STATUS ${name} (UIDVALIDITY)`);
  expect(last(r)).toMatch(/OK/);
  return Number(/UIDVALIDITY (\d+)/.exec(r.join('\n'))![1]);
}

describe('UIDVALIDITY through imapd', () => {
  it('racing sessions delete and re-create folders within a second: never a value twice', async () => {
    const t = fx.site(0);
    const runs = await Promise.all(['W1', 'W2', 'W3'].map(async (name) => {
      const c = await session(t);
      const seen: number[] = [];
      for (let i = 0; i < 6; i++) {
        expect(last(await c.cmd(`CREATE ${name}`))).toMatch(/OK/);
        seen.push(await uidValidity(c, name));
        expect(last(await c.cmd(`DELETE ${name}`))).toMatch(/OK/);
      }
      return seen;
    }));
    const all = runs.flat();
    expect(new Set(all).size).toBe(all.length);
    for (const r of runs) expect(r.every((v, i) => i === 0 || v > r[i - 1]!)).toBe(true);
  });

  it('RENAME over a deleted name: the name gets the moved folder\'s own, newer UIDVALIDITY', async () => {
    const t = fx.site(0);
    const c = await session(t);
    expect(last(await c.cmd('CREATE Old'))).toMatch(/OK/);
    const old = await uidValidity(c, 'Old');
    expect(last(await c.cmd('DELETE Old'))).toMatch(/OK/);
    expect(last(await c.cmd('CREATE New'))).toMatch(/OK/);
    const moved = await uidValidity(c, 'New');
    expect(last(await c.cmd('RENAME New Old'))).toMatch(/OK/);
    expect(await uidValidity(c, 'Old')).toBe(moved);
    expect(moved).toBeGreaterThan(old);
  });
});
