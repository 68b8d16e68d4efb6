// RFC 4467 URLAUTH over the real bin/imapd: the RFC's GENURLAUTH / URLFETCH example (section 1.2 of a
// message, access submit+<user>), the INTERNAL mechanism checked from outside (HMAC-SHA1 of the rump
// under the key the server keeps in the user's index directory), access identifiers, EXPIRE, RESETKEY,
// forged and foreign URLs (NIL), and the key file's safety (mode 0600; untrusted files refused).
import { createHmac } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectImap, imapFixture, last, type Imap } from './imap-client.js';
import { setInbox } from '../maildir/site-store.js';

const fx = imapFixture();

const RFC_MESSAGE = [
  'From: Joe <joe@example.com>',
  'To: fred@example.com',
  'Subject: latin',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="outer"',
  '',
  '--outer',
  'Content-Type: multipart/alternative; boundary="inner"',
  '',
  '--inner',
  'Content-Type: text/plain',
  '',
  'Part one.',
  '--inner',
  'Content-Type: text/plain',
  '',
  'Si vis pacem, para bellum.',
  '',
  '--inner--',
  '--outer--',
  '',
].join('\n');

async function setup(): Promise<{ s: Imap; t: ReturnType<typeof fx.site> }> {
  const t = fx.site(0);
  setInbox(t.site, 'bob', [{ text: RFC_MESSAGE }, { text: 'Subject: two\n\nsecond body\n' }]);
  const s = await fx.session(t);
  return { s, t };
}

/** GENURLAUTH one rump; the authorized URL. */
async function gen(s: Imap, rump: string): Promise<string> {
  const r = await s.cmd(`GENURLAUTH "${rump}" INTERNAL`);
  expect(last(r)).toMatch(/^t\d+ OK/);
  const m = /^\* GENURLAUTH "(.*)"$/.exec(r[0]!);
  expect(m, r.join('\n')).not.toBeNull();
  return m![1]!;
}

/** URLFETCH one URL: its data, or null for NIL. */
async function fetchUrl(s: Imap, url: string): Promise<string | null> {
  const tag = s.nextTag();
  s.send(`${tag} URLFETCH "${url}"\r\n`);
  const head = await s.c.line();
  expect(head.startsWith(`* URLFETCH "${url}" `), head).toBe(true);
  const rest = head.slice(`* URLFETCH "${url}" `.length);
  let data: string | null = null;
  if (rest !== 'NIL') {
    const n = Number(/^\{(\d+)\}$/.exec(rest)![1]);
    data = (await s.c.bytes(n)).toString('latin1');
    expect(await s.c.line()).toBe('');
  }
  expect(await s.c.line()).toBe(`${tag} OK URLFETCH completed`);
  return data;
}

function keyFile(dir: string): string {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (d.endsWith('/urlauth') && e.name.endsWith('.key')) found.push(join(d, e.name));
    }
  };
  walk(dir);
  expect(found.length).toBe(1);
  return found[0]!;
}

