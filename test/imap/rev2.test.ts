// IMAP4rev2 (RFC 9051) beside IMAP4rev1, and UTF8=ACCEPT (RFC 6855), over the real bin/imapd on the
// test store (the maildir project re-runs this file): both advertised, each switched on by ENABLE for
// one session only. An IMAP4rev1 session on the same mailboxes keeps the old answers (\Recent, RECENT,
// UNSEEN, SEARCH, modified UTF-7 names): the tests compare the two sessions side by side. Examples
// after RFC 9051 §6.3.2 (SELECT), §6.4.4 (SEARCH answered by ESEARCH), §6.3.11 (STATUS SIZE, DELETED),
// §5.1 (UTF-8 mailbox names), RFC 3501 §5.1.3's modified UTF-7 example, and RFC 6855 §3-4.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { imapFixture, last, type Imap } from './imap-client.js';
import { listen } from '../helpers/listener.js';
import { BIN } from '../helpers/site.js';
import { ImapFlow } from 'imapflow';
import { TEST_STORE } from '../maildir/site-store.js';

const fx = imapFixture();
const MBOX = TEST_STORE === 'mbox';

/** Response lines as the UTF-8 text they carry (the test client reads bytes as latin1). */
const utf8 = (lines: string[]) => lines.map((l) => Buffer.from(l, 'latin1').toString('utf8'));

async function cmd8(s: Imap, text: string): Promise<string[]> {
  return utf8(await s.cmd(text));
}

const untagged = (lines: string[], word: string) => lines.filter((l) => new RegExp(`^\\* (\\d+ )?${word}\\b`).test(l));

