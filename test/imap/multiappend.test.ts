// RFC 3502 MULTIAPPEND and RFC 4469 CATENATE over the real bin/imapd, on the test store: the RFCs'
// examples, APPENDUID with a UID set (RFC 4315), all or nothing on every kind of failure (bad syntax,
// empty message, missing mailbox, quota for the whole set, bad URLs, too big), URLs into other folders
// and relative to the selected one, and the two combined.
import { describe, expect, it } from 'vitest';
import { connectImap, imapFixture, last, type Imap } from './imap-client.js';
import { inetdConnect } from '../helpers/inetd.js';
import { BIN } from '../helpers/site.js';
import { TEST_STORE } from '../maildir/site-store.js';

const fx = imapFixture();

const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');
const lit = (s: string) => `{${Buffer.byteLength(s, 'latin1')}+}\r\n${s}`;

/** Send a command whose literals are synchronising: each `{n}` waits for the server's "+". */
async function syncCmd(c: Imap, pieces: string[]): Promise<string[]> {
  const tag = c.nextTag();
  for (let i = 0; i < pieces.length; i++) {
    c.send((i === 0 ? `${tag} ` : '') + pieces[i]! + '\r\n');
    if (i < pieces.length - 1) {
      const l = await c.c.line();
      if (!l.startsWith('+')) return [l, ...(l.startsWith(`${tag} `) ? [] : await c.c.until(`${tag} `))];
    }
  }
  return c.c.until(`${tag} `);
}

/** The first literal of a command's response. */
async function literalOf(c: Imap, cmd: string): Promise<string> {
  const tag = c.nextTag();
  c.send(`${tag} ${cmd}\r\n`);
  let out: string | undefined;
  for (;;) {
    const l = await c.c.line();
    const m = /\{(\d+)\}$/.exec(l);
    if (m && out === undefined) out = (await c.c.bytes(Number(m[1]))).toString('latin1');
    if (l.startsWith(`${tag} `)) return out ?? '';
  }
}

const status = async (c: Imap, box: string) => /MESSAGES (\d+)/.exec((await c.cmd(`STATUS ${box} (MESSAGES)`))[0]!)![1];

// RFC 3502 §6's messages.
const M1 = crlf(`Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)
From: Fred Foobar <foobar@Blurdybloop.example.COM>
Subject: afternoon meeting
To: mooch@owatagu.example.net
Message-Id: <B27397-0100000@Blurdybloop.example.COM>
MIME-Version: 1.0
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII

Hello Joe, do you think we can meet at 3:30 tomorrow?
`);
const M2 = crlf(`Date: Mon, 7 Feb 1994 22:43:04 -0800 (PST)
From: Joe Mooch <mooch@OWaTaGu.example.net>
Subject: Re: afternoon meeting
To: foobar@blurdybloop.example.com
Message-Id: <a0434793874930@OWaTaGu.example.net>
MIME-Version: 1.0
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII

3:30 is fine with me.
`);

