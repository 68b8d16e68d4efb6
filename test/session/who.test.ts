// dmailctl who (issue 15): the live sessions of real imapd and dpop processes with what they are doing —
// protocol, client, the mailbox (IMAP: the selected one, following SELECT/CLOSE; POP3: INBOX), since, idle —
// and nothing left once they ended.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { BIN } from '../helpers/site.js';
import { connectImap, last, siteWithMessages } from '../imap/imap-client.js';
import { pop } from '../pop3/pop-client.js';
import { duration, whoRows } from '../../src/cli/cmd-who.js';

const t = siteWithMessages(2);
afterAll(() => t.cleanup());

const who = (...args: string[]) => spawnSync(BIN.dmailctl, ['who', '-i', t.site.conf, ...args], { encoding: 'utf8' });
const rows = () => who('--json').stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('dmailctl who', () => {
  it('shows each live session with its protocol, client, mailbox and idle time, and forgets ended ones', async () => {
    const c = await connectImap(t.site);
    expect(last(await c.login())).toMatch(/OK/);
    expect(last(await c.cmd('CREATE Work'))).toMatch(/OK/);
    // Logged in, nothing selected yet.
    let r = rows().find((x) => x.protocol === 'imap');
    expect(r).toMatchObject({ user: 'bob', client: '127.0.0.1', mailbox: null });
    expect(r!.pid).toBe(c.c.child.pid);
    expect(last(await c.cmd('SELECT Work'))).toMatch(/OK/);
    expect(rows().find((x) => x.protocol === 'imap')).toMatchObject({ mailbox: 'Work' });
    expect(last(await c.cmd('SELECT INBOX'))).toMatch(/OK/);
    expect(rows().find((x) => x.protocol === 'imap')).toMatchObject({ mailbox: 'INBOX' });

    const p = await pop(t.site);
    expect(await p.login()).toMatch(/^\+OK/);
    const both = rows();
    expect(both.map((x) => x.protocol).sort()).toEqual(['imap', 'pop3']);
    const popRow = both.find((x) => x.protocol === 'pop3')!;
    expect(popRow).toMatchObject({ user: 'bob', mailbox: 'INBOX', pid: p.child.pid });
    for (const x of both) {
      expect(typeof x.idleSeconds).toBe('number');
      expect(x.idleSeconds as number).toBeLessThan(60);
      expect(Date.parse(x.since as string)).not.toBeNaN();
    }
    const text = who();
    expect(text.stdout).toMatch(/^USER +PROTO +CLIENT +MAILBOX +SINCE +IDLE +PID$/m);
    expect(text.stdout).toMatch(/^bob +imap +127\.0\.0\.1 +INBOX /m);
    expect(text.stdout).toMatch(/^bob +pop3 +127\.0\.0\.1 +INBOX /m);
    expect(who('--user', 'alice').stdout).toBe('no live sessions\n');

    expect(last(await c.cmd('CLOSE'))).toMatch(/OK/);
    expect(rows().find((x) => x.protocol === 'imap')).toMatchObject({ mailbox: null });
    await c.cmd('LOGOUT');
    await c.c.exited();
    p.send('QUIT\r\n');
    await p.exited();
    expect(rows()).toEqual([]);
  });

  it('computes idle times from the last command, and prints them short', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    const [a, b] = whoRows([
      { pid: 1, program: 'imapd', user: 'u', remoteAddress: '::1', since: '2026-01-01T10:00:00.000Z', active: '2026-01-01T11:58:00.000Z', mailbox: 'INBOX' },
      { pid: 2, program: 'dpop', user: 'v', remoteAddress: '::1', since: '2026-01-01T11:59:30.000Z' },
    ], now);
    expect(a).toMatchObject({ protocol: 'imap', idleSeconds: 120, mailbox: 'INBOX' });
    expect(b).toMatchObject({ protocol: 'pop3', idleSeconds: 30, mailbox: null });
    expect([duration(45), duration(720), duration(3 * 3600 + 5 * 60), duration(2 * 86400 + 4 * 3600)]).toEqual(['45s', '12m', '3h05m', '2d04h']);
  });
});
