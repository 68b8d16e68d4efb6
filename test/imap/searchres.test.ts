// SEARCHRES (RFC 5182) over the real bin/imapd, both stores, following the RFC's examples: SEARCH
// RETURN (SAVE) then FETCH/STORE/COPY/UID EXPUNGE/SEARCH on "$", SAVE with MIN/MAX, with SORT, "$"
// after a failed search, and "$" following expunges and gone after SELECT.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectImap, last, siteWithMessages, type Imap, type TestSite } from './imap-client.js';

let t: TestSite;
let c: Imap;
beforeEach(async () => {
  t = siteWithMessages(8);
  c = await connectImap(t.site);
  expect(last(await c.login())).toMatch(/OK/);
  expect(last(await c.cmd('SELECT INBOX'))).toMatch(/OK/);
});
afterEach(() => {
  c.close();
  t.cleanup();
});

const fetched = (r: string[]) => r.filter((l) => /^\* \d+ FETCH /.test(l)).map((l) => Number(/^\* (\d+) FETCH/.exec(l)![1]));
async function okCmd(cmd: string): Promise<string[]> {
  const r = await c.cmd(cmd);
  expect(last(r)).toMatch(/^t\d+ OK/);
  return r;
}

describe('SEARCHRES (RFC 5182)', () => {
  it('is advertised', async () => {
    expect((await c.cmd('CAPABILITY'))[0]!.split(' ')).toContain('SEARCHRES');
  });

  it('SEARCH RETURN (SAVE) answers nothing but the tagged OK, and FETCH $ uses it (§2.4, example 1)', async () => {
    await okCmd('STORE 2,5,7 +FLAGS.SILENT (\\Flagged)');
    const r = await okCmd('SEARCH RETURN (SAVE) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"');
    expect(r).toHaveLength(1); // no ESEARCH with SAVE alone
    expect(fetched(await okCmd('FETCH $ (UID INTERNALDATE FLAGS RFC822.SIZE)'))).toEqual([2, 5, 7]);
    expect(fetched(await okCmd('UID FETCH $ (FLAGS)'))).toEqual([2, 5, 7]);
  });

  it('"$" in search criteria, combined with other keys, and as UID $', async () => {
    await okCmd('UID SEARCH RETURN (SAVE) 2:6');
    expect((await okCmd('SEARCH $ NOT 4')).find((l) => l.startsWith('* SEARCH'))).toBe('* SEARCH 2 3 5 6');
    expect((await okCmd('SEARCH OR $ 8 NOT 3')).find((l) => l.startsWith('* SEARCH'))).toBe('* SEARCH 2 4 5 6 8');
    expect((await okCmd('SEARCH UID $')).find((l) => l.startsWith('* SEARCH'))).toBe('* SEARCH 2 3 4 5 6');
    // A new SAVE replaces the old result, here by narrowing it.
    await okCmd('SEARCH RETURN (SAVE) $ 1:3');
    expect(fetched(await okCmd('FETCH $ (FLAGS)'))).toEqual([2, 3]);
  });

  it('SAVE with MIN/MAX keeps only those; with COUNT or ALL the whole result (§2.4)', async () => {
    const r = await okCmd('SEARCH RETURN (SAVE MIN MAX) 3:6');
    expect(r.find((l) => l.startsWith('* ESEARCH'))).toMatch(/MIN 3 MAX 6$/);
    expect(fetched(await okCmd('FETCH $ (FLAGS)'))).toEqual([3, 6]);
    await okCmd('SEARCH RETURN (SAVE MIN COUNT) 3:6');
    expect(fetched(await okCmd('FETCH $ (FLAGS)'))).toEqual([3, 4, 5, 6]);
  });

  it('STORE, COPY and UID EXPUNGE on $; $ follows expunges (§2.1)', async () => {
    await okCmd('SEARCH RETURN (SAVE) 2,4,6');
    await okCmd('STORE $ +FLAGS.SILENT (\\Deleted)');
    expect((await okCmd('SEARCH DELETED')).find((l) => l.startsWith('* SEARCH'))).toBe('* SEARCH 2 4 6');
    await okCmd('CREATE Other');
    expect(last(await okCmd('COPY $ Other'))).toMatch(/COPYUID \d+ \d+,\d+,\d+ 1:3/);
    await okCmd('SEARCH RETURN (SAVE) 1:4');
    const ex = await okCmd('UID EXPUNGE $'); // only the \Deleted ones among $: 2 and 4
    expect(ex.filter((l) => / EXPUNGE$/.test(l))).toEqual(['* 4 EXPUNGE', '* 2 EXPUNGE']);
    expect(fetched(await okCmd('FETCH $ (FLAGS)'))).toEqual([1, 2]); // 1 and 3 remain, 3 is now 2
  });

  it('SORT RETURN (SAVE) saves too; a search that fails with NO leaves $ empty', async () => {
    await okCmd('SORT RETURN (SAVE) (REVERSE ARRIVAL) UTF-8 5:7');
    expect(fetched(await okCmd('FETCH $ (FLAGS)'))).toEqual([5, 6, 7]);
    expect(last(await c.cmd('SEARCH RETURN (SAVE) CHARSET X-NO-SUCH ALL'))).toMatch(/^t\d+ NO \[BADCHARSET/);
    expect(fetched(await okCmd('FETCH $ (FLAGS)'))).toEqual([]);
    expect((await okCmd('SEARCH $')).find((l) => l.startsWith('* SEARCH'))).toBe('* SEARCH');
  });

  it('$ is empty before any SAVE and after a new SELECT', async () => {
    expect(fetched(await okCmd('FETCH $ (FLAGS)'))).toEqual([]);
    await okCmd('SEARCH RETURN (SAVE) ALL');
    expect(fetched(await okCmd('FETCH $ (FLAGS)'))).toHaveLength(8);
    await okCmd('SELECT INBOX');
    expect(fetched(await okCmd('FETCH $ (FLAGS)'))).toEqual([]);
  });
});
