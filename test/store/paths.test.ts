import { describe, it, expect } from 'vitest';
import { resolveMboxPaths, hashDirs, HASH_SCHEMES } from '../../src/store/paths.js';
import { dropNameFor } from '../../src/store/drop-name.js';
import { StoreError } from '../../src/store/types.js';
import { defaultSettings } from './helpers.js';
import type { AuthUser } from '../../src/auth/types.js';

const user = (dropName: string, extra: Partial<AuthUser> = {}): AuthUser => ({ login: dropName, user: dropName, dropName, info: {}, ...extra });

describe('hash_spool (Decision 2, scheme "chars")', () => {
  const s = defaultSettings();
  it('levels 0, 1, 2', () => {
    expect(hashDirs('test', 0, s)).toEqual([]);
    expect(hashDirs('test', 1, s)).toEqual(['t']);
    expect(hashDirs('test', 2, s)).toEqual(['t', 'e']);
  });
  it('lower-cases and replaces characters that cannot name a directory', () => {
    expect(hashDirs('Test', 2, s)).toEqual(['t', 'e']);
    expect(hashDirs('a.b', 2, s)).toEqual(['a', '_']);
    expect(hashDirs('x', 2, s)).toEqual(['x', '_']);
  });
  it('imapd_enable_new_hashing false collapses a dot level as old DMail did', () => {
    const p = resolveMboxPaths(defaultSettings({ drop_path: '/sp', hash_spool: 2, imapd_enable_new_hashing: false }), user('a.b'));
    expect(p.inbox).toBe('/sp/a/a.b');
  });
  it('has a pluggable registry with the reference hypothesis', () => {
    expect([...HASH_SCHEMES.keys()]).toContain('bytesum');
    expect(hashDirs('test', 1, defaultSettings({ hash_scheme: 'bytesum' }))).toEqual(['g']);
  });
});

describe('resolveMboxPaths', () => {
  it('default layout: drop file, <drop>.mbx folders, index inside', () => {
    const p = resolveMboxPaths(defaultSettings({ drop_path: '/var/spool/mail', hash_spool: 1 }), user('bob'));
    expect(p).toEqual({ inbox: '/var/spool/mail/b/bob', folders: '/var/spool/mail/b/bob.mbx', indexDir: '/var/spool/mail/b/bob.mbx/.imapd-index', kind: 'mbox' });
  });
  it('index_path moves the index', () => {
    const p = resolveMboxPaths(defaultSettings({ drop_path: '/sp', index_path: '/var/lib/dmail/index' }), user('bob'));
    expect(p.indexDir).toBe('/var/lib/dmail/index/b/o/bob');
  });
  it('imapd_mailbox_name puts folders in the home directory', () => {
    const p = resolveMboxPaths(defaultSettings({ drop_path: '/sp', imapd_mailbox_name: 'mail' }), user('bob', { home: '/home/bob' }));
    expect(p.inbox).toBe('/sp/bob');
    expect(p.folders).toBe('/home/bob/mail');
  });
  it('external auth drop path and vdomain directory override', () => {
    expect(resolveMboxPaths(defaultSettings(), user('bob', { dropPath: '/x/y/bob' })).inbox).toBe('/x/y/bob');
    expect(resolveMboxPaths(defaultSettings({ hash_spool: 1 }), user('cc_sales', { dropDir: '/vd/cc' })).inbox).toBe('/vd/cc/c/cc_sales');
  });
  it('drop_prefix makes the vdomain prefix a directory', () => {
    const p = resolveMboxPaths(defaultSettings({ drop_path: '/sp', drop_prefix: true }), user('cc_sales', { prefix: 'cc' }));
    expect(p.inbox).toBe('/sp/cc/sales');
  });
  it('refuses names that leave the spool', () => {
    for (const bad of ['..', '.', 'a/b', 'a\0b', '']) {
      expect(() => resolveMboxPaths(defaultSettings(), user(bad)), JSON.stringify(bad)).toThrow(StoreError);
    }
    expect(() => resolveMboxPaths(defaultSettings(), user('bob', { dropPath: '/sp/../etc/passwd' }))).toThrow(StoreError);
    expect(() => resolveMboxPaths(defaultSettings(), user('bob', { dropPath: 'relative' }))).toThrow(StoreError);
  });
});

describe('dropNameFor (Decision 3)', () => {
  const enc = (n: string, over = {}) => { const r = dropNameFor(n, defaultSettings(over)); if (!r.ok) throw new Error(r.reason); return r.dropName; };
  it('encodes invalid_chars as %XX', () => {
    expect(enc('a/b')).toBe('a%2Fb');
    expect(enc('a%b:c', { invalid_chars: '%:' })).toBe('a%25b%3Ac');
    expect(enc('plain')).toBe('plain');
    expect(enc('..')).toBe('%2E%2E');
  });
});
