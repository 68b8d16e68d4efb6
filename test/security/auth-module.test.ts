// Issue 13, weaknesses of external authentication, against the real built imapd run as root:
// - a hung module that started helpers: the whole process group is ended at authent_timeout (no root
//   orphans), and the client gets its temporary failure;
// - a module answering gid="0", or a uid without an account and no gid: refused, not a session in group 0
//   or in whatever group has that number; a uid with an account runs in the account's group.
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { inetdConnect } from '../helpers/inetd.js';
import { BIN, makeSite, type Site, removeSite } from '../helpers/site.js';

const isRoot = process.getuid?.() === 0;
const sites: Site[] = [];
afterAll(() => { for (const s of sites) removeSite(s.dir); });

/** Alive and not a zombie. */
function running(pid: number): boolean {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) [ZX] /.test(st);
  } catch {
    return false;
  }
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && running(pid); i++) await new Promise((r) => setTimeout(r, 50));
  return !running(pid);
}

function gidOf(pid: number): number {
  const m = /^Gid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]);
}

describe.skipIf(!isRoot)('hung authentication module (as root)', () => {
  it('is ended with every process it started, and the client is answered', async () => {
    const site = makeSite();
    sites.push(site);
    const pids = join(site.dir, 'pids');
    const module = join(site.dir, 'hung-module.sh');
    // A module that, asked to check a password, starts a helper in the background and hangs.
    writeFileSync(module, `#!/bin/sh
while read cmd rest; do
  case "$cmd" in
    check) sleep 1000 & echo $! >> ${pids}; sh -c 'echo $$ >> ${pids}; exec sleep 1000' ;;
    *) echo "-ERR unknown" ;;
  esac
done
`);
    chmodSync(module, 0o755);
    site.setConfig({ authent_process: module, authent_timeout: 1 });
    const c = await inetdConnect(BIN.imapd, ['-i', site.conf]);
    await c.line();
    c.send('a LOGIN bob secret\r\n');
    expect((await c.until('a ')).at(-1)).toMatch(/^a NO \[UNAVAILABLE\]/);
    const helpers = readFileSync(pids, 'utf8').trim().split('\n').map(Number);
    expect(helpers).toHaveLength(2);
    for (const pid of helpers) expect(await gone(pid), `helper ${pid} still running as root`).toBe(true);
    c.send('b LOGOUT\r\n');
    await c.until('b ');
    await c.exited();
  });
});

describe.skipIf(!isRoot)('the group a module\'s user runs in (as root, imapd_become_user true)', () => {
  const ghost = (() => {
    for (let uid = 54321; uid < 54400; uid++) {
      try { execFileSync('getent', ['passwd', String(uid)], { stdio: 'pipe' }); } catch { return uid; }
    }
    throw new Error('no free uid');
  })();

  function site(extra: Record<string, string | number | boolean> = {}): Site {
    const s = makeSite({ imapd_become_user: true, ...extra });
    sites.push(s);
    chmodSync(s.dir, 0o755);
    chmodSync(s.spool, 0o1777);
    s.addUser('rootgroup', { pass: 'pw', uid: 65534, info: { gid: '0' } });
    s.addUser('ghost', { pass: 'pw', uid: ghost });
    s.addUser('ghostgid', { pass: 'pw', uid: ghost, info: { gid: '65534' } });
    s.addUser('nobody', { pass: 'pw', uid: 65534 });
    return s;
  }

  async function login(s: Site, name: string): Promise<{ answer: string; gid?: number }> {
    const c = await inetdConnect(BIN.imapd, ['-i', s.conf]);
    await c.line();
    c.send(`a LOGIN ${name} pw\r\n`);
    const answer = (await c.until('a ')).at(-1)!;
    const gid = answer.startsWith('a OK') ? gidOf(c.child.pid!) : undefined;
    c.send('b LOGOUT\r\n');
    await c.until('b ').catch(() => []);
    c.close();
    await c.exited();
    return { answer, gid };
  }

  it('refuses gid="0" and a uid without an account or gid; takes the account\'s group otherwise', async () => {
    const s = site();
    expect((await login(s, 'rootgroup')).answer).toMatch(/^a NO \[UNAVAILABLE\]/);
    expect((await login(s, 'ghost')).answer).toMatch(/^a NO \[UNAVAILABLE\]/);
    expect(await login(s, 'ghostgid')).toMatchObject({ answer: expect.stringMatching(/^a OK/), gid: 65534 });
    expect(await login(s, 'nobody')).toMatchObject({ answer: expect.stringMatching(/^a OK/), gid: 65534 });
    const log = readFileSync(join(s.logs, 'imapd.log'), 'utf8');
    expect(log).toContain('allow_root_group is off');
    expect(log).toContain(`uid ${ghost} has no account`);
  });

  it('allows group 0 only with allow_root_group', async () => {
    const s = site({ allow_root_group: true });
    expect(await login(s, 'rootgroup')).toMatchObject({ answer: expect.stringMatching(/^a OK/), gid: 0 });
    expect(existsSync(s.conf)).toBe(true);
  });
});
