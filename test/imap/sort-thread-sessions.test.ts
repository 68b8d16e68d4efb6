// SORT and THREAD while another session expunges (both stores): a non-UID SORT or THREAD keeps sequence
// numbers stable (no EXPUNGE during it, RFC 3501 §7.4.1 as for SEARCH). A message expunged elsewhere
// that the client has not been told of may be left out (as SEARCH does once the session noticed it,
// RFC 2180 §4.3), but never renumbers the others; after the EXPUNGE reached the client it is gone.
import { describe, expect, it } from 'vitest';
import { imapFixture, last } from './imap-client.js';

const f = imapFixture();
const body = (r: string[], name: string) => r.find((l) => l.startsWith(`* ${name}`))!.replace(`* ${name}`, '').trim();

describe('SORT/THREAD beside another session', () => {
  it('sorts what this session sees, then follows the expunge', async () => {
    const t = f.site(5);
    const a = await f.session(t, 'SELECT INBOX');
    const b = await f.session(t, 'SELECT INBOX');
    expect(last(await b.cmd('STORE 2,4 +FLAGS.SILENT (\\Deleted)'))).toMatch(/OK/);
    expect(last(await b.cmd('EXPUNGE'))).toMatch(/OK/);
    // a was not told yet: SORT answers with all five and sends no EXPUNGE.
    const r = await a.cmd('SORT (REVERSE SUBJECT) UTF-8 ALL');
    expect(last(r)).toMatch(/OK/);
    expect(r.some((l) => / EXPUNGE$/.test(l))).toBe(false);
    expect(['5 4 3 2 1', '5 3 1']).toContain(body(r, 'SORT'));
    const th = await a.cmd('THREAD ORDEREDSUBJECT UTF-8 ALL');
    expect(th.some((l) => / EXPUNGE$/.test(l))).toBe(false);
    expect(['(1)(2)(3)(4)(5)', '(1)(3)(5)']).toContain(body(th, 'THREAD'));
    expect(body(await a.cmd('SEARCH ALL'), 'SEARCH')).toBe('1 3 5');
    // NOOP delivers the expunges; then the sort has three messages.
    const n = await a.cmd('NOOP');
    expect(n.filter((l) => / EXPUNGE$/.test(l))).toEqual(['* 4 EXPUNGE', '* 2 EXPUNGE']);
    expect(body(await a.cmd('SORT (REVERSE SUBJECT) UTF-8 ALL'), 'SORT')).toBe('3 2 1');
    expect(body(await a.cmd('UID SORT (SUBJECT) UTF-8 ALL'), 'SORT')).toMatch(/^\d+ \d+ \d+$/);
  });
});
