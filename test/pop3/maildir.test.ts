// POP3 over the maildir store (use_maildir): the same UPDATE semantics, stable UIDLs and the maildrop
// lock, which then lives in the maildir itself.
import { describe, expect, it } from 'vitest';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeSite, simpleMessage, type Site, removeSite } from '../helpers/site.js';
import { popFixture, crlf } from './pop-client.js';

const { cleanup, connect } = popFixture();

function maildirSite(n: number): { site: Site; dir: string } {
  const site = makeSite();
  cleanup.push(() => removeSite(site.dir));
  site.setConfig({ use_maildir: true, maildir_home: join(site.dir, 'maildirs') });
  site.addUser('bob', { pass: 'secret' });
  const dir = join(site.dir, 'maildirs', 'bob.mdir');
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
  for (let i = 1; i <= n; i++) writeFileSync(join(dir, 'new', `${1700000000 + i}.M${i}P1.test`), simpleMessage(i));
  return { site, dir };
}

describe('POP3 on maildir', () => {
  it('RETR gives CRLF text; DELE removes files only at QUIT; UIDLs stay; a second session is IN-USE', async () => {
    const { site, dir } = maildirSite(3);
    const a = await connect(site);
    expect(await a.login()).toMatch(/^\+OK bob has 3 msgs/);
    const b = await connect(site);
    expect(await b.login()).toMatch(/^-ERR \[IN-USE\]/);
    const uidls = (await a.multiCmd('UIDL')).lines.map((l) => l.split(' ')[1]);
    const r = await a.multiCmd('RETR 2');
    expect(r.lines.join('\r\n') + '\r\n').toBe(crlf(simpleMessage(2)));
    expect(await a.cmd('DELE 2')).toMatch(/^\+OK/);
    const files = () => [...readdirSync(join(dir, 'new')), ...readdirSync(join(dir, 'cur'))].length;
    expect(files()).toBe(3);
    expect(await a.cmd('QUIT')).toMatch(/\(2 messages left\)/);
    await a.exited();
    expect(files()).toBe(2);

    const c = await connect(site);
    expect(await c.login()).toMatch(/^\+OK bob has 2 msgs/);
    expect((await c.multiCmd('UIDL')).lines.map((l) => l.split(' ')[1])).toEqual([uidls[0], uidls[2]]);
    c.close();
    await c.exited();
  });
});