describe('IMAP4rev2 (RFC 9051)', () => {
  it('is advertised beside IMAP4rev1 with STATUS=SIZE and UTF8=ACCEPT; ENABLE is per session', async () => {
    const t = fx.site(1);
    const a = await fx.session(t);
    const caps = (await a.cmd('CAPABILITY'))[0]!.split(' ');
    expect(caps).toEqual(expect.arrayContaining(['IMAP4rev1', 'IMAP4rev2', 'STATUS=SIZE', 'UTF8=ACCEPT', 'ENABLE', 'ESEARCH',
      'LIST-EXTENDED', 'LIST-STATUS', 'MOVE', 'UNSELECT', 'NAMESPACE', 'SASL-IR', 'SPECIAL-USE', 'IDLE', 'BINARY', 'UIDPLUS']));
    expect(caps.some((c) => c === 'LITERAL+' || c === 'LITERAL-')).toBe(true);
    const en = await a.cmd('ENABLE IMAP4rev2');
    expect(en).toEqual(['* ENABLED IMAP4rev2', expect.stringMatching(/^t\d+ OK/)]);
    // Asked again (any case) it is listed again, once.
    expect((await a.cmd('ENABLE imap4rev2 IMAP4rev2'))[0]).toBe('* ENABLED IMAP4rev2');
    // Unknown names are ignored (RFC 5161).
    expect((await a.cmd('ENABLE X-UNKNOWN'))[0]).toBe('* ENABLED');
    // Another session of the same user, in the same site, is still IMAP4rev1.
    const b = await fx.session(t, 'SELECT INBOX');
    expect(untagged(await b.cmd('SEARCH ALL'), 'SEARCH')).toEqual(['* SEARCH 1']);
  });

  it('SELECT: no RECENT, no UNSEEN code, no \\Recent; a LIST response; [CLOSED] on reselect', async () => {
    // Two sites with the same three new messages: the first session to select INBOX takes \Recent.
    const t1 = fx.site(3);
    const rev1 = await fx.session(t1);
    const s1 = await rev1.cmd('SELECT INBOX');
    expect(s1).toContain('* 3 RECENT');
    expect(s1.some((l) => l.startsWith('* OK [UNSEEN 1]'))).toBe(true);
    expect(s1.some((l) => l.startsWith('* LIST '))).toBe(false);
    expect((await rev1.cmd('FETCH 1 FLAGS'))[0]).toBe('* 1 FETCH (FLAGS (\\Recent))');

    const t2 = fx.site(3);
    const rev2 = await fx.session(t2, 'ENABLE IMAP4rev2');
    const s2 = await rev2.cmd('SELECT INBOX');
    expect(last(s2)).toMatch(/^t\d+ OK \[READ-WRITE\] SELECT completed/);
    expect(untagged(s2, 'RECENT')).toEqual([]);
    expect(s2.some((l) => l.includes('[UNSEEN'))).toBe(false);
    // REQUIRED (RFC 9051 §6.3.2): FLAGS, EXISTS, LIST; OK PERMANENTFLAGS, UIDNEXT, UIDVALIDITY.
    expect(s2).toContain('* 3 EXISTS');
    expect(s2).toContain('* FLAGS (\\Answered \\Flagged \\Deleted \\Draft \\Seen)');
    expect(s2.some((l) => /^\* OK \[PERMANENTFLAGS \(\\\* \\Answered \\Flagged \\Deleted \\Draft \\Seen\)\]/.test(l))).toBe(true);
    expect(s2.some((l) => /^\* OK \[UIDNEXT \d+\]/.test(l))).toBe(true);
    expect(s2.some((l) => /^\* OK \[UIDVALIDITY \d+\]/.test(l))).toBe(true);
    expect(s2.filter((l) => l.startsWith('* LIST '))).toEqual([expect.stringMatching(/^\* LIST \((?:\\NoInferiors )?\\HasNoChildren\) "\/" INBOX$/)]);
    // The messages are \Recent for this session (STATUS of the other session says so), but not shown.
    expect((await rev2.cmd('FETCH 1:3 FLAGS')).slice(0, 3)).toEqual(['* 1 FETCH (FLAGS ())', '* 2 FETCH (FLAGS ())', '* 3 FETCH (FLAGS ())']);
    expect((await rev2.cmd('STORE 1 +FLAGS (\\Seen)'))[0]).toBe('* 1 FETCH (FLAGS (\\Seen))');
    // A new message: EXISTS without RECENT, and no \Recent on it either.
    const other = await fx.session(t2);
    expect(last(await other.cmd('APPEND INBOX {21+}\r\nSubject: four\r\n\r\nbody'))).toMatch(/^t\d+ OK \[APPENDUID/);
    const noop = await rev2.cmd('NOOP');
    expect(noop).toContain('* 4 EXISTS');
    expect(untagged(noop, 'RECENT')).toEqual([]);
    expect((await rev2.cmd('FETCH 4 (FLAGS)'))[0]).toBe('* 4 FETCH (FLAGS ())');
    // RFC 9051 §6.3.2: selecting again closes the old mailbox with [CLOSED] first.
    const again = await rev2.cmd('EXAMINE INBOX');
    expect(again[0]).toMatch(/^\* OK \[CLOSED\]/);
    expect(untagged(again, 'RECENT')).toEqual([]);
    // The rev1 session on the other site never sees [CLOSED] without CONDSTORE/QRESYNC.
    expect((await rev1.cmd('EXAMINE INBOX'))[0]).not.toMatch(/CLOSED/);
  });

  it('SEARCH and UID SEARCH are answered with ESEARCH (RFC 9051 §6.4.4 examples)', async () => {
    const t = fx.site(5);
    const s = await fx.session(t, 'ENABLE IMAP4rev2', 'SELECT INBOX', 'STORE 2,4 +FLAGS (\\Flagged)');
    // Without RETURN: ALL (the tag is the command's).
    let r = await s.cmd('SEARCH FLAGGED');
    expect(r).toEqual([expect.stringMatching(/^\* ESEARCH \(TAG "t\d+"\) ALL 2,4$/), expect.stringMatching(/^t\d+ OK/)]);
    expect(r[0]).toContain(`(TAG "${/^(t\d+) /.exec(last(r))![1]}")`);
    r = await s.cmd('UID SEARCH FLAGGED');
    const uids = (await s.cmd('FETCH 2,4 (UID)')).slice(0, 2).map((l) => /UID (\d+)/.exec(l)![1]);
    expect(r[0]).toMatch(new RegExp(`^\\* ESEARCH \\(TAG "t\\d+"\\) UID ALL ${uids[0]},${uids[1]}$`));
    // RFC 9051: "A284 SEARCH TEXT "string not in mailbox"" → "* ESEARCH (TAG "A284") UID"-style: nothing.
    r = await s.cmd('SEARCH TEXT "string not in mailbox"');
    expect(r[0]).toMatch(/^\* ESEARCH \(TAG "t\d+"\)$/);
    r = await s.cmd('UID SEARCH TEXT "string not in mailbox"');
    expect(r[0]).toMatch(/^\* ESEARCH \(TAG "t\d+"\) UID$/);
    // RETURN forms work as before (RFC 9051's A282/A283).
    r = await s.cmd('SEARCH RETURN (MIN COUNT) FLAGGED');
    expect(r[0]).toMatch(/^\* ESEARCH \(TAG "t\d+"\) MIN 2 COUNT 2$/);
    r = await s.cmd('SEARCH RETURN () FLAGGED');
    expect(r[0]).toMatch(/^\* ESEARCH \(TAG "t\d+"\) ALL 2,4$/);
    // Never a SEARCH response.
    expect(untagged(await s.cmd('SEARCH ALL'), 'SEARCH')).toEqual([]);
  });

  it('STATUS answers SIZE and DELETED (RFC 9051 §6.3.11, RFC 8438), in IMAP4rev1 too', async () => {
    const t = fx.site(4);
    const s = await fx.session(t, 'SELECT INBOX', 'STORE 1,3 +FLAGS (\\Deleted)');
    const sizes = (await s.cmd('FETCH 1:4 RFC822.SIZE')).slice(0, 4).map((l) => Number(/RFC822\.SIZE (\d+)/.exec(l)![1]));
    const total = sizes.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(0);
    const b = await fx.session(t, 'ENABLE IMAP4rev2');
    expect((await b.cmd('STATUS INBOX (MESSAGES DELETED SIZE)'))[0]).toBe(`* STATUS INBOX (MESSAGES 4 DELETED 2 SIZE ${total})`);
    expect((await s.cmd('STATUS INBOX (DELETED SIZE UNSEEN)'))[0]).toBe(`* STATUS INBOX (DELETED 2 SIZE ${total} UNSEEN 4)`);
    expect(last(await s.cmd('EXPUNGE'))).toMatch(/OK/);
    expect((await b.cmd('STATUS INBOX (DELETED SIZE)'))[0]).toBe(`* STATUS INBOX (DELETED 0 SIZE ${sizes[1]! + sizes[3]!})`);
    // LIST-STATUS shares them.
    const l = await b.cmd('LIST "" INBOX RETURN (STATUS (DELETED MESSAGES))');
    expect(l).toContain('* STATUS INBOX (DELETED 0 MESSAGES 2)');
    expect(last(await b.cmd('STATUS INBOX (DELETED BOGUS)'))).toMatch(/^t\d+ BAD/);
  });

  it('mailbox names are UTF-8 on the wire; an IMAP4rev1 session sees the same mailboxes in modified UTF-7', async () => {
    const t = fx.site(1);
    const v2 = await fx.session(t, 'ENABLE IMAP4rev2');
    const v1 = await fx.session(t);
    // RFC 3501 §5.1.3's example names, made by the rev1 session in modified UTF-7.
    expect(last(await v1.cmd('CREATE "&ZeVnLIqe-"'))).toMatch(/OK/);
    // Made by the rev2 session in UTF-8, '&' being itself.
    expect(last(await v2.cmd('CREATE "Ärger"'))).toMatch(/OK/);
    expect(last(await v2.cmd('CREATE "R&D"'))).toMatch(/OK/);
    expect(last(await v2.cmd('CREATE "😀 fun"'))).toMatch(/OK/);
    const names1 = (await v1.cmd('LIST "" "*"')).filter((l) => l.startsWith('* LIST ')).map((l) => l.replace(/^\* LIST \([^)]*\) "\/" /, ''));
    expect(names1.sort()).toEqual(['"&2D3eAA- fun"', '&AMQ-rger', '&ZeVnLIqe-', 'INBOX', 'R&-D'].sort());
    const names2 = (await cmd8(v2, 'LIST "" "*"')).filter((l) => l.startsWith('* LIST ')).map((l) => l.replace(/^\* LIST \([^)]*\) "\/" /, ''));
    expect(names2.sort()).toEqual(['"Ärger"', '"日本語"', '"😀 fun"', 'INBOX', 'R&D'].sort());
    // Patterns are matched against the Unicode names: a prefix inside a non-ASCII run works.
    expect((await cmd8(v2, 'LIST "" "日本%"')).filter((l) => l.startsWith('* LIST '))).toEqual([expect.stringMatching(/ "日本語"$/)]);
    expect((await cmd8(v2, 'LIST "" "R&*"')).filter((l) => l.startsWith('* LIST '))).toEqual([expect.stringMatching(/ R&D$/)]);
    // STATUS, SELECT (its LIST response), APPEND, RENAME, SUBSCRIBE and LSUB take and give UTF-8.
    expect((await cmd8(v2, 'STATUS "日本語" (MESSAGES)'))[0]).toBe('* STATUS "日本語" (MESSAGES 0)');
    expect(last(await v2.cmd('APPEND "Ärger" {18+}\r\nSubject: x\r\n\r\nbody'))).toMatch(/^t\d+ OK \[APPENDUID/);
    const sel = await cmd8(v2, 'SELECT "Ärger"');
    expect(sel).toContain('* 1 EXISTS');
    expect(sel.filter((l) => l.startsWith('* LIST '))).toEqual([expect.stringMatching(/^\* LIST \([^)]*\) "\/" "Ärger"$/)]);
    expect(last(await v2.cmd('RENAME "R&D" "R&D – Ω"'))).toMatch(/OK/);
    expect(last(await v2.cmd('SUBSCRIBE "R&D – Ω"'))).toMatch(/OK/);
    expect((await cmd8(v2, 'LSUB "" "*"')).filter((l) => l.startsWith('* LSUB '))).toEqual([expect.stringMatching(/^\* LSUB \([^)]*\) "\/" "R&D – Ω"$/)]);
    expect((await v1.cmd('LSUB "" "*"')).filter((l) => l.startsWith('* LSUB '))).toEqual([expect.stringMatching(/^\* LSUB \([^)]*\) "\/" "R&-D &IBM- &A6k-"$/)]);
    expect((await v1.cmd('STATUS &AMQ-rger (MESSAGES)'))[0]).toBe('* STATUS &AMQ-rger (MESSAGES 1)');
    // Not UTF-8, or control characters: refused with NO.
    v2.send(Buffer.concat([Buffer.from('bad1 CREATE "'), Buffer.from([0xc3, 0x28]), Buffer.from('"\r\n')]));
    expect(last(await v2.c.until('bad1 '))).toMatch(/^bad1 NO .*UTF-8/);
    expect(last(await v2.cmd('CREATE {3+}\r\na\tb'))).toMatch(/^t\d+ NO/);
  });

  it('LIST: a parent that exists only through its children is \\NonExistent in the base syntax (RFC 9051 §7.3.1)', async () => {
    const t = fx.site(0);
    const v2 = await fx.session(t, 'ENABLE IMAP4rev2', 'CREATE "Über/Kind"');
    const v1 = await fx.session(t);
    const parent = (lines: string[]) => lines.filter((l) => /^\* LIST .* "?(Über|&ANw-ber)"?$/.test(l));
    // An mbox parent is a real directory (\Noselect); a Maildir++ one exists only through its child.
    const attrs2 = MBOX ? '\\Noselect \\HasChildren' : '\\NonExistent \\HasChildren';
    expect(parent(await cmd8(v2, 'LIST "" "*"'))).toEqual([`* LIST (${attrs2}) "/" "Über"`]);
    expect(parent(await v1.cmd('LIST "" "*"'))).toEqual(['* LIST (\\Noselect \\HasChildren) "/" &ANw-ber']);
    expect((await cmd8(v2, 'LIST "" "Über/%"')).filter((l) => l.startsWith('* LIST'))).toEqual([expect.stringMatching(/^\* LIST \([^)]*\\HasNoChildren[^)]*\) "\/" "Über\/Kind"$/)]);
  });
});