describe('MULTIAPPEND (RFC 3502)', () => {
  it('is advertised, and the RFC example appends both messages with one APPENDUID set', async () => {
    const t = fx.site(0);
    const c = await fx.session(t, 'CREATE saved-messages');
    const caps = (await c.cmd('CAPABILITY'))[0]!.split(' ');
    expect(caps).toContain('MULTIAPPEND');
    const r = await syncCmd(c, [
      `APPEND saved-messages (\\Seen) {${M1.length}}`,
      `${M1} (\\Seen) " 7-Feb-1994 22:43:04 -0800" {${M2.length}}`,
      M2,
    ]);
    const uv = /APPENDUID (\d+) 1:2\]/.exec(last(r));
    expect(uv, last(r)).not.toBeNull();
    expect(last(r)).toMatch(/^t\d+ OK /);
    await c.cmd('SELECT saved-messages');
    const f = (await c.cmd('FETCH 1:2 (UID FLAGS INTERNALDATE RFC822.SIZE)')).join('\n');
    expect(f).toMatch(new RegExp(`\\* 1 FETCH \\(UID 1 FLAGS \\(\\\\Seen( \\\\Recent)?\\) INTERNALDATE "[^"]+" RFC822.SIZE ${M1.length}\\)`));
    // The same instant as the RFC's " 7-Feb-1994 22:43:04 -0800" (the store keeps the instant, not the zone).
    expect(f).toMatch(new RegExp(`\\* 2 FETCH \\(UID 2 FLAGS \\(\\\\Seen( \\\\Recent)?\\) INTERNALDATE "08-Feb-1994 06:43:04 \\+0000" RFC822.SIZE ${M2.length}\\)`));
    // The RFC's second command: into a mailbox that does not exist, refused whole.
    const no = await syncCmd(c, [`APPEND nowhere (\\Seen) {${M1.length}}`, `${M1} {${M2.length}}`, M2]);
    expect(last(no)).toMatch(/^t\d+ NO \[TRYCREATE\]/);
  });

  it('a hundred messages in one command (LITERAL+), UIDs consecutive, EXISTS in the selected mailbox', async () => {
    const t = fx.site(2);
    const c = await fx.session(t, 'SELECT INBOX');
    const parts = Array.from({ length: 100 }, (_, i) => `(\\Flagged) ${lit(crlf(`Subject: m${i}\n\nbody ${i}\n`))}`);
    const r = await c.cmd(`APPEND INBOX ${parts.join(' ')}`);
    expect(last(r)).toMatch(/^t\d+ OK \[APPENDUID \d+ 3:102\]/);
    expect(r).toContain('* 102 EXISTS');
    const f = (await c.cmd('FETCH 102 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])')).join('\n');
    expect(f).toContain('\\Flagged');
    expect(f).toContain('Subject: m99');
  });

  it('all or nothing: an empty message, bad syntax or a bad flag anywhere refuses the whole set', async () => {
    const t = fx.site(1);
    const c = await fx.session(t);
    const ok1 = lit(crlf('Subject: a\n\na\n'));
    expect(last(await c.cmd(`APPEND INBOX ${ok1} ${ok1} {0+}\r\n`))).toMatch(/^t\d+ NO/);
    expect(last(await c.cmd(`APPEND INBOX ${ok1} "not a date" ${ok1}`))).toMatch(/^t\d+ BAD/);
    expect(last(await c.cmd(`APPEND INBOX ${ok1} (\\*) ${ok1}`))).toMatch(/^t\d+ BAD/);
    expect(last(await c.cmd(`APPEND INBOX ${ok1} ${ok1} trailing`))).toMatch(/^t\d+ BAD/);
    expect(last(await c.cmd(`APPEND INBOX ${ok1}  ${ok1}`))).toMatch(/^t\d+ BAD/);
    expect(await status(c, 'INBOX')).toBe('1');
  });

  it('quota is checked for the whole set', async () => {
    const t = fx.site(1, { user_quota: true });
    t.site.addUser('carol', { pass: 'pw', info: { quota: '1' } });
    const c = await connectImap(t.site);
    fx.onCleanup(() => c.close());
    expect(last(await c.login('carol', 'pw'))).toMatch(/OK/);
    const m = lit(crlf(`Subject: q\n\n${'x'.repeat(400)}\n`));
    // 0 + 420 < 1024 before the last one: allowed to finish over (DMail's rule, as for one message).
    expect(last(await c.cmd(`APPEND INBOX ${m} ${m}`))).toMatch(/OK \[APPENDUID \d+ 1:2\]/);
    // ~840 + 2 × 420 ≥ 1024 before the last: the whole set is refused, none of it stored.
    expect(last(await c.cmd(`APPEND INBOX ${m} ${m} ${m}`))).toMatch(/NO \[OVERQUOTA\]/);
    expect(await status(c, 'INBOX')).toBe('2');
  });

  it('the total of one APPEND is capped by append_limit: NO [TOOBIG], the connection stays in step', async () => {
    const t = fx.site(0, { append_limit: 1000 });
    const c = await fx.session(t);
    const m = crlf(`Subject: big\n\n${'y'.repeat(600)}\n`);
    const tag = c.nextTag();
    c.send(`${tag} APPEND INBOX {${m.length}}\r\n`);
    expect(await c.c.line()).toMatch(/^\+/);
    c.send(`${m} {${m.length}}\r\n`);
    expect(await c.c.line()).toMatch(new RegExp(`^${tag} NO \\[TOOBIG\\]`));
    expect(last(await c.cmd('NOOP'))).toMatch(/OK/);
    expect(await status(c, 'INBOX')).toBe('0');
  });
});

