// `dmailctl config check` and `dmailctl sessions` through the real built binary.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT } from '../helpers/site.js';
import { cleanEnv } from '../helpers/inetd.js';

const dir = mkdtempSync(join(tmpdir(), 'dmail-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const run = (...args: string[]) => spawnSync(BIN.dmailctl, args, { encoding: 'utf8', env: cleanEnv() });

describe('dmailctl config check', () => {
  it('a clean file: exit 0 and a summary', () => {
    const r = run('config', 'check', '-i', join(ROOT, 'dmail.conf.example'));
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('1 file(s) read as dpop: 0 warning(s), 0 error(s)');
    expect(r.stdout).toBe('');
  });

  it('warnings alone keep exit 0; errors give exit 1 and name file:line', () => {
    const warn = join(dir, 'warn.conf');
    writeFileSync(warn, 'no_such_setting 1\n');
    const w = run('config', 'check', '-i', warn);
    expect(w.status).toBe(0);
    expect(w.stderr).toContain(`warning: unknown setting no_such_setting at ${warn}:1; line ignored`);
    const bad = join(dir, 'bad.conf');
    writeFileSync(bad, 'drop_path /x\nimapd_timeout forever\n');
    const b = run('config', 'check', '-i', bad);
    expect(b.status).toBe(1);
    expect(b.stderr).toContain(`error: ${bad}:2: bad value for imapd_timeout`);
  });

  it('--program imapd reads includes as imapd does; --dump prints effective settings in dmail.conf syntax', () => {
    const inc = join(dir, 'inc.conf');
    writeFileSync(inc, 'log_level debug\n');
    const main = join(dir, 'main.conf');
    writeFileSync(main, `drop_path /spool\nhost_domain a.example\nhost_domain b.example\n#include ${inc}\n`);
    const asDpop = run('config', 'check', '-i', main, '--dump');
    expect(asDpop.stdout).toContain('log_level debug\n');
    expect(asDpop.stdout).toContain('drop_path /spool\n');
    expect(asDpop.stdout).toContain('host_domain a.example\nhost_domain b.example\n');
    expect(asDpop.stdout).toContain('# tls_cert (unset)\n');
    const asImapd = run('config', 'check', '-i', main, '--program', 'imapd', '--dump');
    expect(asImapd.stdout).toContain('log_level info\n');
    expect(asImapd.stderr).toContain('read as imapd');
  });

  it('warns about risky combinations: root sessions, folders in home directories, shared directories others can write', () => {
    const idx = join(dir, 'index-open');
    const work = join(dir, 'work-open');
    for (const d of [idx, work]) { mkdirSync(d); chmodSync(d, 0o777); }
    const risky = join(dir, 'risky.conf');
    writeFileSync(risky, `drop_path /spool\nimapd_become_user false\nimapd_mailbox_name mail\nindex_path ${idx}\nwork_path ${work}\n`);
    const r = run('config', 'check', '-i', risky);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/warning: imapd_become_user false: .*runs as root/);
    expect(r.stderr).toMatch(/warning: imapd_become_user false with imapd_mailbox_name mail/);
    expect(r.stderr).toMatch(/warning: index_path .* writable by others without the sticky bit/);
    expect(r.stderr).toMatch(/warning: work_path .* mode 0777/);
    expect(r.stderr).toContain('4 warning(s), 0 error(s)');
    chmodSync(idx, 0o755);
    chmodSync(work, 0o755);
    writeFileSync(risky, `drop_path /spool\nindex_path ${idx}\nwork_path ${work}\n`);
    expect(run('config', 'check', '-i', risky).stderr).toContain('0 warning(s), 0 error(s)');
  });

  it('a missing file: exit 1 with a clear message', () => {
    const r = run('config', 'check', '-i', join(dir, 'missing.conf'));
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`dmailctl: cannot read configuration file ${join(dir, 'missing.conf')}: no such file\n`);
  });
});

describe('dmailctl sessions', () => {
  it('lists a live session and forgets it when the process is gone', async () => {
    const work = join(dir, 'work');
    const conf = join(dir, 'sessions.conf');
    writeFileSync(conf, `work_path ${work}\n`);
    expect(run('sessions', '-i', conf).stdout).toBe('no live sessions\n');
    // A real process holding a session record, as imapd does after login.
    const holder = spawn(process.execPath, ['-e', `
      const fs = require('fs');
      const d = ${JSON.stringify(join(work, 'sessions'))} + '/' + process.geteuid();
      fs.mkdirSync(d, { recursive: true });
      fs.writeFileSync(d + '/' + process.pid + '.json',
        JSON.stringify({ pid: process.pid, program: 'imapd', user: 'alice', remoteAddress: '192.0.2.4', since: '2024-05-06T07:08:09.000Z' }));
      console.log('ready'); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((r) => holder.stdout!.once('data', () => r()));
    const table = run('sessions', '-i', conf).stdout;
    expect(table).toMatch(/^PID\s+PROGRAM\s+USER\s+CLIENT\s+SINCE\n/);
    expect(table).toMatch(new RegExp(`^${holder.pid}\\s+imapd\\s+alice\\s+192\\.0\\.2\\.4\\s+2024-05-06T07:08:09\\.000Z$`, 'm'));
    const json = run('sessions', '-i', conf, '--json').stdout.trim();
    expect(JSON.parse(json)).toMatchObject({ pid: holder.pid, user: 'alice' });
    holder.kill('SIGKILL'); // like kill -9: the record stays behind, and is skipped
    await new Promise((r) => holder.on('exit', r));
    expect(run('sessions', '-i', conf).stdout).toBe('no live sessions\n');
    expect(existsSync(join(work, 'sessions', String(process.geteuid!()), `${holder.pid}.json`))).toBe(false);
  });
});