describe('IMAP4rev2 with NOTIFY and IDLE', () => {
  it('pushes STATUS and LIST with UTF-8 names, EXISTS without RECENT', async () => {
    const t = fx.site(1);
    const other = await fx.session(t, 'CREATE "&AMQ-rger"');
    const s = await fx.session(t, 'ENABLE IMAP4rev2', 'SELECT INBOX');
    expect(last(await s.cmd('NOTIFY SET (selected (MessageNew MessageExpunge)) (personal (MessageNew MessageExpunge MailboxName))'))).toMatch(/OK/);
    const pushed = async (re: RegExp): Promise<string[]> => {
      const seen: string[] = [];
      for (;;) {
        const l = Buffer.from(await s.c.line(10_000), 'latin1').toString('utf8');
        seen.push(l);
        if (re.test(l)) return seen;
      }
    };
    s.send('i1 IDLE\r\n');
    expect(await s.c.line()).toMatch(/^\+ /);
    expect(last(await other.cmd('APPEND "&AMQ-rger" {18+}\r\nSubject: x\r\n\r\nbody'))).toMatch(/OK/);
    expect(last(await pushed(/^\* STATUS /))).toMatch(/^\* STATUS "Ärger" \(MESSAGES 1 UIDNEXT \d+ UIDVALIDITY \d+ UNSEEN 1\)$/);
    expect(last(await other.cmd('CREATE "&ZeVnLIqe-"'))).toMatch(/OK/);
    expect(last(await pushed(/^\* LIST /))).toBe('* LIST () "/" "日本語"');
    expect(last(await other.cmd('APPEND INBOX {18+}\r\nSubject: y\r\n\r\nbody'))).toMatch(/OK/);
    const exists = await pushed(/^\* 2 EXISTS$/);
    s.send('DONE\r\n');
    const rest = await pushed(/^i1 /);
    expect([...exists, ...rest].filter((l) => / RECENT$/.test(l))).toEqual([]);
    expect(last(rest)).toBe('i1 OK IDLE terminated');
  });
});

