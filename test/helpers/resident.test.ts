// The resident test mode's fixture (test/helpers/resident.ts), run in the default project: a site's
// masters start at its first connection, `exited()` says how a connection ended (normal close, LOGOUT,
// the worker killed), `serverPid()` names the worker, and removing the site leaves no process behind.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { residentClient } from './inetd.js';
import { gone, residentMaster, residentMasters } from './resident.js';
import { cleanEnv } from './inetd.js';
import { BIN, makeSite, mbox, removeSite, simpleMessage, type Site } from './site.js';

const sites: Site[] = [];
afterEach(() => { for (const s of sites.splice(0)) removeSite(s.dir); });

function site(): Site {
  const s = makeSite();
  s.addUser('bob', { pass: 'secret' });
  sites.push(s);
  return s;
}

const children = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').split(/\s+/).filter(Boolean).map(Number);
const role = (pid: number) => /(?:^|\0)DMAIL_RESIDENT_ROLE=([a-z]+)/.exec(readFileSync(`/proc/${pid}/environ`, 'latin1'))?.[1];

describe('resident test mode fixture', () => {
  it('one master per site and program; exited() and serverPid() follow the connection; removeSite stops everything', async () => {
    const s = site();
    writeFileSync(s.drop('bob'), mbox([{ text: simpleMessage(1) }]));
    const imap = await residentClient(BIN.imapd, ['-i', s.conf]);
    expect(await imap.line()).toMatch(/^\* OK /);
    const pre = imap.serverPid();
    expect(role(pre)).toBe('prelogin');
    imap.send('a LOGIN bob secret\r\n');
    expect((await imap.until('a ')).pop()).toMatch(/^a OK/);
    const worker = imap.serverPid();
    expect(role(worker)).toBe('worker');
    // A second connection of the same site and program goes to the same master (and the user's worker).
    const again = await residentClient(BIN.imapd, ['-i', s.conf]);
    expect(again.child.pid).toBe(imap.child.pid);
    await again.line();
    again.send('b LOGIN bob secret\r\nc LOGOUT\r\n');
    expect((await again.until('c ')).pop()).toMatch(/^c OK/);
    expect(await again.exited()).toBe(0);
    // The client leaving without LOGOUT: exited() once the master logged the end.
    imap.close();
    expect(await imap.exited()).toBe(0);
    // kill -9 of the worker serving a session: that connection ends as a failure (1).
    const victim = await residentClient(BIN.imapd, ['-i', s.conf]);
    await victim.line();
    victim.send('v LOGIN bob secret\r\nw SELECT INBOX\r\n');
    expect((await victim.until('w ')).pop()).toMatch(/^w OK/);
    victim.kill('SIGKILL');
    expect(await victim.exited()).toBe(1);
    // POP3 on the same site: a master of its own.
    const pop = await residentClient(BIN.dpop, ['-i', s.conf]);
    expect(await pop.line()).toMatch(/^\+OK/);
    expect(pop.child.pid).not.toBe(imap.child.pid);
    pop.send('USER bob\r\nPASS secret\r\nSTAT\r\nQUIT\r\n');
    expect(await pop.until('+OK 1 ')).toHaveLength(3);
    expect(await pop.exited()).toBe(0);

    const mine = residentMasters().filter((m) => m.conf === s.conf);
    expect(mine).toHaveLength(2);
    const pids = mine.flatMap((m) => [m.proc.pid!, ...children(m.proc.pid!)]);
    expect(pids.length).toBeGreaterThanOrEqual(5); // two masters, their pre-login processes, a worker
    removeSite(s.dir);
    sites.splice(sites.indexOf(s), 1);
    expect(pids.filter((p) => !gone(p))).toEqual([]);
    expect(residentMasters().filter((m) => m.conf === s.conf)).toEqual([]);
  });

  it('a master still starting when its site is removed is stopped too', async () => {
    const s = site();
    const starting = residentMaster(BIN.imapd, ['-i', s.conf], cleanEnv());
    const failed = starting.then(() => 'listening', (e: Error) => e.message);
    removeSite(s.dir);
    sites.splice(sites.indexOf(s), 1);
    expect(await failed).toMatch(/exited .* before listening/);
    expect(residentMasters().filter((m) => m.conf === s.conf)).toEqual([]);
  });

  it('a master started with an IPC channel stops when the channel closes (its parent is gone)', async () => {
    const s = site();
    const m = await residentMaster(BIN.imapd, ['-i', s.conf], cleanEnv());
    let kids: number[] = [];
    for (let i = 0; i < 1000 && kids.length === 0; i++) { await new Promise((r) => setTimeout(r, 10)); kids = children(m.proc.pid!); }
    expect(kids.length).toBeGreaterThan(0); // its pre-login process
    m.proc.disconnect();
    expect(await m.exit).toBe(0);
    for (let i = 0; i < 500 && kids.some((p) => !gone(p)); i++) await new Promise((r) => setTimeout(r, 10));
    expect(kids.filter((p) => !gone(p))).toEqual([]);
  });
});
