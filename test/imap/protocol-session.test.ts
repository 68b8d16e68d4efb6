// Connection-level behaviour of the real imapd binary: greeting, capabilities, login paths, states,
// limits and error answers. Each test starts its own process, as inetd would.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectImap, last, siteWithMessages, type TestSite } from './imap-client.js';
import { removeSite } from '../helpers/site.js';

let t: TestSite;
beforeAll(() => {
  t = siteWithMessages(3, { auth_max_failures: 2, max_line_length: 2048, append_limit: 100000 });
});
afterAll(() => t.cleanup());

describe('greeting and capabilities', () => {
  it('greets in DMail form with a CAPABILITY code', async () => {
    const s = await connectImap(t.site);
    expect(s.greeting).toMatch(/^\* OK \[CAPABILITY IMAP4rev1 [^\]]*AUTH=PLAIN[^\]]*\] \S+ IMAP4rev1 v\S+ .*server ready$/);
    const caps = await s.cmd('CAPABILITY');
    expect(caps[0]).toMatch(/^\* CAPABILITY IMAP4rev1 /);
    for (const c of ['LITERAL+', 'SASL-IR', 'IDLE', 'NAMESPACE', 'UIDPLUS', 'MOVE', 'UNSELECT', 'CHILDREN', 'SPECIAL-USE', 'QUOTA', 'ESEARCH', 'ID', 'ENABLE', 'AUTH=LOGIN']) {
      expect(caps[0]!.split(' ')).toContain(c);
    }
    expect(caps[0]).not.toContain('STARTTLS'); // no certificate configured
    expect(last(caps)).toMatch(/^t\d+ OK CAPABILITY completed/);
    const bye = await s.cmd('LOGOUT');
    expect(bye[0]).toMatch(/^\* BYE /);
    expect(last(bye)).toMatch(/OK LOGOUT completed/);
    expect(await s.c.exited()).toBe(0);
  });

  it('answers NOOP, ID, and refuses authenticated-state commands before login', async () => {
    const s = await connectImap(t.site);
    expect(last(await s.cmd('noop'))).toMatch(/OK NOOP completed/);
    const id = await s.cmd('ID ("name" "test" "version" NIL)');
    expect(id[0]).toMatch(/^\* ID \("name" /);
    expect(last(await s.cmd('ID NIL'))).toMatch(/OK/);
    expect(last(await s.cmd('SELECT INBOX'))).toMatch(/^t\d+ BAD .*not allowed/);
    expect(last(await s.cmd('FETCH 1 FLAGS'))).toMatch(/BAD/);
    expect(last(await s.cmd('FROBNICATE'))).toMatch(/BAD Unknown command/);
    s.close();
  });
});

