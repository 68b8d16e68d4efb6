// dmail.conf parsing with real files: every kind, repeated and unknown settings, bad lines, and
// #include / #imapd_include with imapd's include levels versus dpop's.
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, defaultSettings, loadConfig } from '../../src/config/parse.js';
import { SETTINGS } from '../../src/config/settings.js';
import { ROOT } from '../helpers/site.js';

const dir = mkdtempSync(join(tmpdir(), 'dmail-conf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(text: string, name = `c${++n}.conf`): string {
  const p = join(dir, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
}

describe('values of every kind', () => {
  it('an empty file gives the registry defaults', () => {
    const r = loadConfig(file(''), 'dpop');
    expect(r.settings).toEqual(defaultSettings());
    expect(r.settings.drop_path).toBe('/var/spool/mail');
    expect(r.settings.host_domain).toEqual([]);
    expect(r.settings.tls_cert).toBeUndefined();
    expect(r.warnings).toEqual([]);
    expect(r.errors).toEqual([]);
  });

  it('parses strings, paths, ints, floats, log levels, auth methods and keeps authent_process arguments', () => {
    const r = loadConfig(file([
      'drop_path   /var/mail/drops  ',
      'bulletin_from The Mail Team',
      'imapd_timeout 900',
      'auth_fail_delay 0.5',
      'bin_pfull .25',
      'log_level DEBUG',
      'authent_method External',
      'authent_process /usr/local/dmail/nwauth -path "/etc/x y" -debug',
    ].join('\n')), 'dpop');
    expect(r.errors).toEqual([]);
    expect(r.settings.drop_path).toBe('/var/mail/drops');
    expect(r.settings.bulletin_from).toBe('The Mail Team');
    expect(r.settings.imapd_timeout).toBe(900);
    expect(r.settings.auth_fail_delay).toBe(0.5);
    expect(r.settings.bin_pfull).toBe(0.25);
    expect(r.settings.log_level).toBe('debug');
    expect(r.settings.authent_method).toBe('external');
    expect(r.settings.authent_process).toBe('/usr/local/dmail/nwauth -path "/etc/x y" -debug');
  });

  it.each([
    ['true', true], ['yes', true], ['on', true], ['1', true], ['TRUE', true],
    ['false', false], ['no', false], ['off', false], ['0', false], ['Off', false],
  ])('boolean %s', (word, value) => {
    const r = loadConfig(file(`imapd_become_user ${word}\nuse_flock ${word}`), 'imapd');
    expect(r.errors).toEqual([]);
    expect(r.settings.imapd_become_user).toBe(value);
    expect(r.settings.use_flock).toBe(value);
  });

  it('user_quota takes false, true (no default limit) or kbytes', () => {
    expect(loadConfig(file('user_quota false'), 'dpop').settings.user_quota).toBe(false);
    expect(loadConfig(file('user_quota true'), 'dpop').settings.user_quota).toBe(0);
    expect(loadConfig(file('user_quota 5000'), 'dpop').settings.user_quota).toBe(5000);
    const bad = loadConfig(file('user_quota lots'), 'dpop');
    expect(bad.settings.user_quota).toBe(false);
    expect(bad.errors[0]).toMatch(/:1: bad value for user_quota/);
  });

  it('repeatable settings keep every line in order; comma lists also split on commas', () => {
    const r = loadConfig(file([
      'host_domain example.com',
      'vdomain cc @example.org example.org',
      'host_domain mail.example.com',
      'vdomain dd 192.0.2.10 example.net /var/spool/net',
      'valid_users alice, bob,,staff*',
      'valid_users carol',
      'maildir_althome example.org /srv/maildirs/org',
    ].join('\n')), 'imapd');
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.settings.host_domain).toEqual(['example.com', 'mail.example.com']);
    expect(r.settings.vdomain).toEqual(['cc @example.org example.org', 'dd 192.0.2.10 example.net /var/spool/net']);
    expect(r.settings.valid_users).toEqual(['alice', 'bob', 'staff*', 'carol']);
    expect(r.settings.maildir_althome).toEqual(['example.org /srv/maildirs/org']);
  });

  it('a config does not leak its lists into the defaults of the next one', () => {
    loadConfig(file('host_domain a.example'), 'dpop');
    expect(loadConfig(file(''), 'dpop').settings.host_domain).toEqual([]);
  });
});

describe('line rules', () => {
  it('names are case-insensitive; CRLF, tabs and comments are handled', () => {
    const r = loadConfig(file('# a comment\r\nDROP_PATH\t/x/y\r\n\r\n   \r\nLog_Level error\r\n#log_level debug\r\n'), 'dpop');
    expect(r.errors).toEqual([]);
    expect(r.settings.drop_path).toBe('/x/y');
    expect(r.settings.log_level).toBe('error');
  });

  it('a repeated single-valued setting: the last one wins, with a warning naming both lines', () => {
    const p = file('drop_path /a\nwork_path /w\ndrop_path /b\n');
    const r = loadConfig(p, 'dpop');
    expect(r.settings.drop_path).toBe('/b');
    expect(r.warnings).toEqual([`${p}:3: drop_path repeated (also set at ${p}:1); the last one is used`]);
  });

  it('unknown settings are warnings; bad values are errors naming file:line, and the default stays', () => {
    const p = file('frobnicate 7\nimapd_timeout soon\nlog_level loud\nauthent_method kerberos\nmax_log_size -5\ndrop_path\nhash_spool 1\n');
    const r = loadConfig(p, 'imapd');
    expect(r.warnings).toEqual([`unknown setting frobnicate at ${p}:1; line ignored`]);
    expect(r.errors).toHaveLength(5);
    expect(r.errors[0]).toBe(`${p}:2: bad value for imapd_timeout: "soon" is not a whole number; line ignored`);
    expect(r.errors[1]).toMatch(new RegExp(`^${p}:3: bad value for log_level`));
    expect(r.errors[2]).toMatch(new RegExp(`^${p}:4: bad value for authent_method`));
    expect(r.errors[3]).toMatch(new RegExp(`^${p}:5: bad value for max_log_size`));
    expect(r.errors[4]).toBe(`${p}:6: bad value for drop_path: missing value; line ignored`);
    expect(r.settings.imapd_timeout).toBe(1800);
    expect(r.settings.log_level).toBe('info');
    expect(r.settings.authent_method).toBe('unix_user');
    expect(r.settings.drop_path).toBe('/var/spool/mail');
    expect(r.settings.hash_spool).toBe(1);
  });

  it('a bad later value keeps the earlier good one', () => {
    const r = loadConfig(file('imapd_timeout 60\nimapd_timeout never\n'), 'imapd');
    expect(r.settings.imapd_timeout).toBe(60);
    expect(r.errors).toHaveLength(1);
  });

  it('binary junk and very long lines do not crash the parser', () => {
    const junk = Buffer.from([0, 1, 2, 0xff, 0xfe, 10, 35, 0x80, 10]).toString('latin1') + 'x'.repeat(200_000) + '\nlog_level debug\n';
    const r = loadConfig(file(junk), 'dpop');
    expect(r.settings.log_level).toBe('debug');
    expect(r.warnings.length).toBeGreaterThan(0);
  });

  it('a 2,000-line config with includes loads completely', () => {
    const inc = file(Array.from({ length: 1000 }, (_, i) => `host_domain d${i}.example`).join('\n'), 'big/inc.conf');
    const lines = [`#include ${inc}`];
    for (let i = 0; i < 1000; i++) lines.push(i % 2 ? `vdomain p${i} @v${i}.example v${i}.example` : `# comment ${i}`);
    const r = loadConfig(file(lines.join('\n')), 'dpop');
    expect(r.settings.host_domain).toHaveLength(1000);
    expect(r.settings.vdomain).toHaveLength(500);
    expect(r.files).toEqual([expect.stringMatching(/c\d+\.conf$/), inc]);
  });
});

describe('the main file', () => {
  it('a missing main file is a ConfigError with a clear message', () => {
    expect(() => loadConfig(join(dir, 'nope.conf'), 'imapd')).toThrow(ConfigError);
    expect(() => loadConfig(join(dir, 'nope.conf'), 'imapd')).toThrow(`cannot read configuration file ${join(dir, 'nope.conf')}: no such file`);
  });

  it('a directory as main file is a ConfigError', () => {
    expect(() => loadConfig(dir, 'dpop')).toThrow(/is a directory/);
  });
});

describe('#include and #imapd_include', () => {
  const sub = join(dir, 'inc');
  const leaf = file('bulletin_from Leaf\n', 'inc/deeper/leaf.conf');
  const mid = file('#include deeper/leaf.conf\nlog_level debug\n', 'inc/mid.conf');
  const imapOnly = file('imapd_timeout 77\n', 'inc/imap-only.conf');
  void leaf; void mid; void imapOnly;

  it('dpop follows #include (paths relative to the including file) and treats #imapd_include as a comment', () => {
    const main = file(`drop_path /d\n#include inc/mid.conf\n#imapd_include inc/imap-only.conf\n`, 'inc-main1.conf');
    const r = loadConfig(main, 'dpop');
    expect(r.errors).toEqual([]);
    expect(r.settings.log_level).toBe('debug');
    expect(r.settings.bulletin_from).toBe('Leaf');
    expect(r.settings.imapd_timeout).toBe(1800);
    expect(r.files).toEqual([main, join(sub, 'mid.conf'), join(sub, 'deeper/leaf.conf')]);
  });

  it('dmailctl reads like dpop', () => {
    const main = file(`#include inc/mid.conf\n#imapd_include inc/imap-only.conf\n`, 'inc-main1b.conf');
    const r = loadConfig(main, 'dmailctl');
    expect(r.settings.log_level).toBe('debug');
    expect(r.settings.imapd_timeout).toBe(1800);
  });

  it('imapd ignores both by default (imapd_include_level 0)', () => {
    const r = loadConfig(file(`#include inc/mid.conf\n#imapd_include inc/imap-only.conf\n`, 'inc-main2.conf'), 'imapd');
    expect(r.errors).toEqual([]);
    expect(r.settings.log_level).toBe('info');
    expect(r.settings.imapd_timeout).toBe(1800);
    expect(r.files).toHaveLength(1);
  });

  it('imapd_include_level 1 follows includes named in the main file only', () => {
    const r = loadConfig(file(`imapd_include_level 1\n#include inc/mid.conf\n#imapd_include inc/imap-only.conf\n`, 'inc-main3.conf'), 'imapd');
    expect(r.errors).toEqual([]);
    expect(r.settings.log_level).toBe('debug');
    expect(r.settings.imapd_timeout).toBe(77);
    expect(r.settings.bulletin_from).toBe('Email System Administrator'); // leaf is level 2
  });

  it('imapd_include_level 2 follows one level deeper', () => {
    const r = loadConfig(file(`imapd_include_level 2\n#include inc/mid.conf\n`, 'inc-main4.conf'), 'imapd');
    expect(r.settings.bulletin_from).toBe('Leaf');
  });

  it('the level applies as lines are read: an include before the level line is skipped', () => {
    const r = loadConfig(file(`#include inc/mid.conf\nimapd_include_level 1\n#imapd_include inc/imap-only.conf\n`, 'inc-main5.conf'), 'imapd');
    expect(r.settings.log_level).toBe('info');
    expect(r.settings.imapd_timeout).toBe(77);
  });

  it('a cycle is an error naming the chain, and reading goes on', () => {
    const a = join(dir, 'cyc/a.conf');
    const b = join(dir, 'cyc/b.conf');
    file('#include b.conf\nlog_level debug\n', 'cyc/a.conf');
    file('drop_path /from-b\n#include a.conf\n', 'cyc/b.conf');
    const r = loadConfig(a, 'dpop');
    expect(r.errors).toEqual([`${b}:2: include cycle: ${a} -> ${b} -> ${a}`]);
    expect(r.settings.drop_path).toBe('/from-b');
    expect(r.settings.log_level).toBe('debug');
  });

  it('a file including itself is a cycle', () => {
    const p = file('#include self.conf\n', 'self.conf');
    expect(loadConfig(p, 'dpop').errors).toEqual([`${p}:1: include cycle: ${p} -> ${p}`]);
  });

  it('missing and unreadable includes are errors naming file and line', () => {
    const d = join(dir, 'a-directory');
    mkdirSync(d, { recursive: true });
    const p = file(`#include missing.conf\n#include "${d}"\n#include\nlog_level error\n`, 'bad-inc.conf');
    const r = loadConfig(p, 'dpop');
    expect(r.errors).toEqual([
      `${p}:1: cannot read included file ${join(dir, 'missing.conf')}: no such file`,
      `${p}:2: cannot read included file ${d}: is a directory`,
      `${p}:3: #include without a file name`,
    ]);
    expect(r.settings.log_level).toBe('error');
  });

  it('an include without read permission is reported (when not running as root)', () => {
    const locked = file('log_level debug\n', 'locked.conf');
    chmodSync(locked, 0o000);
    const p = file(`#include locked.conf\n`, 'inc-locked.conf');
    const r = loadConfig(p, 'dpop');
    if (process.getuid?.() === 0) expect(r.settings.log_level).toBe('debug'); // root reads anyway
    else expect(r.errors).toEqual([`${p}:1: cannot read included file ${locked}: permission denied`]);
    chmodSync(locked, 0o644);
  });
});

describe('dmail.conf.example', () => {
  const example = readFileSync(join(ROOT, 'dmail.conf.example'), 'utf8');

  it.each(Object.keys(SETTINGS))('documents %s', (name) => {
    expect(example).toMatch(new RegExp(`^#?${name} `, 'm'));
  });

  it('parses cleanly as is, and with every example line uncommented', () => {
    const asIs = loadConfig(file(example), 'dpop');
    expect(asIs.errors).toEqual([]);
    expect(asIs.warnings).toEqual([]);
    const uncommented = example.split('\n')
      .map((l) => (/^#[a-z_]+ /.test(l) && !/^#(include|imapd_include) /.test(l) ? l.slice(1) : l))
      .join('\n');
    const all = loadConfig(file(uncommented), 'dpop');
    expect(all.errors).toEqual([]);
    expect(all.warnings).toEqual([]);
    expect(all.settings.host_domain).toEqual(['example.com', 'mail.example.com']);
    expect(all.settings.tls_cert).toBe('/etc/ssl/certs/mail.pem');
  });
});