describe('IMAP4rev2 response codes (RFC 9051 §7.1)', () => {
  it('ALREADYEXISTS, NONEXISTENT, TRYCREATE, CANNOT, and the rest of the base commands', async () => {
    const t = fx.site(2);
    const s = await fx.session(t, 'ENABLE IMAP4rev2', 'CREATE "Ünï"');
    expect(last(await s.cmd('CREATE "Ünï"'))).toMatch(/^t\d+ NO \[ALREADYEXISTS\]/);
    expect(last(await s.cmd('SELECT "Nöpe"'))).toMatch(/^t\d+ NO \[NONEXISTENT\]/);
    expect(last(await s.cmd('STATUS "Nöpe" (MESSAGES)'))).toMatch(/^t\d+ NO \[NONEXISTENT\]/);
    expect(last(await s.cmd('DELETE INBOX'))).toMatch(/^t\d+ NO \[CANNOT\]/);
    expect(last(await s.cmd('SELECT INBOX'))).toMatch(/OK/);
    expect(last(await s.cmd('COPY 1 "Nöpe"'))).toMatch(/^t\d+ NO \[TRYCREATE\]/);
    // UNSELECT, MOVE, UID EXPUNGE, NAMESPACE and IDLE are base IMAP4rev2 commands.
    const moved = await s.cmd('MOVE 1 "Ünï"');
    expect(last(moved)).toMatch(/^t\d+ OK/);
    expect(moved.join('\n')).toMatch(/\[COPYUID \d+ \d+ \d+\]/);
    expect(moved).toContain('* 1 EXPUNGE');
    expect((await s.cmd('NAMESPACE'))[0]).toBe('* NAMESPACE (("" "/")) NIL NIL');
    expect(last(await s.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)'))).toMatch(/OK/);
    const uid = /UID (\d+)/.exec((await s.cmd('FETCH 1 UID'))[0]!)![1];
    expect(await s.cmd(`UID EXPUNGE ${uid}`)).toContain('* 1 EXPUNGE');
    expect(last(await s.cmd('UNSELECT'))).toMatch(/OK/);
    expect((await cmd8(s, 'STATUS "Ünï" (MESSAGES DELETED)'))[0]).toBe('* STATUS "Ünï" (MESSAGES 1 DELETED 0)');
  });
});

describe('UTF8=ACCEPT (RFC 6855)', () => {
  const msg = Buffer.from('From: Jörg <jörg@example.org>\r\nSubject: Grüße 中文\r\n\r\nHallo Jörg\r\n', 'utf8');

  it('APPEND with the UTF8 data item (also as a CATENATE part); headers come back as they are', async () => {
    const t = fx.site(0);
    const s = await fx.session(t);
    // Not enabled: the UTF8 data item is refused.
    s.send(Buffer.concat([Buffer.from(`u0 APPEND INBOX UTF8 (~{${msg.length}+}\r\n`), msg, Buffer.from(')\r\n')]));
    expect(last(await s.c.until('u0 '))).toMatch(/^u0 BAD .*UTF8=ACCEPT/);
    expect((await s.cmd('ENABLE UTF8=ACCEPT'))[0]).toBe('* ENABLED UTF8=ACCEPT');
    s.send(Buffer.concat([Buffer.from(`u1 APPEND INBOX (\\Seen) UTF8 (~{${msg.length}+}\r\n`), msg, Buffer.from(')\r\n')]));
    expect(last(await s.c.until('u1 '))).toMatch(/^u1 OK \[APPENDUID \d+ 1\]/);
    // A plain literal inside UTF8 ( ) is not the grammar (literal8).
    s.send(Buffer.concat([Buffer.from(`u2 APPEND INBOX UTF8 ({${msg.length}+}\r\n`), msg, Buffer.from(')\r\n')]));
    expect(last(await s.c.until('u2 '))).toMatch(/^u2 BAD/);
    const head = Buffer.from('X-Part: one\r\n');
    s.send(Buffer.concat([Buffer.from(`u3 APPEND INBOX CATENATE (TEXT {${head.length}+}\r\n`), head,
      Buffer.from(` UTF8 (~{${msg.length}+}\r\n`), msg, Buffer.from('))\r\n')]));
    expect(last(await s.c.until('u3 '))).toMatch(/^u3 OK \[APPENDUID \d+ 2\]/);
    expect(last(await s.cmd('SELECT INBOX'))).toMatch(/OK/);
    const body = utf8(await s.cmd('FETCH 1:2 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])')).join('\n');
    expect(body).toContain('Subject: Grüße 中文');
    expect(body).toContain('From: Jörg <jörg@example.org>');
    expect(body).toContain('* 1 FETCH (FLAGS (\\Seen \\Recent)');
    const full = utf8(await s.cmd('FETCH 2 BODY.PEEK[]')).join('\r\n');
    expect(full).toContain(`X-Part: one\r\n${msg.toString('utf8')}`);
    // UTF8=ACCEPT alone keeps IMAP4rev1's other answers.
    expect(untagged(await s.cmd('SEARCH ALL'), 'SEARCH')).toEqual(['* SEARCH 1 2']);
    // Search strings are UTF-8 without CHARSET; a CHARSET is BAD now (RFC 6855 §3, erratum 4029).
    expect(untagged(await s.cmd('SEARCH SUBJECT "grüße"'), 'SEARCH')).toEqual(['* SEARCH 1 2']);
    expect(last(await s.cmd('SEARCH CHARSET UTF-8 SUBJECT x'))).toMatch(/^t\d+ BAD .*UTF8=ACCEPT/);
  });

  it('names are UTF-8 after ENABLE UTF8=ACCEPT, and Python imaplib switches to UTF-8 with enable()', async () => {
    const t = fx.site(2);
    const s = await fx.session(t, 'ENABLE UTF8=ACCEPT');
    expect(last(await s.cmd('CREATE "Café/Ärger"'))).toMatch(/OK/);
    const names = (await cmd8(s, 'LIST "" "*"')).filter((l) => l.startsWith('* LIST ')).map((l) => l.replace(/^\* LIST \([^)]*\) "\/" /, ''));
    expect(names).toEqual(expect.arrayContaining(['"Café"', '"Café/Ärger"']));

    // The real client: Python's imaplib over TCP to bin/imapd.
    const l = await listen(BIN.imapd, ['-i', t.site.conf]);
    fx.onCleanup(() => { void l.close(); });
    const py = `
import imaplib, sys
m = imaplib.IMAP4('127.0.0.1', ${l.port})
m.login('bob', 'secret')
typ, data = m.enable('UTF8=ACCEPT')
assert typ == 'OK' and m.utf8_enabled, (typ, data)
typ, data = m.create('Привет')
assert typ == 'OK', data
typ, data = m.list()
assert typ == 'OK', data
names = sorted(d.decode('utf-8') for d in data)
print('\\n'.join(names))
typ, data = m.status('Café/Ärger', '(MESSAGES UIDNEXT)')
print(data[0].decode('utf-8'))
typ, data = m.select('Привет')
assert typ == 'OK', data
m.logout()
`;
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const p = spawn('python3', ['-c', py], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      p.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = r.stdout.trim().split('\n');
    expect(out).toEqual(expect.arrayContaining([
      expect.stringMatching(/^\([^)]*\) "\/" "Привет"$/), expect.stringMatching(/^\([^)]*\) "\/" "Café\/Ärger"$/),
      expect.stringMatching(/^"Café\/Ärger" \(MESSAGES 0 UIDNEXT \d+\)$/),
    ]));
    // The same mailbox for an IMAP4rev1 session, in modified UTF-7.
    const v1 = await fx.session(t);
    expect((await v1.cmd('LIST "" "%"')).some((l) => l.endsWith(' "/" &BB8EQAQ4BDIENQRC-'))).toBe(true);
  });
});

