// Issue 13, weakness "login names": every login name maps to one drop file of its own, never to a lock or
// another internal file, and a name that cannot fit a file name is refused at login with a clear error
// instead of logging in and failing with [SERVERBUG]. Unit properties of the one mapping module, then the
// attacks against the real built imapd and dpop.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { inetdConnect } from '../helpers/inetd.js';
import { BIN, makeSite, type Site, removeSite } from '../helpers/site.js';
import { dropNameFor, looksInternal, maxDropNameBytes } from '../../src/store/drop-name.js';
import { defaultSettings } from '../../src/config/parse.js';
import { resolveLoginName } from '../../src/auth/names.js';
import { resolveMboxPaths } from '../../src/store/paths.js';

const sites: Site[] = [];
afterAll(() => { for (const s of sites) removeSite(s.dir); });

/** %XX back to bytes, everything else as its UTF-8. */
function decode(s: string): string {
  const parts: Buffer[] = [];
  for (let i = 0; i < s.length;) {
    if (s[i] === '%' && /^[0-9A-F]{2}$/i.test(s.slice(i + 1, i + 3))) { parts.push(Buffer.from([parseInt(s.slice(i + 1, i + 3), 16)])); i += 3; }
    else { const ch = String.fromCodePoint(s.codePointAt(i)!); parts.push(Buffer.from(ch, 'utf8')); i += ch.length; }
  }
  return Buffer.concat(parts).toString('utf8');
}

describe('the login name → drop file mapping', () => {
  const settings = { ...defaultSettings(), invalid_chars: '/:' };
  const map = (n: string) => { const r = dropNameFor(n, settings); if (!r.ok) throw new Error(r.reason); return r.dropName; };
  const host = hostname();
  const names = ['bob', 'a/b', 'a%2Fb', 'a%2fb', 'a%b', 'a%%2F', '%', '%2', '%25', 'x.lock', 'x%2Elock', 'x.LOCK', 'x.mbx', 'x.mdir',
    '.hidden', '%2Ehidden', 'a:b', 'a%3Ab', `bob.${host}.1234`, `bob.${host}`, 'john.smith', 'dots.in.name', 'ü-umlaut', 'cc_sales', '..', '...'];

  it('keeps ordinary names as they are (existing DMail paths do not move)', () => {
    for (const n of ['bob', 'john.smith', 'dots.in.name', 'cc_sales', 'ü-umlaut', 'a%b', 'x-1_2']) expect(map(n)).toBe(n);
    expect(map('a/b')).toBe('a%2Fb');
    expect(map('a:b')).toBe('a%3Ab');
  });

  it('is injective: decoding gives the name back, and no two names share a file', () => {
    const seen = new Map<string, string>();
    for (const n of names) {
      const d = map(n);
      expect(decode(d), n).toBe(n);
      expect(seen.get(d), `${n} and ${seen.get(d)} share ${d}`).toBeUndefined();
      seen.set(d, n);
    }
  });

  it('never lands on a lock, folder, maildir, hidden or dot-lock temporary name', () => {
    for (const n of names) {
      const d = map(n);
      expect(looksInternal(d, settings), `${n} → ${d}`).toBe(false);
      expect(d.startsWith('.'), d).toBe(false);
      expect(d).not.toContain('/');
    }
    expect(map('x.lock')).toBe('x%2Elock');
  });

  it('with drop_prefix, the part filed under the prefix directory is safe on its own', () => {
    const conf = { ...defaultSettings(), vdomain: ['cc @c.com c.com'], drop_prefix: true, drop_path: '/sp' };
    const r = resolveLoginName(conf, 'x.lock@c.com', '127.0.0.1');
    expect(r.ok && r.name.dropName).toBe('cc_x%2Elock');
    if (!r.ok) return;
    expect(resolveMboxPaths(conf, { login: 'x', user: 'x.lock', dropName: r.name.dropName, prefix: 'cc', info: {} }).inbox).toBe('/sp/cc/x%2Elock');
  });

  it('refuses a name whose drop file (with its suffixes) cannot fit a file name', () => {
    const max = maxDropNameBytes(settings);
    expect(dropNameFor('x'.repeat(max), settings).ok).toBe(true);
    for (const len of [max + 1, 252, 255]) {
      const r = dropNameFor('x'.repeat(len), settings);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(/too long/);
    }
    // Encoding counts: 100 slashes are 300 bytes.
    expect(dropNameFor('/'.repeat(100), settings).ok).toBe(false);
  });
});

