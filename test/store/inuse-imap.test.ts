// Through the built imapd (two real sessions, inetd style): a folder SELECTed in one session cannot be
// DELETEd or RENAMEd from another ([INUSE]); once the first session closes it, both work.
import { describe, it, expect, afterEach } from 'vitest';
import { rmSync } from 'node:fs';
import { inetdConnect, type Client } from '../helpers/inetd.js';
import { BIN, makeSite, type Site } from '../helpers/site.js';

const cleanup: (() => void)[] = [];
afterEach(() => { for (const f of cleanup.splice(0).reverse()) f(); });

async function session(site: Site): Promise<{ c: Client; cmd(t: string): Promise<string[]> }> {
  const c = await inetdConnect(BIN.imapd, ['-i', site.conf]);
  cleanup.push(() => c.close());
  await c.line(15_000);
  let n = 0;
  const cmd = (t: string) => { const tag = `x${++n}`; c.send(`${tag} ${t}\r\n`); return c.until(`${tag} `, 15_000); };
  expect((await cmd('LOGIN bob secret')).pop()).toMatch(/OK/);
  return { c, cmd };
}

describe('IMAP: folders selected elsewhere', () => {
  it('DELETE and RENAME answer NO [INUSE] until the other session lets go', async () => {
    const site = makeSite();
    cleanup.push(() => rmSync(site.dir, { recursive: true, force: true }));
    site.addUser('bob', { pass: 'secret' });
    const a = await session(site);
    const b = await session(site);
    expect((await a.cmd('CREATE Work')).pop()).toMatch(/OK/);
    expect((await a.cmd('SELECT Work')).pop()).toMatch(/OK/);
    expect((await b.cmd('DELETE Work')).pop()).toMatch(/^x\d+ NO \[INUSE\]/);
    expect((await b.cmd('RENAME Work Play')).pop()).toMatch(/^x\d+ NO \[INUSE\]/);
    expect((await a.cmd('CLOSE')).pop()).toMatch(/OK/);
    expect((await b.cmd('RENAME Work Play')).pop()).toMatch(/OK/);
    expect((await a.cmd('SELECT Play')).pop()).toMatch(/OK/);
    expect((await b.cmd('DELETE Play')).pop()).toMatch(/^x\d+ NO \[INUSE\]/);
    a.c.close();
    await a.c.exited();
    expect((await b.cmd('DELETE Play')).pop()).toMatch(/OK/);
  });
});