describe('MULTIAPPEND when the server is killed (kill -9) during the append', () => {
  // One step before the store's commit point and one after (every step: test/store/multiappend-crash).
  const points = TEST_STORE === 'mbox' ? { before: 'append-logged', after: 'journal-committed' } : { before: 'multiappend-tmp', after: 'multiappend-moving' };
  for (const [when, point] of Object.entries(points)) {
    it(`killed ${when} the commit point (${point}): ${when === 'before' ? 'none' : 'all'} of the messages, then normal service`, async () => {
      const t = fx.site(1);
      const c = await fx.session(t, 'CREATE Box');
      const victim = await inetdConnect(BIN.imapd, ['-i', t.site.conf], { DMAIL_STORE_KILLPOINT: point });
      fx.onCleanup(() => victim.close());
      await victim.line();
      victim.send('a LOGIN bob secret\r\n');
      expect((await victim.until('a '))[0]).toMatch(/OK/);
      const m = (i: number) => lit(crlf(`Subject: killed ${i}\n\nbody ${i}\n`));
      victim.send(`b APPEND Box ${m(1)} ${m(2)} ${m(3)}\r\n`);
      // The server dies without answering.
      await expect(victim.until('b ', 15_000)).rejects.toThrow(/closed/);
      expect(await victim.exited()).not.toBe(0);
      expect(await status(c, 'Box')).toBe(when === 'before' ? '0' : '3');
      expect(last(await c.cmd(`APPEND Box ${m(4)} ${m(5)}`))).toMatch(/OK \[APPENDUID \d+ \d+:\d+\]/);
      expect(await status(c, 'Box')).toBe(when === 'before' ? '2' : '5');
      await c.cmd('SELECT Box');
      const subjects = (await c.cmd('FETCH 1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]')).filter((l) => l.startsWith('Subject:'));
      expect(subjects).toEqual((when === 'before' ? [4, 5] : [1, 2, 3, 4, 5]).map((i) => `Subject: killed ${i}`));
    });
  }
});

// RFC 4469 §5's draft: a multipart message whose header, first part and boundaries a client reuses.
const DRAFT = crlf(`From: Alice <alice@example.org>
To: Bob <bob@example.org>
Subject: Draft with attachment
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="--------------030308070208000400050907"

----------------030308070208000400050907
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: 7bit

The attachment follows.
----------------030308070208000400050907
Content-Type: application/pdf; name="a.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQK
----------------030308070208000400050907--
`);
const FORWARDED = crlf('From: carol@example.org\nSubject: forwarded\n\nforwarded body\n');

async function drafts(): Promise<{ c: Imap; uv: string }> {
  const t = fx.site(0);
  const c = await fx.session(t, 'CREATE Drafts');
  const r = await c.cmd(`APPEND Drafts (\\Draft) ${lit(DRAFT)} ${lit(FORWARDED)}`);
  const uv = /APPENDUID (\d+) 1:2\]/.exec(last(r))![1]!;
  return { c, uv };
}

