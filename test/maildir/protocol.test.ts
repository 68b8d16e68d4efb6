// The real imapd and dpop binaries on a `use_maildir` site: the protocol layers work unchanged on the
// maildir store, changes land on disk in Dovecot's formats, and procmail deliveries reach a selected
// session.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeSite, simpleMessage, type Site, removeSite } from '../helpers/site.js';
import { connectImap, last, type Imap } from '../imap/imap-client.js';
import { pop } from '../pop3/pop-client.js';
import { mdaDeliver } from './fixture.js';

let site: Site;
let root: string;
let s: Imap;
const crlf = (t: string) => t.replace(/\r?\n/g, '\r\n');
const files = (sub: string, dir = root) => readdirSync(join(dir, sub)).filter((f) => !f.startsWith('.'));

beforeAll(async () => {
  site = makeSite();
  const home = join(site.dir, 'maildir');
  site.setConfig({ use_maildir: true, maildir_home: home, maildir_suffix: true });
  site.addUser('bob', { pass: 'secret' });
  site.addUser('carol', { pass: 'pw' });
  root = join(home, 'bob.mdir');
  for (let i = 1; i <= 3; i++) {
    const name = await mdaDeliver(root, simpleMessage(i));
    const t = new Date(Date.UTC(2024, 0, 1 + i, 3, 4, 5));
    utimesSync(join(root, 'new', name), t, t);
  }
  s = await connectImap(site);
  expect(last(await s.login())).toMatch(/OK/);
});

afterAll(() => {
  s?.close();
  removeSite(site.dir);
});

