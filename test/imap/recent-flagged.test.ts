// Found by the compliance scripts (issue 11): a message APPENDed or COPied *with flags* is \Recent too
// (RFC 3501 6.3.11 "In either case, the Recent flag is also set"; 6.4.7 for COPY). The maildir store
// delivers such a file straight to cur/ (so other programs see its flags), which skipped the new/ → cur/
// claim that makes \Recent; Dovecot on the same maildir says RECENT 2 where we said 1.
import { describe, expect, it } from 'vitest';
import { imapFixture, last } from './imap-client.js';

const fx = imapFixture();

describe('\\Recent of messages stored with flags', () => {
  it('APPEND and COPY with flags: STATUS counts them, the first SELECT takes them, then nobody else', async () => {
    const t = fx.site(0);
    const a = await fx.session(t, 'CREATE box', 'CREATE other');
    const append = async (flags: string, text: string) =>
      expect(last(await a.cmd(`APPEND box ${flags}{${text.length}+}\r\n${text}`))).toMatch(/^t\d+ OK \[APPENDUID/);
    await append('(\\Seen) ', 'Subject: 1\r\n\r\n1\r\n');
    await append('(\\Flagged $Work) ', 'Subject: 2\r\n\r\n2\r\n');
    await append('', 'Subject: 3\r\n\r\n3\r\n');
    expect((await a.cmd('STATUS box (MESSAGES RECENT)'))[0]).toBe('* STATUS box (MESSAGES 3 RECENT 3)');

    const b = await fx.session(t);
    const examined = await b.cmd('EXAMINE box');
    expect(examined).toContain('* 3 RECENT'); // EXAMINE does not take \Recent away
    const selected = await a.cmd('SELECT box');
    expect(selected).toContain('* 3 RECENT');
    expect(await a.cmd('FETCH 1:3 FLAGS')).toEqual(expect.arrayContaining([
      '* 1 FETCH (FLAGS (\\Seen \\Recent))', expect.stringMatching(/^\* 2 FETCH \(FLAGS \((?=.*\\Flagged)(?=.*\$Work)(?=.*\\Recent)/),
    ]));
    expect((await b.cmd('STATUS other (RECENT)'))[0]).toBe('* STATUS other (RECENT 0)');

    // COPY with flags into a folder nobody has open: \Recent for the first to select it.
    expect(last(await a.cmd('COPY 1:2 other'))).toMatch(/OK \[COPYUID/);
    expect((await b.cmd('STATUS other (MESSAGES RECENT)'))[0]).toBe('* STATUS other (MESSAGES 2 RECENT 2)');
    expect(await b.cmd('SELECT other')).toContain('* 2 RECENT');
    const c = await fx.session(t);
    expect(await c.cmd('SELECT other')).toContain('* 0 RECENT');
    expect((await c.cmd('STATUS box (RECENT)'))[0]).toBe('* STATUS box (RECENT 0)');
  });
});