describe('CATENATE (RFC 4469)', () => {
  it('is advertised, and the RFC example builds the message from URL parts and text', async () => {
    const { c, uv } = await drafts();
    expect((await c.cmd('CAPABILITY'))[0]!.split(' ')).toContain('CATENATE');
    const sep1 = '\r\n--------------030308070208000400050907\r\n';
    const sep2 = '\r\n--------------030308070208000400050907--\r\n';
    const r = await syncCmd(c, [
      `APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE (URL "/Drafts;UIDVALIDITY=${uv}/;UID=1/;section=HEADER" TEXT {${sep1.length}}`,
      `${sep1} URL "/Drafts;UIDVALIDITY=${uv}/;UID=1/;section=1.MIME" URL "/Drafts;UIDVALIDITY=${uv}/;UID=1/;section=1" TEXT {${sep1.length}}`,
      `${sep1} URL "/Drafts;UIDVALIDITY=${uv}/;UID=2" TEXT {${sep2.length}}`,
      `${sep2})`,
    ]);
    expect(last(r)).toMatch(new RegExp(`^t\\d+ OK \\[APPENDUID ${uv} 3\\]`));
    await c.cmd('SELECT Drafts');
    const header = DRAFT.slice(0, DRAFT.indexOf('\r\n\r\n') + 4);
    const part1Mime = 'Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n';
    expect(await literalOf(c, 'FETCH 3 BODY.PEEK[]')).toBe(`${header}${sep1}${part1Mime}The attachment follows.${sep1}${FORWARDED}${sep2}`);
    const flags = (await c.cmd('FETCH 3 FLAGS'))[0]!;
    for (const f of ['\\Seen', '\\Draft', '$MDNSent']) expect(flags).toContain(f);
  });

  it('URLs relative to the selected mailbox, with PARTIAL, from another folder, and imap:// of the user', async () => {
    const { c, uv } = await drafts();
    await c.cmd('SELECT Drafts');
    const r = await c.cmd(`APPEND INBOX CATENATE (TEXT ${lit('Subject: parts\r\n\r\n')} URL ";UID=2/;SECTION=TEXT" URL "/Drafts/;UID=1/;SECTION=1/;PARTIAL=4.10" URL "imap://bob@localhost/Drafts;UIDVALIDITY=${uv}/;UID=1/;SECTION=2" TEXT {2+}\r\n\r\n)`);
    expect(last(r)).toMatch(/OK \[APPENDUID \d+ 1\]/);
    await c.cmd('SELECT INBOX');
    expect(await literalOf(c, 'FETCH 1 BODY.PEEK[TEXT]')).toBe('forwarded body\r\nattachmentJVBERi0xLjQK\r\n');
  });

  it('[BADURL url] for every bad URL, and nothing is appended', async () => {
    const { c, uv } = await drafts();
    const bad = [
      `/Drafts;UIDVALIDITY=${Number(uv) + 1}/;UID=1`,
      `/Drafts;UIDVALIDITY=${uv}/;UID=9`,
      `/Nowhere/;UID=1`,
      `/Drafts/;UID=1/;SECTION=7`,
      `/Drafts/;UID=1/;SECTION=BOGUS`,
      `imap://alice@localhost/INBOX/;UID=1`,
      `;UID=1`, // nothing selected
      `/Drafts`,
      `http://example.org/`,
      `/Drafts/;UID=1/;URLAUTH=anonymous:internal:0123`,
    ];
    for (const url of bad) {
      const r = await c.cmd(`APPEND INBOX CATENATE (TEXT ${lit('Subject: x\r\n\r\n')} URL "${url}")`);
      expect(last(r), url).toMatch(/^t\d+ NO \[BADURL [^\]]+\]/);
      expect(last(r)).toContain(`[BADURL ${url}]`);
    }
    // In a MULTIAPPEND, a bad URL in the second message refuses the first too.
    const r = await c.cmd(`APPEND INBOX ${lit('Subject: ok\r\n\r\nok\r\n')} CATENATE (URL "/Drafts/;UID=9")`);
    expect(last(r)).toMatch(/NO \[BADURL/);
    expect(await status(c, 'INBOX')).toBe('0');
  });

  it('[TOOBIG] when the built message passes append_limit; CATENATE syntax errors are BAD', async () => {
    const t = fx.site(0, { append_limit: 1000 });
    const c = await fx.session(t, 'CREATE Drafts');
    const m = crlf(`Subject: big\n\n${'z'.repeat(600)}\n`);
    await c.cmd(`APPEND Drafts ${lit(m)}`);
    expect(last(await c.cmd('APPEND INBOX CATENATE (URL "/Drafts/;UID=1" URL "/Drafts/;UID=1")'))).toMatch(/^t\d+ NO \[TOOBIG\]/);
    expect(last(await c.cmd('APPEND INBOX CATENATE ()'))).toMatch(/BAD/);
    expect(last(await c.cmd('APPEND INBOX CATENATE (FILE "x")'))).toMatch(/BAD/);
    expect(last(await c.cmd('APPEND INBOX CATENATE (URL "/Drafts/;UID=1"'))).toMatch(/BAD/);
    expect(last(await c.cmd('APPEND INBOX CONCATENATE (URL "/Drafts/;UID=1")'))).toMatch(/BAD/);
    expect(await status(c, 'INBOX')).toBe('0');
  });

  it('combined with MULTIAPPEND and literal8 TEXT parts', async () => {
    const { c, uv } = await drafts();
    const bin = Buffer.concat([Buffer.from('Subject: bin\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n'), Buffer.from([0, 1, 2, 0, 13, 10])]);
    const tag = c.nextTag();
    c.send(Buffer.concat([
      Buffer.from(`${tag} APPEND INBOX (\\Seen) CATENATE (URL "/Drafts;UIDVALIDITY=${uv}/;UID=2") CATENATE (TEXT ~{${bin.length}+}\r\n`), bin,
      Buffer.from(`) ${lit('Subject: plain\r\n\r\nplain\r\n')}\r\n`),
    ]));
    const r = await c.c.until(`${tag} `);
    expect(last(r)).toMatch(/OK \[APPENDUID \d+ 1:3\]/);
    await c.cmd('SELECT INBOX');
    const f = await c.cmd('FETCH 1:3 (FLAGS RFC822.SIZE)');
    expect(f[0]).toContain('\\Seen');
    expect(f[0]).toContain(`RFC822.SIZE ${FORWARDED.length}`);
    expect(f[1]).toContain(`RFC822.SIZE ${bin.length}`);
  });
});
