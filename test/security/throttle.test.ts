// Issue 13, weakness "no throttling across connections": three failures close a connection, but a
// reconnect started afresh. Failures are now counted per client address in a small shared record
// (work_path/throttle, written safely, bounded), and later logins from that address wait before they are
// checked — whatever their outcome — until a success clears the record. Against the real built imapd
// and dpop, then the record's bounds.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { inetdConnect } from '../helpers/inetd.js';
import { BIN, makeSite, type Site, removeSite } from '../helpers/site.js';
import { loginDelay, recordFailure, throttleDir, throttleKey } from '../../src/session/throttle.js';
import { defaultSettings } from '../../src/config/parse.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

const sites: Site[] = [];
const dirs: string[] = [];
afterAll(() => {
  for (const s of sites) removeSite(s.dir);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function imapLogin(s: Site, pass: string): Promise<{ answer: string; ms: number }> {
  const c = await inetdConnect(BIN.imapd, ['-i', s.conf]);
  await c.line();
  const t0 = Date.now();
  c.send(`a LOGIN bob ${pass}\r\n`);
  const answer = (await c.until('a ', 20_000)).at(-1)!;
  const ms = Date.now() - t0;
  c.send('b LOGOUT\r\n');
  await c.until('b ').catch(() => []);
  c.close();
  await c.exited();
  return { answer, ms };
}

const record = (s: Site) => readFileSync(join(throttleDir(s.work), '127.0.0.1'), 'utf8').split('\t')[0];

describe('failures from one address, across connections', () => {
  it('are counted in a shared record and delay every later login from it until one succeeds', async () => {
    const s = makeSite();
    sites.push(s);
    s.addUser('bob', { pass: 'right' });
    // Three connections, one failure each (a reconnect per try, as a guesser would do).
    for (let i = 0; i < 3; i++) expect((await imapLogin(s, `wrong${i}`)).answer).toMatch(/^a NO/);
    expect(record(s)).toBe('3');
    const st = statSync(throttleDir(s.work));
    expect(st.mode & 0o777).toBe(0o700);
    expect(st.uid).toBe(process.geteuid!());
    // The next try, with the right password, is checked only after the delay.
    const ok = await imapLogin(s, 'right');
    expect(ok.answer).toMatch(/^a OK/);
    expect(ok.ms).toBeGreaterThanOrEqual(900); // lower bound only: the server slept 1 s before checking
    expect(readFileSync(join(s.logs, 'imapd.log'), 'utf8')).toContain('login delayed: recent failures from this address');
    // The success cleared the record.
    expect(existsSync(join(throttleDir(s.work), '127.0.0.1'))).toBe(false);
  });

  it('POP3 shares the record with IMAP', async () => {
    const s = makeSite();
    sites.push(s);
    s.addUser('bob', { pass: 'right' });
    for (let i = 0; i < 2; i++) expect((await imapLogin(s, `wrong${i}`)).answer).toMatch(/^a NO/);
    const p = await inetdConnect(BIN.dpop, ['-i', s.conf]);
    await p.line();
    p.send('USER bob\r\nPASS nope\r\n');
    await p.line();
    expect(await p.line()).toMatch(/^-ERR/);
    p.send('QUIT\r\n');
    await p.exited();
    expect(record(s)).toBe('3');
    expect(loginDelay({ ...defaultSettings(), work_path: s.work }, '127.0.0.1').seconds).toBe(1);
  });
});

describe('the record', () => {
  it('keys IPv6 clients by their /64 and IPv4 by address', () => {
    expect(throttleKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(throttleKey('2001:db8:1:2::7')).toBe(throttleKey('2001:0db8:0001:0002:ffff:1:2:3'));
    expect(throttleKey('2001:db8:1:3::7')).not.toBe(throttleKey('2001:db8:1:2::7'));
    expect(throttleKey('not an ip')).toBeUndefined();
  });

  it('stays bounded when an attacker cycles addresses', () => {
    const work = mkdtempSync(join(tmpdir(), 'dmail-throttle-'));
    dirs.push(work);
    const settings = { ...defaultSettings(), work_path: work };
    const now = Date.now();
    for (let i = 0; i < 300; i++) recordFailure(settings, `10.0.${i >> 8}.${i & 255}`, undefined, now + i, 100);
    const n = readdirSync(throttleDir(work)).length;
    expect(n).toBeLessThanOrEqual(100);
    // The newest addresses are the ones kept.
    expect(existsSync(join(throttleDir(work), '10.0.1.43'))).toBe(true);
  });
});