describe('URLAUTH (RFC 4467)', () => {
  it("the RFC's example: GENURLAUTH of section 1.2 for submit+<user>, then URLFETCH of it", async () => {
    const { s } = await setup();
    expect(s.greeting).toMatch(/ URLAUTH[ \]]/);
    const url = await gen(s, 'imap://bob@example.com/INBOX/;uid=1/;section=1.2;urlauth=submit+bob');
    expect(url).toMatch(/^imap:\/\/bob@example\.com\/INBOX\/;uid=1\/;section=1\.2;urlauth=submit\+bob:internal:[0-9a-f]{40}$/);
    expect(await fetchUrl(s, url)).toBe('Si vis pacem, para bellum.\r\n');
    // Whole message, UIDVALIDITY, PARTIAL; several URLs in one GENURLAUTH.
    const st = await s.cmd('STATUS INBOX (UIDVALIDITY)');
    const uv = /UIDVALIDITY (\d+)/.exec(st[0]!)![1];
    const r = await s.cmd(`GENURLAUTH "imap://bob@h/INBOX;UIDVALIDITY=${uv}/;UID=2;URLAUTH=authuser" INTERNAL "imap://bob@h/INBOX/;UID=2/;PARTIAL=0.7;URLAUTH=anonymous" INTERNAL`);
    const urls = [...r[0]!.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
    expect(urls.length).toBe(2);
    expect(await fetchUrl(s, urls[0]!)).toBe('Subject: two\r\n\r\nsecond body\r\n');
    expect(await fetchUrl(s, urls[1]!)).toBe('Subject');
  });

  it('INTERNAL is HMAC-SHA1 of the rump under the kept key; EXPIRE is honoured; the key file is 0600', async () => {
    const { s, t } = await setup();
    await gen(s, 'imap://bob@h/INBOX/;UID=1;URLAUTH=authuser');
    const file = keyFile(t.site.dir);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const key = Buffer.from(readFileSync(file, 'latin1').trim(), 'hex');
    expect(key.length).toBe(32);
    const sign = (rump: string) => `${rump}:internal:${createHmac('sha1', key).update(rump).digest('hex')}`;
    const future = sign('imap://bob@h/INBOX/;UID=2;EXPIRE=2999-01-01T00:00:00Z;URLAUTH=anonymous');
    expect(await fetchUrl(s, future)).toBe('Subject: two\r\n\r\nsecond body\r\n');
    const past = sign('imap://bob@h/INBOX/;UID=2;EXPIRE=2001-01-01T00:00:00Z;URLAUTH=anonymous');
    expect(await fetchUrl(s, past)).toBeNull();
    expect(last(await s.cmd('GENURLAUTH "imap://bob@h/INBOX/;UID=2;EXPIRE=2001-01-01T00:00:00Z;URLAUTH=anonymous" INTERNAL'))).toMatch(/^t\d+ NO/);
    const viaServer = await gen(s, 'imap://bob@h/INBOX/;UID=2;EXPIRE=2999-01-01T00:00:00+02:00;URLAUTH=anonymous');
    expect(viaServer).toBe(sign('imap://bob@h/INBOX/;UID=2;EXPIRE=2999-01-01T00:00:00+02:00;URLAUTH=anonymous'));
  });

  it('access identifiers, forged tokens, other owners, bad URLs and mechanisms', async () => {
    const { s, t } = await setup();
    const good = await gen(s, 'imap://bob@h/INBOX/;UID=1;URLAUTH=user+bob');
    expect(await fetchUrl(s, good)).toContain('Si vis pacem');
    // A forged token, a token for another rump, user+ someone else.
    const forged = good.replace(/[0-9a-f]$/, (c) => (c === '0' ? '1' : '0'));
    expect(await fetchUrl(s, forged)).toBeNull();
    expect(await fetchUrl(s, good.replace(';UID=1;', ';UID=2;'))).toBeNull();
    const forAlice = await gen(s, 'imap://bob@h/INBOX/;UID=1;URLAUTH=user+alice');
    expect(await fetchUrl(s, forAlice)).toBeNull();
    const submitAlice = await gen(s, 'imap://bob@h/INBOX/;UID=1;URLAUTH=submit+alice');
    expect(await fetchUrl(s, submitAlice)).toBeNull();
    // Bob cannot authorize access to alice's mailbox, nor read a URL that names her as the owner.
    expect(last(await s.cmd('GENURLAUTH "imap://alice@h/INBOX/;UID=1;URLAUTH=authuser" INTERNAL'))).toMatch(/^t\d+ NO/);
    expect(await fetchUrl(s, good.replace('imap://bob@', 'imap://alice@'))).toBeNull();
    const a = await connectImap(t.site);
    fx.onCleanup(() => a.close());
    // Unknown mechanism, a URL that already has a verifier, garbage, a missing mailbox, a wrong UIDVALIDITY.
    expect(last(await s.cmd('GENURLAUTH "imap://bob@h/INBOX/;UID=1;URLAUTH=authuser" XYZZY'))).toMatch(/^t\d+ BAD/);
    expect(last(await s.cmd(`GENURLAUTH "${good}" INTERNAL`))).toMatch(/^t\d+ BAD/);
    expect(last(await s.cmd('GENURLAUTH "http://example.com/" INTERNAL'))).toMatch(/^t\d+ BAD/);
    expect(last(await s.cmd('GENURLAUTH "imap://bob@h/INBOX/;UID=1;URLAUTH=everyone" INTERNAL'))).toMatch(/^t\d+ BAD/);
    expect(last(await s.cmd('GENURLAUTH "imap://bob@h/Nope/;UID=1;URLAUTH=authuser" INTERNAL'))).toMatch(/^t\d+ NO \[NONEXISTENT\]/);
    expect(last(await s.cmd('GENURLAUTH "imap://bob@h/INBOX;UIDVALIDITY=1/;UID=1;URLAUTH=authuser" INTERNAL'))).toMatch(/^t\d+ NO/);
    expect(await fetchUrl(s, 'imap://bob@h/INBOX/;UID=1;URLAUTH=authuser')).toBeNull();
    expect(await fetchUrl(s, 'not a url')).toBeNull();
    // A message expunged since: NIL.
    const two = await gen(s, 'imap://bob@h/INBOX/;UID=2;URLAUTH=authuser');
    expect(last(await s.cmd('SELECT INBOX'))).toMatch(/OK/);
    expect(last(await s.cmd('UID STORE 2 +FLAGS (\\Deleted)'))).toMatch(/OK/);
    expect(last(await s.cmd('EXPUNGE'))).toMatch(/OK/);
    expect(await fetchUrl(s, two)).toBeNull();
    // Not before login.
    expect(last(await a.cmd('URLFETCH "x"'))).toMatch(/^t\d+ BAD/);
  });

  it('RESETKEY of a mailbox or of all invalidates the URLs issued before', async () => {
    const { s } = await setup();
    expect(last(await s.cmd('CREATE Other'))).toMatch(/OK/);
    expect(last(await s.cmd('APPEND Other {8+}\r\nX: y\r\n\r\n'))).toMatch(/OK/);
    const inbox = await gen(s, 'imap://bob@h/INBOX/;UID=1;URLAUTH=authuser');
    const other = await gen(s, 'imap://bob@h/Other/;UID=1;URLAUTH=authuser');
    expect(await fetchUrl(s, other)).toBe('X: y\r\n\r\n');
    expect(last(await s.cmd('RESETKEY INBOX INTERNAL'))).toMatch(/^t\d+ OK/);
    expect(await fetchUrl(s, inbox)).toBeNull();
    expect(await fetchUrl(s, other)).toBe('X: y\r\n\r\n');
    const again = await gen(s, 'imap://bob@h/INBOX/;UID=1;URLAUTH=authuser');
    expect(again).not.toBe(inbox);
    expect(await fetchUrl(s, again)).toContain('Si vis pacem');
    expect(last(await s.cmd('RESETKEY'))).toMatch(/^t\d+ OK/);
    expect(await fetchUrl(s, again)).toBeNull();
    expect(await fetchUrl(s, other)).toBeNull();
    expect(last(await s.cmd('RESETKEY Nope'))).toMatch(/^t\d+ NO \[NONEXISTENT\]/);
    expect(last(await s.cmd('RESETKEY INBOX XYZZY'))).toMatch(/^t\d+ BAD/);
  });

  it('a key file others can read, or a symlink in its place, is refused (NOPERM), not used', async () => {
    const { s, t } = await setup();
    const url = await gen(s, 'imap://bob@h/INBOX/;UID=1;URLAUTH=authuser');
    const file = keyFile(t.site.dir);
    chmodSync(file, 0o644);
    expect(last(await s.cmd('GENURLAUTH "imap://bob@h/INBOX/;UID=1;URLAUTH=authuser" INTERNAL'))).toMatch(/^t\d+ NO \[NOPERM\]/);
    expect(last(await s.cmd(`URLFETCH "${url}"`))).toMatch(/^t\d+ NO \[NOPERM\]/);
    unlinkSync(file);
    writeFileSync(join(t.site.dir, 'elsewhere'), 'ab'.repeat(32) + '\n', { mode: 0o600 });
    symlinkSync(join(t.site.dir, 'elsewhere'), file);
    expect(last(await s.cmd('GENURLAUTH "imap://bob@h/INBOX/;UID=1;URLAUTH=authuser" INTERNAL'))).toMatch(/^t\d+ NO \[NOPERM\]/);
  });
});
