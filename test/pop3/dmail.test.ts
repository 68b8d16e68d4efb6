// DMail behaviour seen through POP3 logins: bulletins arrive as messages (once), user_quota is reported,
// forward_user records are written, user_ip_address and valid_users refuse with -ERR [AUTH].
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Site } from '../helpers/site.js';
import { popFixture } from './pop-client.js';

const { site, connect } = popFixture();
async function loginAndCount(s: Site): Promise<{ reply: string; subjects: string[] }> {
  const c = await connect(s);
  const reply = await c.login();
  const subjects: string[] = [];
  if (reply.startsWith('+OK')) {
    const n = Number((await c.cmd('STAT')).split(' ')[1]);
    for (let i = 1; i <= n; i++) subjects.push((await c.multiCmd(`TOP ${i} 0`)).lines.find((l) => l.startsWith('Subject: '))?.slice(9) ?? '');
  }
  await c.cmd('QUIT');
  await c.exited();
  return { reply, subjects };
}

describe('DMail login behaviour over POP3', () => {
  it('delivers a bulletin once, as an ordinary message', async () => {
    const s = site(1);
    const bulls = join(s.dir, 'bulletins');
    mkdirSync(bulls);
    writeFileSync(join(bulls, '001.txt'), 'The server moves on Friday.\n');
    s.setConfig({ bulletin_path: bulls });
    const first = await loginAndCount(s);
    expect(first.reply).toMatch(/^\+OK bob has 2 msgs/);
    expect(first.subjects).toContain('Test message 1');
    const again = await loginAndCount(s);
    expect(again.subjects).toHaveLength(2);
  });

  it('reports user_quota in the PASS reply and writes the forward_user record', async () => {
    const s = site(1);
    s.setConfig({ user_quota: 5000, forward_user: true });
    const r = await loginAndCount(s);
    expect(r.reply).toMatch(/^\+OK bob has 1 msgs \(\d+ octets\), quota 5000 KB$/);
    const record = join(s.work, 'forward', '127.0.0.1');
    expect(existsSync(record)).toBe(true);
    expect(readFileSync(record, 'latin1')).toMatch(/^127\.0\.0\.1\tbob\t\d+\tdpop/);
  });

  it('refuses clients outside user_ip_address and users outside valid_users', async () => {
    const s = site(1);
    s.setConfig({ user_ip_address: '10.*' });
    expect((await loginAndCount(s)).reply).toMatch(/^-ERR \[AUTH\]/);
    s.setConfig({ valid_users: 'alice' });
    expect((await loginAndCount(s)).reply).toMatch(/^-ERR \[AUTH\]/);
    s.setConfig({ valid_users: 'b*' });
    expect((await loginAndCount(s)).reply).toMatch(/^\+OK/);
  });
});