describe('against the real servers', () => {
  function site(): Site {
    const s = makeSite();
    sites.push(s);
    return s;
  }

  async function imap(s: Site, script: (send: (l: string) => Promise<string[]>) => Promise<void>): Promise<void> {
    const c = await inetdConnect(BIN.imapd, ['-i', s.conf]);
    await c.line();
    let n = 0;
    await script(async (l) => { const tag = `t${++n}`; c.send(`${tag} ${l}\r\n`); return c.until(`${tag} `); });
    c.send('z LOGOUT\r\n');
    await c.until('z ').catch(() => []);
    await c.exited();
  }

  it('a 252-255 character name is refused at login with [CANNOT], not [SERVERBUG] later', async () => {
    const s = site();
    for (const len of [252, 255]) {
      const name = 'n'.repeat(len);
      s.addUser(name, { pass: 'pw' });
      await imap(s, async (send) => {
        const r = await send(`LOGIN ${name} pw`);
        expect(r.at(-1)).toMatch(/^t1 NO \[CANNOT\] user name too long/);
      });
      const p = await inetdConnect(BIN.dpop, ['-i', s.conf]);
      await p.line();
      p.send(`USER ${name}\r\nPASS pw\r\n`);
      await p.line();
      expect(await p.line()).toMatch(/^-ERR .*too long/);
      p.send('QUIT\r\n');
      await p.exited();
    }
  });

  it('x.lock, a/b and a%2Fb get drop files of their own; none is a lock file', async () => {
    const s = site();
    for (const name of ['x', 'x.lock', 'a/b', 'a%2Fb']) {
      s.addUser(name, { pass: 'pw', drop: '-' });
    }
    for (const name of ['x', 'x.lock', 'a/b', 'a%2Fb']) {
      await imap(s, async (send) => {
        expect((await send(`LOGIN "${name}" pw`)).at(-1)).toMatch(/^t1 OK/);
        expect((await send(`APPEND INBOX {${`Subject: for ${name}\r\n\r\nbody\r\n`.length}+}\r\nSubject: for ${name}\r\n\r\nbody\r\n`)).at(-1)).toMatch(/OK/);
      });
    }
    const files = readdirSync(s.spool).filter((f) => !f.endsWith('.mbx')).sort();
    expect(files).toEqual(['a%252Fb', 'a%2Fb', 'x', 'x%2Elock']);
    expect(existsSync(`${s.spool}/x.lock`)).toBe(false);
    // Each sees exactly its own message.
    for (const name of ['x', 'x.lock', 'a/b', 'a%2Fb']) {
      await imap(s, async (send) => {
        await send(`LOGIN "${name}" pw`);
        const sel = await send('SELECT INBOX');
        expect(sel).toContain('* 1 EXISTS');
        const f = await send('FETCH 1 BODY[HEADER.FIELDS (SUBJECT)]');
        expect(f.join('\n')).toContain(`Subject: for ${name}`);
      });
    }
  });
});

describe('LOGIN DEMO with the bundled authd module', () => {
  it('opens demo\'s own drop file, and APPEND does not create a second one', async () => {
    const { spawnSync } = await import('node:child_process');
    const { readFileSync, writeFileSync } = await import('node:fs');
    const s = makeSite();
    sites.push(s);
    const db = `${s.dir}/authd.db`;
    const r = spawnSync(BIN.dmailctl, ['authd', '--db', db, 'set', 'demo', 'demo'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    s.setConfig({ authent_process: `${BIN.dmailctl} authd --db ${db}` });
    writeFileSync(s.drop('demo'), 'From a@b Tue Jan  2 03:04:05 2024\nSubject: welcome\n\nhello\n\n');
    const c = await inetdConnect(BIN.imapd, ['-i', s.conf]);
    await c.line();
    c.send('a LOGIN DEMO demo\r\n');
    expect((await c.until('a ')).at(-1)).toMatch(/^a OK/);
    c.send('b SELECT INBOX\r\n');
    expect(await c.until('b ')).toContain('* 1 EXISTS');
    const msg = 'Subject: second\r\n\r\nx\r\n';
    c.send(`c APPEND INBOX {${msg.length}+}\r\n${msg}\r\n`);
    expect((await c.until('c ')).at(-1)).toMatch(/^c OK/);
    c.send('d LOGOUT\r\n');
    await c.until('d ');
    await c.exited();
    expect(readdirSync(s.spool).filter((f) => !f.endsWith('.mbx'))).toEqual(['demo']);
    expect(readFileSync(s.drop('demo'), 'utf8')).toContain('Subject: second');
  });
});