describe('IMAP on maildir', () => {
  it('selects, fetches and stores flags in file names and dovecot-keywords', async () => {
    const r = await s.cmd('SELECT INBOX');
    expect(r).toContain('* 3 EXISTS');
    expect(r).toContain('* 3 RECENT');
    expect(r.some((l) => /UIDNEXT 4\]/.test(l))).toBe(true);
    expect(files('new')).toHaveLength(0); // claimed: moved to cur/
    const f = await s.cmd('FETCH 1:3 (UID RFC822.SIZE INTERNALDATE)');
    expect(f[0]).toMatch(new RegExp(`^\\* 1 FETCH \\(UID 1 RFC822\\.SIZE ${crlf(simpleMessage(1)).length} INTERNALDATE "02-Jan-2024 03:04:05 \\+0000"\\)$`));
    const body = await s.cmd('UID FETCH 2 BODY.PEEK[]');
    expect(body.join('\r\n')).toContain(crlf(simpleMessage(2)).trimEnd());
    expect(last(await s.cmd('STORE 1 +FLAGS (\\Seen $Work)'))).toMatch(/OK/);
    expect(files('cur').some((n) => n.endsWith(':2,Sa'))).toBe(true);
    expect(readFileSync(join(root, 'dovecot-keywords'), 'utf8')).toBe('0 $Work\n');
  });

  it('creates, lists, subscribes, copies and refuses names Dovecot refuses', async () => {
    expect(last(await s.cmd('CREATE Archive/2024'))).toMatch(/OK/);
    expect(existsSync(join(root, '.Archive.2024', 'maildirfolder'))).toBe(true);
    expect(last(await s.cmd('CREATE a.b'))).toMatch(/NO/);
    const list = await s.cmd('LIST "" "*"');
    expect(list.some((l) => /Archive\/2024"?$/.test(l))).toBe(true);
    expect(list.some((l) => /\\Noselect.*"\/" "?Archive"?$/.test(l))).toBe(true);
    expect(last(await s.cmd('SUBSCRIBE Archive/2024'))).toMatch(/OK/);
    expect(readFileSync(join(root, 'subscriptions'), 'utf8')).toBe('V\t2\n\nArchive\t2024\n');
    const c = await s.cmd('COPY 1 Archive/2024');
    expect(last(c)).toMatch(/OK \[COPYUID \d+ 1 1\]/);
    const st = await s.cmd('STATUS Archive/2024 (MESSAGES UIDNEXT)');
    expect(st[0]).toMatch(/MESSAGES 1 UIDNEXT 2/);
    expect(files('cur', join(root, '.Archive.2024'))[0]).toMatch(/:2,Sa$/);
  });

  it('sees a procmail delivery in the selected mailbox, and expunges (file kept as \\Deleted until no session needs it)', async () => {
    const rc = join(site.dir, 'procmailrc');
    writeFileSync(rc, `:0\n${root}/\n`);
    execFileSync('procmail', ['-m', rc], { input: simpleMessage(4) });
    const n = await s.cmd('NOOP');
    expect(n).toContain('* 4 EXISTS');
    const f = await s.cmd('UID FETCH 4 BODY.PEEK[HEADER.FIELDS (SUBJECT)]');
    expect(f.join('\n')).toContain('Test message 4');
    expect(last(await s.cmd('STORE 2 +FLAGS (\\Deleted)'))).toMatch(/OK/);
    const victim = files('cur').filter((f) => readFileSync(join(root, 'cur', f), 'utf8').includes('Test message 2'));
    expect(victim).toHaveLength(1);
    const e = await s.cmd('EXPUNGE');
    expect(e).toContain('* 2 EXPUNGE');
    // Deferred removal: the file may stay until this session has acknowledged the expunge (unlinked
    // then, or at logout: test/maildir/deferred.test.ts), and meanwhile carries T for other readers.
    const kept = files('cur').filter((f) => f.startsWith(victim[0]!.split(':')[0]!));
    expect(kept.every((f) => /:2,[A-Za-z]*T/.test(f))).toBe(true);
    const a = await s.cmd('APPEND INBOX (\\Flagged) {18}\r\nSubject: ap\r\n\r\nx\r\n');
    expect(last(a)).toMatch(/OK \[APPENDUID \d+ 5\]/);
  });
});

describe('IMAP on maildir, more commands', () => {
  it('searches, moves, renames and deletes folders, and pushes a delivery during IDLE', async () => {
    const sr = await s.cmd('UID SEARCH FLAGGED');
    expect(sr[0]).toBe('* SEARCH 5');
    expect((await s.cmd('SEARCH KEYWORD $Work'))[0]).toBe('* SEARCH 1');
    expect((await s.cmd('SEARCH SUBJECT "message 3"'))[0]).toMatch(/^\* SEARCH \d+$/);
    expect(last(await s.cmd('CREATE Moved'))).toMatch(/OK/);
    const mv = await s.cmd('UID MOVE 5 Moved');
    expect(last(mv)).toMatch(/OK/);
    expect(mv.some((l) => /COPYUID \d+ 5 1/.test(l))).toBe(true);
    expect(files('cur', join(root, '.Moved'))[0]).toMatch(/:2,F$/);
    expect(last(await s.cmd('RENAME Moved Kept/Moved'))).toMatch(/OK/);
    expect(existsSync(join(root, '.Kept.Moved'))).toBe(true);
    const st = await s.cmd('STATUS Kept/Moved (MESSAGES UIDVALIDITY)');
    expect(st[0]).toMatch(/MESSAGES 1 UIDVALIDITY \d+/);
    expect(last(await s.cmd('DELETE Kept/Moved'))).toMatch(/OK/);
    expect(existsSync(join(root, '.Kept.Moved'))).toBe(false);

    const tag = s.nextTag();
    s.send(`${tag} IDLE\r\n`);
    expect(await s.c.line(10_000)).toMatch(/^\+ /);
    await mdaDeliver(root, simpleMessage(7));
    let pushed = '';
    while (!/EXISTS$/.test(pushed)) pushed = await s.c.line(15_000);
    expect(pushed).toMatch(/^\* \d+ EXISTS$/);
    s.send('DONE\r\n');
    const end = await s.c.until(`${tag} `, 10_000);
    expect(end[end.length - 1]).toMatch(/OK/);
  });
});

describe('POP3 on maildir', () => {
  it('lists, retrieves and deletes (unlink on QUIT)', async () => {
    const croot = join(site.dir, 'maildir', 'carol.mdir');
    await mdaDeliver(croot, simpleMessage(1));
    await mdaDeliver(croot, simpleMessage(2));
    const p = await pop(site);
    let uidls: string[] = [];
    try {
      expect(await p.login('carol', 'pw')).toMatch(/^\+OK/);
      const size = crlf(simpleMessage(1)).length + crlf(simpleMessage(2)).length;
      expect(await p.cmd('STAT')).toBe(`+OK 2 ${size}`);
      const r = await p.multiCmd('RETR 2');
      expect(r.lines.join('\r\n') + '\r\n').toBe(crlf(simpleMessage(2)));
      const u = await p.multiCmd('UIDL');
      expect(u.lines).toHaveLength(2);
      const top = await p.multiCmd('TOP 1 0');
      expect(top.lines.join('\r\n')).toContain('Subject: Test message 1');
      expect(await p.cmd('DELE 1')).toMatch(/^\+OK/);
      expect(await p.cmd('QUIT')).toMatch(/^\+OK/);
      uidls = u.lines;
    } finally {
      p.close();
    }
    // UIDLs are stable: the same message has the same UIDL in the next session.
    const p2 = await pop(site);
    try {
      expect(await p2.login('carol', 'pw')).toMatch(/^\+OK/);
      const u2 = await p2.multiCmd('UIDL');
      expect(u2.lines).toHaveLength(1);
      expect(uidls.map((l) => l.split(' ')[1])).toContain(u2.lines[0]!.split(' ')[1]);
      expect(await p2.cmd('QUIT')).toMatch(/^\+OK/);
    } finally {
      p2.close();
    }
    const left = [...files('cur', croot), ...files('new', croot)];
    expect(left).toHaveLength(1);
    expect(readFileSync(join(croot, left.some((f) => files('cur', croot).includes(f)) ? 'cur' : 'new', left[0]!), 'utf8')).toContain('message 2');
  });
});