describe('login', () => {
  it('logs in with LOGIN (atoms, quoted, literals) and reports capabilities', async () => {
    const s = await connectImap(t.site);
    const r = await s.login();
    expect(last(r)).toMatch(/^t\d+ OK \[CAPABILITY IMAP4rev1 .*\] LOGIN completed/);
    expect(last(r)).not.toContain('AUTH=');
    expect(last(await s.cmd('LOGIN bob secret'))).toMatch(/BAD/); // already authenticated
    s.close();
    const q = await connectImap(t.site);
    expect(last(await q.cmd('LOGIN "bob" "secret"'))).toMatch(/OK/);
    q.close();
    const l = await connectImap(t.site);
    l.send('a1 LOGIN {3}\r\n');
    expect(await l.c.line()).toMatch(/^\+ /);
    l.send('bob {6+}\r\nsecret\r\n');
    expect(last(await l.c.until('a1 '))).toMatch(/^a1 OK/);
    l.close();
  });

  it('fails with AUTHENTICATIONFAILED and disconnects after auth_max_failures', async () => {
    const s = await connectImap(t.site);
    expect(last(await s.login('bob', 'Xyzzy-pw-77'))).toMatch(/^t\d+ NO \[AUTHENTICATIONFAILED\] LOGIN failed/);
    const second = await s.cmd('LOGIN nobody nothing');
    expect(last(second)).toMatch(/NO \[AUTHENTICATIONFAILED\]/);
    expect(await s.c.line()).toMatch(/^\* BYE /);
    expect(await s.c.exited()).toBe(0);
    // A wrong password sent through SASL too; neither form ever reaches the log.
    const p = await connectImap(t.site);
    const ir = Buffer.from('\0bob\0Plugh-pw-88').toString('base64');
    expect(last(await p.cmd(`AUTHENTICATE PLAIN ${ir}`))).toMatch(/NO \[AUTHENTICATIONFAILED\]/);
    p.close();
    const { readText } = await import('../helpers/site.js');
    const log = readText(`${t.site.logs}/imapd.log`);
    for (const secret of ['Xyzzy-pw-77', 'Plugh-pw-88', ir]) expect(log).not.toContain(secret);
  });

  it('AUTHENTICATE PLAIN with SASL-IR and with a continuation; LOGIN mechanism; cancel', async () => {
    const s = await connectImap(t.site);
    const ir = Buffer.from('\0bob\0secret').toString('base64');
    expect(last(await s.cmd(`AUTHENTICATE PLAIN ${ir}`))).toMatch(/OK \[CAPABILITY .*\] AUTHENTICATE completed/);
    s.close();
    const p = await connectImap(t.site);
    p.send('a AUTHENTICATE plain\r\n');
    expect(await p.c.line()).toBe('+ ');
    p.send(`${ir}\r\n`);
    expect(last(await p.c.until('a '))).toMatch(/^a OK/);
    p.close();
    const l = await connectImap(t.site);
    l.send('b AUTHENTICATE LOGIN\r\n');
    expect(await l.c.line()).toBe(`+ ${Buffer.from('Username:').toString('base64')}`);
    l.send(`${Buffer.from('bob').toString('base64')}\r\n`);
    expect(await l.c.line()).toBe(`+ ${Buffer.from('Password:').toString('base64')}`);
    l.send(`${Buffer.from('secret').toString('base64')}\r\n`);
    expect(last(await l.c.until('b '))).toMatch(/^b OK/);
    l.close();
    const x = await connectImap(t.site);
    x.send('c AUTHENTICATE PLAIN\r\n');
    await x.c.line();
    x.send('*\r\n');
    expect(last(await x.c.until('c '))).toMatch(/^c BAD/);
    expect(last(await x.cmd('AUTHENTICATE PLAIN !!!notbase64'))).toMatch(/BAD/);
    expect(last(await x.cmd('AUTHENTICATE CRAM-MD5'))).toMatch(/NO/);
    x.close();
  });
});

