import { describe, expect, it } from 'vitest';
import { resolveLoginName, parseVdomains } from '../../src/auth/names.js';
import { ipAllowed, nameAllowed, wildcardMatch } from '../../src/auth/wildcard.js';
import { settingsWith } from './helpers.js';

const resolve = (over: Parameters<typeof settingsWith>[0], login: string, local = '127.0.0.1') => {
  const r = resolveLoginName(settingsWith(over), login, local);
  if (!r.ok) throw new Error(r.reason);
  return r.name;
};

describe('login name resolution', () => {
  it('keeps a plain name and folds case only with lowercase_username', () => {
    expect(resolve({}, 'Bob')).toMatchObject({ user: 'Bob', dropName: 'Bob', moduleName: 'Bob' });
    expect(resolve({ lowercase_username: true }, 'Bob')).toMatchObject({ user: 'bob', dropName: 'bob' });
  });

  it('strips imapd_strip_domain and a host_domain alias', () => {
    expect(resolve({ imapd_strip_domain: 'test.com' }, 'bob@test.com').user).toBe('bob');
    expect(resolve({ host_domain: ['main.org', 'alias.org'] }, 'bob@ALIAS.org').user).toBe('bob');
    expect(resolve({ host_domain: ['main.org'] }, 'bob@other.org').user).toBe('bob@other.org');
  });

  it('maps a suffix vdomain to prefix + separator and the domain path', () => {
    const n = resolve({ vdomain: ['cc @computers.com computers.com /srv/mail/computers'] }, 'sales@Computers.com');
    expect(n).toMatchObject({ user: 'sales', domain: 'computers.com', prefix: 'cc', dropName: 'cc_sales', accountName: 'cc_sales', moduleName: 'cc_sales', dropDir: '/srv/mail/computers' });
    const d = resolve({ vdomain: ['cc @computers.com computers.com'], authent_domain: true, vdomain_separator: '-' }, 'sales@computers.com');
    expect(d).toMatchObject({ dropName: 'cc-sales', moduleName: 'sales@computers.com' });
  });

  it('chooses an IP vdomain by the local address of the connection', () => {
    const over = { vdomain: ['ip 127.0.0.2 ipdomain.test', 'cc @computers.com computers.com'] };
    expect(resolve(over, 'sales', '127.0.0.2')).toMatchObject({ domain: 'ipdomain.test', dropName: 'ip_sales' });
    expect(resolve(over, 'sales', '::ffff:127.0.0.2')).toMatchObject({ domain: 'ipdomain.test' });
    expect(resolve(over, 'sales', '127.0.0.1').domain).toBeUndefined();
    // A suffix wins over the address.
    expect(resolve(over, 'sales@computers.com', '127.0.0.2')).toMatchObject({ domain: 'computers.com' });
  });

  it('uses alt_drop_path for a vdomain without a path', () => {
    expect(resolve({ vdomain: ['cc @c.com c.com'], alt_drop_path: ['c.com /alt/spool'] }, 'x@c.com').dropDir).toBe('/alt/spool');
  });

  it('encodes invalid_chars and never yields a path', () => {
    expect(resolve({}, 'a/b').dropName).toBe('a%2Fb');
    expect(resolve({ invalid_chars: ':' }, 'a:b').dropName).toBe('a%3Ab');
    expect(resolve({ invalid_chars: '' }, 'a/b').dropName).not.toContain('/');
  });

  it('refuses empty, dot, control-character and path-walking names', () => {
    for (const bad of ['', ' ', '.', '..', 'a b', 'a\tb', 'a\0b', '../etc', 'x'.repeat(300)]) {
      expect(resolveLoginName(settingsWith(), bad, '127.0.0.1').ok).toBe(false);
    }
  });

  it('parses vdomain lines and skips malformed ones', () => {
    expect(parseVdomains(['cc @C.com c.com /p q', 'broken'])).toEqual([{ prefix: 'cc', selector: '@c.com', domain: 'c.com', path: '/p q' }]);
  });
});

describe('DMail wildcard lists', () => {
  it('matches * and ? anchored, ignoring case', () => {
    expect(wildcardMatch('bo?', 'BOB')).toBe(true);
    expect(wildcardMatch('b*', 'bob')).toBe(true);
    expect(wildcardMatch('b?', 'bob')).toBe(false);
    expect(wildcardMatch('a.c', 'abc')).toBe(false);
  });

  it('checks client IPs with wildcards and CIDR; empty list allows all', () => {
    expect(ipAllowed([], '1.2.3.4')).toBe(true);
    expect(ipAllowed(['127.0.0.*'], '127.0.0.9')).toBe(true);
    expect(ipAllowed(['127.0.0.*'], '::ffff:127.0.0.9')).toBe(true);
    expect(ipAllowed(['10.*'], '127.0.0.1')).toBe(false);
    expect(ipAllowed(['10.0.0.0/8'], '10.200.1.1')).toBe(true);
    expect(ipAllowed(['10.0.0.0/8'], '11.0.0.1')).toBe(false);
  });

  it('checks valid_users against any of the names', () => {
    expect(nameAllowed(['sales*', 'bob'], ['cc_sales', 'sales'])).toBe(true);
    expect(nameAllowed(['bob'], ['alice'])).toBe(false);
  });
});