describe('imapflow in IMAP4rev2 and UTF8=ACCEPT mode', () => {
  it('enables both on its own; folders with UTF-8 names, APPEND with UTF-8 headers, ESEARCH, flags without \\Recent', async () => {
    const t = fx.site(3);
    const l = await listen(BIN.imapd, ['-i', t.site.conf]);
    fx.onCleanup(() => { void l.close(); });
    const c = new ImapFlow({ host: '127.0.0.1', port: l.port, secure: false, auth: { user: 'bob', pass: 'secret' }, logger: false });
    await c.connect();
    try {
      expect([...c.enabled]).toEqual(expect.arrayContaining(['IMAP4REV2', 'UTF8=ACCEPT']));
      await c.mailboxCreate(['Ärger', '日本語']);
      const paths = (await c.list()).map((m) => m.path).sort();
      expect(paths).toEqual(['INBOX', 'Ärger', 'Ärger/日本語'].sort());
      const msg = 'From: Jörg <joerg@example.org>\r\nSubject: Grüße\r\n\r\nHallo\r\n';
      const appended = await c.append('Ärger/日本語', msg, ['\\Flagged']);
      expect(appended && appended.uid).toBe(1);
      expect((await c.status('Ärger/日本語', { messages: true })).messages).toBe(1);
      const lock = await c.getMailboxLock('INBOX');
      try {
        await c.messageFlagsAdd('2:3', ['\\Flagged']);
        expect(await c.search({ flagged: true })).toEqual([2, 3]);
        expect(await c.search({ flagged: true }, { uid: true })).toEqual([2, 3]);
        const flags: string[][] = [];
        for await (const m of c.fetch('1:*', { flags: true })) flags.push([...(m.flags ?? [])]);
        expect(flags.flat()).not.toContain('\\Recent');
      } finally {
        lock.release();
      }
      const lock2 = await c.getMailboxLock('Ärger/日本語');
      try {
        const m = await c.fetchOne('1', { envelope: true, source: true });
        expect(m && m.envelope!.subject).toBe('Grüße');
        expect(await c.search({ subject: 'grüße' })).toEqual([1]);
        expect(m && m.source!.toString('utf8')).toContain('From: Jörg <joerg@example.org>');
      } finally {
        lock2.release();
      }
    } finally {
      await c.logout();
    }
    // The same folders for an IMAP4rev1 session.
    const v1 = await fx.session(t);
    const names = (await v1.cmd('LIST "" "*"')).filter((x) => x.startsWith('* LIST ')).map((x) => x.replace(/^\* LIST \([^)]*\) "\/" /, ''));
    expect(names.sort()).toEqual(['&AMQ-rger', '&AMQ-rger/&ZeVnLIqe-', 'INBOX'].sort());
  });
});
