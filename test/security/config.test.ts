// Issue 13, weaknesses of dmail.conf parsing, with the real built binaries:
// - `#include /etc/shadow` (here: a file of shadow-format lines) must not copy any line into the log or
//   `dmailctl config check`: unknown lines are named by file:line only, and by name when they look like
//   a setting name — never with their value;
// - a line listing 130,000 values must not overflow the stack (the server still starts).
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, inetdConnect } from '../helpers/inetd.js';
import { BIN, makeSite, type Site, removeSite } from '../helpers/site.js';

const sites: Site[] = [];
afterAll(() => { for (const s of sites) removeSite(s.dir); });

const HASH = '$6$Zx9SALTsalt$Qk3v8mP0hAshEDpassw0rdHashThatMustNeverBeLoggedAnywhereXYZ0123456789abcdefghij';
const SHADOW = [
  `root:${HASH}:19700:0:99999:7:::`,
  'daemon:*:19700:0:99999:7:::',
  `bob:$y$j9T$bobsalt$YesCryptHashOfBobMustStaySecret1234567:19701:0:99999:7:::`,
  'frobnicate SecretValueOfAnUnknownSetting',
].join('\n') + '\n';

describe('#include of a file that is not a config', () => {
  it('neither imapd\'s log nor config check shows its lines', async () => {
    const s = makeSite();
    sites.push(s);
    const shadow = join(s.dir, 'shadow');
    writeFileSync(shadow, SHADOW, { mode: 0o600 });
    s.setConfig({ imapd_include_level: 1, '#include': shadow });
    const c = await inetdConnect(BIN.imapd, ['-i', s.conf]);
    expect(await c.line()).toMatch(/^\* OK/);
    c.send('a LOGOUT\r\n');
    await c.until('a ');
    await c.exited();
    const check = spawnSync(BIN.dmailctl, ['config', 'check', '-i', s.conf, '--program', 'dpop'], { encoding: 'utf8', env: cleanEnv() });
    for (const out of [readFileSync(join(s.logs, 'imapd.log'), 'utf8'), check.stdout + check.stderr]) {
      for (const secret of [HASH, 'Zx9SALT', 'YesCryptHash', 'root:$6', 'daemon:*', 'SecretValueOfAnUnknownSetting', '19700']) {
        expect(out).not.toContain(secret);
      }
      expect(out).toContain(`a line that is not a setting at ${shadow}:1`);
      expect(out).toContain(`unknown setting frobnicate at ${shadow}:4`);
    }
  });
});

describe('a setting line with 130,000 values', () => {
  it('is read without overflowing the stack: imapd serves and config check passes', async () => {
    const s = makeSite();
    sites.push(s);
    const users = Array.from({ length: 130_000 }, (_, i) => `u${i}`);
    s.setConfig({ valid_users: users.join(','), host_domain: users.map((u) => `${u}.example`).join(',') });
    const c = await inetdConnect(BIN.imapd, ['-i', s.conf]);
    expect(await c.line()).toMatch(/^\* OK/);
    c.send('a LOGOUT\r\n');
    await c.until('a ');
    expect(await c.exited()).toBe(0);
    const check = spawnSync(BIN.dmailctl, ['config', 'check', '-i', s.conf], { encoding: 'utf8', env: cleanEnv() });
    expect(check.status, check.stderr.slice(0, 500)).toBe(0);
  });
});

describe('dmailctl config check and the settings of these weaknesses', () => {
  it('warns when they are turned off or loosened', () => {
    const s = makeSite({ allow_root_group: true, login_lifetime: 0, ip_failure_window: 0 });
    sites.push(s);
    const r = spawnSync(BIN.dmailctl, ['config', 'check', '-i', s.conf], { encoding: 'utf8', env: cleanEnv() });
    expect(r.stderr).toMatch(/warning: allow_root_group true/);
    expect(r.stderr).toMatch(/warning: login_lifetime 0/);
    expect(r.stderr).toMatch(/warning: ip_failure_window 0/);
    s.setConfig({});
    const quiet = spawnSync(BIN.dmailctl, ['config', 'check', '-i', s.conf], { encoding: 'utf8', env: cleanEnv() });
    expect(quiet.stderr).not.toMatch(/allow_root_group|login_lifetime|ip_failure_window/);
  });
});
