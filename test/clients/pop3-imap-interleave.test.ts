// An IMAP session (bin/imapd, driven by imapflow) and POP3 sessions (bin/dpop) on the same user at the
// same time: flags, appends, DELE and EXPUNGE interleave and no message is lost or duplicated. Run twice:
// with a process per connection (inetd) and with both servers as resident masters (`--daemon`: the IMAP
// session and the POP3 sessions served by long-lived workers, test/helpers/resident.ts), whatever the
// vitest project (test/clients is not in the "resident" one).
import { afterEach, describe, expect, it } from 'vitest';
import { ImapFlow } from 'imapflow';
import { BIN, simpleMessage, type Site, removeSite } from '../helpers/site.js';
import { listen } from '../helpers/listener.js';
import { residentMasters } from '../helpers/resident.js';
import { crlf, pop, siteWithMail, type PopClient } from '../pop3/pop-client.js';

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f(); });

async function popSession(site: Site, resident: boolean): Promise<PopClient> {
  const c = await pop(site, resident);
  cleanup.push(() => c.close());
  expect(await c.login()).toMatch(/^\+OK/);
  return c;
}

async function popView(site: Site, resident: boolean): Promise<{ subjects: string[]; uidls: string[] }> {
  const c = await popSession(site, resident);
  const n = Number((await c.cmd('STAT')).split(' ')[1]);
  const subjects: string[] = [];
  for (let i = 1; i <= n; i++) {
    const top = await c.multiCmd(`TOP ${i} 0`);
    subjects.push(top.lines.find((l) => l.startsWith('Subject: '))!.slice(9));
  }
  const uidls = (await c.multiCmd('UIDL')).lines.map((l) => l.split(' ')[1]!);
  await c.cmd('QUIT');
  await c.exited();
  return { subjects, uidls };
}

async function imapView(imap: ImapFlow): Promise<{ subject: string; flags: string[] }[]> {
  await imap.noop();
  const out: { subject: string; flags: string[] }[] = [];
  if (!imap.mailbox || (imap.mailbox as { exists: number }).exists === 0) return out;
  for await (const m of imap.fetch('1:*', { envelope: true, flags: true })) {
    out.push({ subject: m.envelope?.subject ?? '', flags: [...(m.flags ?? [])].sort() });
  }
  return out;
}

describe('IMAP and POP3 on one user', () => {
  it.each([
    ['a process per connection', false],
    ['resident masters', true],
  ])('interleave without losing or duplicating mail (%s)', async (_mode, resident) => {
    const site = siteWithMail(3);
    cleanup.push(() => removeSite(site.dir));
    const imapd = await listen(BIN.imapd, ['-i', site.conf], resident);
    cleanup.push(() => imapd.close());
    const imap = new ImapFlow({ host: '127.0.0.1', port: imapd.port, secure: false, auth: { user: 'bob', pass: 'secret' }, logger: false, doSTARTTLS: false } as ConstructorParameters<typeof ImapFlow>[0]);
    await imap.connect();
    cleanup.push(() => imap.logout().catch(() => undefined));
    const lock = await imap.getMailboxLock('INBOX');
    cleanup.push(() => lock.release());

    const start = await popView(site, resident);
    expect(start.subjects).toEqual(['Test message 1', 'Test message 2', 'Test message 3']);
    // The mode is the one asked for: both programs served by the site's resident masters, or neither.
    expect(residentMasters().filter((m) => m.conf === site.conf).map((m) => m.program).sort()).toEqual(resident ? ['dpop', 'imapd'] : []);

    // POP3 session A: reads 2, deletes 3; meanwhile IMAP flags 1 and appends message 4.
    const a = await popSession(site, resident);
    expect((await a.multiCmd('RETR 2')).lines).toContain('Subject: Test message 2');
    expect(await a.cmd('DELE 3')).toMatch(/^\+OK/);
    await imap.messageFlagsAdd('1', ['\\Flagged']);
    await imap.append('INBOX', crlf(simpleMessage(4)), []);
    expect(await a.cmd('STAT')).toMatch(/^\+OK 2 /); // snapshot: no message 4, 3 marked deleted
    expect(await a.cmd('QUIT')).toMatch(/^\+OK/);
    await a.exited();

    const afterA = await imapView(imap);
    expect(afterA.map((m) => m.subject)).toEqual(['Test message 1', 'Test message 2', 'Test message 4']);
    expect(afterA[0]!.flags).toContain('\\Flagged');
    expect(afterA[1]!.flags).toContain('\\Seen'); // add_status
    const popAfterA = await popView(site, resident);
    expect(popAfterA.subjects).toEqual(['Test message 1', 'Test message 2', 'Test message 4']);
    expect(popAfterA.uidls.slice(0, 2)).toEqual([start.uidls[0], start.uidls[1]]);

    // POP3 session B holds its snapshot while IMAP expunges message 1 under it.
    const b = await popSession(site, resident);
    await imap.messageDelete('1');
    const r1 = await b.cmd('RETR 1');
    if (r1.startsWith('+OK')) {
      // A store that still serves the old bytes is acceptable; the answer must be complete.
      for (;;) if ((await b.line()) === '.') break;
    } else {
      expect(r1).toMatch(/^-ERR/);
    }
    expect((await b.multiCmd('RETR 3')).lines).toContain('Subject: Test message 4');
    expect(await b.cmd('DELE 2')).toMatch(/^\+OK/);
    expect(await b.cmd('QUIT')).toMatch(/^\+OK/);
    await b.exited();

    const end = await popView(site, resident);
    expect(end.subjects).toEqual(['Test message 4']);
    expect(end.uidls[0]).toBe(popAfterA.uidls[2]);
    expect((await imapView(imap)).map((m) => m.subject)).toEqual(['Test message 4']);
  });
});