describe('syntax and limits', () => {
  it('survives an over-long line, garbage and empty lines', async () => {
    const s = await connectImap(t.site);
    s.send(`x1 NOOP ${'a'.repeat(5000)}\r\n`);
    expect(await s.c.line()).toBe('x1 BAD Command line too long');
    s.send('\r\n');
    s.send('(((\r\n');
    expect(await s.c.line()).toMatch(/^\* BAD/);
    s.send('x2 LOGIN "unterminated\r\n');
    expect(await s.c.line()).toMatch(/^x2 BAD/);
    s.send('x3 LOGIN a b c\r\n');
    expect(await s.c.line()).toMatch(/^x3 BAD/);
    expect(last(await s.cmd('NOOP'))).toMatch(/OK/);
    s.close();
  });

  it('refuses a too-big APPEND literal with TOOBIG before reading it', async () => {
    const s = await connectImap(t.site);
    await s.login();
    s.send('a1 APPEND INBOX {200000}\r\n');
    expect(await s.c.line()).toMatch(/^a1 NO \[TOOBIG\]/);
    // LITERAL+: the bytes come anyway and are skipped without being buffered.
    s.send(`a2 APPEND INBOX {200000+}\r\n${'x'.repeat(200000)}\r\n`);
    expect(await s.c.line()).toMatch(/^a2 NO \[TOOBIG\]/);
    expect(last(await s.cmd('NOOP'))).toMatch(/OK/);
    s.close();
  });

  it('refuses an APPEND literal before login without reading it', async () => {
    const s = await connectImap(t.site);
    s.send('a1 APPEND INBOX {50000}\r\n');
    expect(await s.c.line()).toMatch(/^a1 BAD APPEND not allowed/);
    s.send(`a2 APPEND INBOX {50000+}\r\n${'y'.repeat(50000)}\r\na3 NOOP\r\n`);
    expect(await s.c.line()).toMatch(/^a2 BAD/);
    expect(await s.c.line()).toMatch(/^a3 OK/);
    s.close();
  });

  it('keeps commands a client sends before the greeting arrives', async () => {
    const { inetdConnect } = await import('../helpers/inetd.js');
    const { BIN } = await import('../helpers/site.js');
    const c = await inetdConnect(BIN.imapd, ['-i', t.site.conf]);
    c.send('e1 NOOP\r\n');
    const lines = await c.until('e1 ', 15_000);
    expect(lines[0]).toMatch(/^\* OK \[CAPABILITY/);
    expect(last(lines)).toMatch(/^e1 OK/);
    c.close();
  });

  it('handles pipelined commands in order', async () => {
    const s = await connectImap(t.site);
    s.send('p1 LOGIN bob secret\r\np2 SELECT INBOX\r\np3 FETCH 1 UID\r\np4 LOGOUT\r\n');
    const lines = await s.c.until('p4 ');
    const tags = lines.filter((l) => /^p\d /.test(l)).map((l) => l.slice(0, 5));
    expect(tags).toEqual(['p1 OK', 'p2 OK', 'p3 OK', 'p4 OK']);
  });

  it('logs out an idle client with a BYE', async () => {
    const { makeSite } = await import('../helpers/site.js');
    const site = makeSite({ imapd_login_timeout: 1 });
    const { connectImap: conn } = await import('./imap-client.js');
    const s = await conn(site);
    expect(await s.c.line(5000)).toBe('* BYE Autologout; idle for too long');
    expect(await s.c.exited()).toBe(0);
    const { rmSync } = await import('node:fs');
    removeSite(site.dir);
  });
});

describe('after login', () => {
  it('autologs out after imapd_timeout with a BYE', async () => {
    const { makeSite } = await import('../helpers/site.js');
    const site = makeSite({ imapd_timeout: 1 });
    site.addUser('bob', { pass: 'secret' });
    const s = await connectImap(site);
    expect(last(await s.login())).toMatch(/OK/);
    expect(await s.c.line(5000)).toBe('* BYE Autologout; idle for too long');
    expect(await s.c.exited()).toBe(0);
    const { rmSync } = await import('node:fs');
    removeSite(site.dir);
  });

  it('delivers a bulletin into INBOX at login (Decisions 7)', async () => {
    const { makeSite } = await import('../helpers/site.js');
    const { mkdirSync, writeFileSync, rmSync } = await import('node:fs');
    const site = makeSite();
    const dir = `${site.dir}/bulletins`;
    mkdirSync(dir);
    writeFileSync(`${dir}/001.txt`, 'Maintenance tonight at 22:00.\n');
    const { storeSettings } = await import('../maildir/site-store.js');
    site.setConfig({ ...storeSettings(site), bulletin_path: dir });
    site.addUser('bob', { pass: 'secret' });
    const s = await connectImap(site);
    await s.login();
    const sel = await s.cmd('SELECT INBOX');
    expect(sel[0]).toBe('* 1 EXISTS');
    const body = await s.cmd('FETCH 1 BODY.PEEK[TEXT]');
    expect(body.join('\n')).toContain('Maintenance tonight');
    s.close();
    const again = await connectImap(site);
    await again.login();
    expect((await again.cmd('SELECT INBOX'))[0]).toBe('* 1 EXISTS'); // not delivered twice
    again.close();
    removeSite(site.dir);
  });
});

describe('authenticated-state odds and ends', () => {
  it('NAMESPACE, ENABLE, quota without a quota, unknown UID command', async () => {
    const s = await connectImap(t.site);
    await s.login();
    expect((await s.cmd('NAMESPACE'))[0]).toBe('* NAMESPACE (("" "/")) NIL NIL');
    expect((await s.cmd('ENABLE CONDSTORE'))[0]).toBe('* ENABLED CONDSTORE');
    expect((await s.cmd('ENABLE X-UNKNOWN CONDSTORE'))[0]).toBe('* ENABLED CONDSTORE'); // listed again, as Dovecot
    expect((await s.cmd('ENABLE X-UNKNOWN'))[0]).toBe('* ENABLED');
    const q = await s.cmd('GETQUOTAROOT INBOX');
    expect(q[0]).toBe('* QUOTAROOT INBOX');
    expect(last(await s.cmd('GETQUOTA ""'))).toMatch(/NO/);
    expect(last(await s.cmd('SETQUOTA "" (STORAGE 10)'))).toMatch(/NO/);
    expect(last(await s.cmd('UID FROB 1'))).toMatch(/BAD/);
    expect(last(await s.cmd('FETCH 1 FLAGS'))).toMatch(/BAD .*not allowed/);
    expect(last(await s.cmd('CLOSE'))).toMatch(/BAD/);
    s.close();
  });
});
