// dmailctl whois / quota / forward / bulletin through the real built binary.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { recordForward } from '../../src/session/forward.js';
import { BIN } from '../helpers/site.js';
import { cleanEnv } from '../helpers/inetd.js';
import { cleanupTempDirs, tempDir } from '../auth/helpers.js';

afterAll(cleanupTempDirs);

const ctl = (args: string[], input?: string) => {
  const r = spawnSync(BIN.dmailctl, args, { env: cleanEnv(), encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
  return { out: r.stdout, err: r.stderr, code: r.status };
};

function site(extra: string[] = []) {
  const dir = tempDir('dmail-cli-');
  const spool = join(dir, 'spool');
  for (const d of ['spool', 'log', 'work', 'bulletins']) mkdirSync(join(dir, d));
  const db = join(dir, 'users.db');
  const conf = join(dir, 'dmail.conf');
  writeFileSync(conf, [
    `drop_path ${spool}`, `log_path ${join(dir, 'log')}`, `work_path ${join(dir, 'work')}`, `bulletin_path ${join(dir, 'bulletins')}`,
    'authent_method external', `authent_process ${BIN.dmailctl} authd --db ${db}`, 'imapd_become_user false', 'allow_root_login true',
    'user_quota 5000', 'hash_spool 1', 'vdomain cc @computers.com computers.com', 'vdomain ip 127.0.0.2 ipdomain.test', ...extra,
  ].join('\n') + '\n');
  return { dir, spool, db, conf, work: join(dir, 'work') };
}

describe('dmailctl whois', () => {
  it('shows domain, drop file, folders, uid and quota without a password', () => {
    const s = site();
    ctl(['authd', '--db', s.db, 'set', 'cc_sales', 'pw', 'quota=300', 'uid=4321']);
    ctl(['authd', '--db', s.db, 'set', 'ip_bob', 'pw']);
    const r = ctl(['whois', 'sales@computers.com', '-i', s.conf]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^domain:\s+computers\.com \(prefix cc\)$/m);
    expect(r.out).toMatch(new RegExp(`^drop file:\\s+${s.spool}/c/cc_sales$`, 'm'));
    expect(r.out).toMatch(new RegExp(`^folders:\\s+${s.spool}/c/cc_sales\\.mbx$`, 'm'));
    expect(r.out).toMatch(/^uid:\s+4321$/m);
    expect(r.out).toMatch(/^quota:\s+300 KB$/m);
    const ip = ctl(['whois', 'bob', '--local-ip', '127.0.0.2', '-i', s.conf]);
    expect(ip.out).toMatch(/^domain:\s+ipdomain\.test \(prefix ip\)$/m);
    expect(ip.out).toMatch(/^quota:\s+5000 KB$/m);
    const none = ctl(['whois', 'nobody', '-i', s.conf]);
    expect(none.code).toBe(1);
    expect(none.err).toContain('no such user');
  });
});

describe('dmailctl quota', () => {
  it('prints usage and limit', () => {
    const s = site();
    ctl(['authd', '--db', s.db, 'set', 'bob', 'pw', 'quota=10']);
    mkdirSync(join(s.spool, 'b'));
    writeFileSync(join(s.spool, 'b', 'bob'), `From a@b Tue Jan  2 03:04:05 2024\nSubject: big\n\n${'x'.repeat(4000)}\n\n`);
    const r = ctl(['quota', 'bob', '-i', s.conf]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^usage: [45] KB$/m);
    expect(r.out).toMatch(/^limit: 10 KB \(\d+%\)$/m);
  });
});

describe('dmailctl forward list', () => {
  it('prints live IPs, as a Postfix access map with --postfix', () => {
    const s = site();
    recordForward(s.work, '192.0.2.1', 'bob', 'dpop');
    recordForward(s.work, '192.0.2.2', 'amy', 'imapd', new Date(Date.now() - 7200_000));
    expect(ctl(['forward', 'list', '--postfix', '-i', s.conf]).out).toBe('192.0.2.1 OK\n');
    expect(ctl(['forward', 'list', '-i', s.conf]).out).toMatch(/^192\.0\.2\.1\tbob\t\S+\tdpop\n$/);
  });
});

describe('dmailctl bulletin', () => {
  it('adds numbered bulletins from stdin and lists them', () => {
    const s = site();
    expect(ctl(['bulletin', 'add', '-i', s.conf, '--subject', 'Downtime'], 'Server down at 2am\n.\n').out).toBe('Created bulletin 1\n');
    expect(ctl(['bulletin', 'add', '-i', s.conf], 'Back up\n').out).toBe('Created bulletin 2\n');
    expect(ctl(['bulletin', 'add', '-i', s.conf, '--domain', 'computers.com'], 'Only cc\n').out).toBe('Created bulletin 1\n');
    expect(ctl(['bulletin', 'add', '-i', s.conf], '').code).toBe(1);
    const list = ctl(['bulletin', 'list', '-i', s.conf]).out.split('\n').filter(Boolean);
    expect(list.map((l) => l.split('\t')[0])).toEqual(['1', '2']);
    expect(list[0]).toContain('Server down at 2am');
    expect(ctl(['bulletin', 'list', '-i', s.conf, '--domain', 'computers.com']).out).toMatch(/^1\t8\tOnly cc\n$/);
  });
});
