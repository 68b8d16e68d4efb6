// PARTIAL (RFC 9394) over the real bin/imapd, both stores: the paged SEARCH/SORT results of §3.1
// (positive and newest-first ranges, reversed ranges, short pages, NIL), "$" with PARTIAL and
// MIN/MAX/COUNT (§3.2 Table 1), and the UID FETCH PARTIAL modifier (§3.3, with CHANGEDSINCE §3.4).
import { describe, expect, it } from 'vitest';
import { imapFixture, last, type Imap } from './imap-client.js';

const f = imapFixture();
const esearch = (r: string[]) => r.filter((l) => l.startsWith('* ESEARCH'));
const uidsOf = async (a: Imap): Promise<number[]> =>
  (await a.cmd('UID SEARCH ALL')).find((l) => l.startsWith('* SEARCH'))!.slice(8).trim().split(' ').map(Number);
const fetched = (r: string[]) => r.filter((l) => /^\* \d+ FETCH /.test(l)).map((l) => Number(/UID (\d+)/.exec(l)![1]));

describe('PARTIAL (RFC 9394)', () => {
  it('pages SEARCH results from either end, with short pages and NIL (§3.1)', async () => {
    const a = await f.session(f.site(8), 'SELECT INBOX');
    const u = await uidsOf(a);
    const E = (r: string[]) => esearch(r)[0]!.replace(/^\* ESEARCH \(TAG "t\d+"\) UID /, '');
    expect(E(await a.cmd('UID SEARCH RETURN (PARTIAL 1:3) ALL'))).toBe(`PARTIAL (1:3 ${u[0]}:${u[2]})`);
    expect(E(await a.cmd('UID SEARCH RETURN (PARTIAL 3:1) ALL'))).toBe(`PARTIAL (3:1 ${u[0]}:${u[2]})`); // 3:1 is 1:3
    expect(E(await a.cmd('UID SEARCH RETURN (PARTIAL -1:-3) ALL'))).toBe(`PARTIAL (-1:-3 ${u[5]}:${u[7]})`); // newest, mailbox order
    expect(E(await a.cmd('UID SEARCH RETURN (PARTIAL 7:20) ALL'))).toBe(`PARTIAL (7:20 ${u[6]}:${u[7]})`); // short page
    expect(E(await a.cmd('UID SEARCH RETURN (PARTIAL 20:30) ALL'))).toBe('PARTIAL (20:30 NIL)');
    expect(E(await a.cmd('UID SEARCH RETURN (PARTIAL -20:-30) ALL'))).toBe('PARTIAL (-20:-30 NIL)');
    expect(E(await a.cmd('UID SEARCH RETURN (COUNT PARTIAL 2:2) ALL'))).toBe(`COUNT 8 PARTIAL (2:2 ${u[1]})`);
    // One PARTIAL or ALL, same-sign nz-numbers, no "*".
    for (const bad of ['PARTIAL 1:2 ALL', 'PARTIAL 1:2 PARTIAL 3:4', 'PARTIAL -1:2', 'PARTIAL 0:2', 'PARTIAL 1:*', 'PARTIAL'])
      expect(last(await a.cmd(`SEARCH RETURN (${bad}) ALL`))).toMatch(/^t\d+ BAD/);
    // SORT pages count positions in sort order.
    expect(E(await a.cmd('UID SORT RETURN (PARTIAL 1:2) (REVERSE ARRIVAL) UTF-8 ALL'))).toBe(`PARTIAL (1:2 ${u[7]},${u[6]})`);
  });

  it('"$" keeps the page, plus MIN/MAX, or everything with COUNT (§3.2 Table 1)', async () => {
    const a = await f.session(f.site(8), 'SELECT INBOX');
    const saved = async () => (await a.cmd('SEARCH $')).find((l) => l.startsWith('* SEARCH'))!;
    expect(esearch(await a.cmd('SEARCH RETURN (SAVE PARTIAL 3:4) ALL'))).toEqual([expect.stringMatching(/PARTIAL \(3:4 3:4\)$/)]);
    expect(await saved()).toBe('* SEARCH 3 4');
    await a.cmd('SEARCH RETURN (SAVE MIN PARTIAL 3:4) ALL');
    expect(await saved()).toBe('* SEARCH 1 3 4');
    await a.cmd('SEARCH RETURN (SAVE MIN MAX PARTIAL -2:-3) ALL');
    expect(await saved()).toBe('* SEARCH 1 6 7 8');
    await a.cmd('SEARCH RETURN (SAVE MAX COUNT PARTIAL 3:4) ALL');
    expect(await saved()).toBe('* SEARCH 1 2 3 4 5 6 7 8');
  });

  it('UID FETCH (PARTIAL ...) answers only those positions of the set; with CHANGEDSINCE of what changed (§3.3, §3.4)', async () => {
    const a = await f.session(f.site(8), 'SELECT INBOX');
    const u = await uidsOf(a);
    expect(fetched(await a.cmd('UID FETCH 1:* (FLAGS) (PARTIAL -1:-3)'))).toEqual([u[5], u[6], u[7]]);
    expect(fetched(await a.cmd(`UID FETCH ${u[2]}:* (FLAGS) (PARTIAL 1:2)`))).toEqual([u[2], u[3]]);
    expect(fetched(await a.cmd('UID FETCH 1:* (FLAGS) (PARTIAL 30:40)'))).toEqual([]);
    // CHANGEDSINCE first, then the page (the modifiers' order does not matter).
    const st = (await a.cmd('STATUS INBOX (HIGHESTMODSEQ)')).find((l) => l.startsWith('* STATUS'))!;
    const modseq = Number(/HIGHESTMODSEQ (\d+)/.exec(st)![1]);
    expect(last(await a.cmd(`UID STORE ${u[1]},${u[4]},${u[6]} +FLAGS.SILENT (\\Flagged)`))).toMatch(/OK/);
    expect(fetched(await a.cmd(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${modseq} PARTIAL 1:2)`))).toEqual([u[1], u[4]]);
    expect(fetched(await a.cmd(`UID FETCH 1:* (FLAGS) (PARTIAL -1:-1 CHANGEDSINCE ${modseq})`))).toEqual([u[6]]);
    // UID FETCH only, and a valid range.
    expect(last(await a.cmd('FETCH 1:* (FLAGS) (PARTIAL 1:2)'))).toMatch(/^t\d+ BAD/);
    expect(last(await a.cmd('UID FETCH 1:* (FLAGS) (PARTIAL 1:-2)'))).toMatch(/^t\d+ BAD/);
  });
});
