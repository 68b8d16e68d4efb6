// dmailctl authd: the shipped external module, through the real built binary.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExternalModule } from '../../src/auth/external.js';
import { BIN } from '../helpers/site.js';
import { cleanEnv } from '../helpers/inetd.js';
import { cleanupTempDirs, memLogger, tempDir } from './helpers.js';

afterEach(cleanupTempDirs);

const ctl = (db: string, ...words: string[]) => {
  const r = spawnSync(BIN.dmailctl, ['authd', '--db', db, ...words], { encoding: 'utf8', env: cleanEnv() });
  return { out: r.stdout.trim(), code: r.status, err: r.stderr };
};

describe('dmailctl authd admin commands', () => {
  it('set / lookup / check / search / del, with sha512-crypt hashes on disk', () => {
    const db = join(tempDir(), 'users.db');
    expect(ctl(db, 'set', 'Alice', 'pw one', 'quota=100', 'drop=/srv/mail/alice')).toMatchObject({ out: '+OK alice added to database', code: 0 });
    expect(ctl(db, 'set', 'bob', 'a=b', 'uid=1234').code).toBe(0);
    const file = readFileSync(db, 'utf8');
    expect(file).toContain('# dmail authd v1');
    expect(file).toMatch(/^alice\t\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}\t0\tquota="100" drop="\/srv\/mail\/alice"$/m);
    expect(file).not.toContain('pw one');
    expect(ctl(db, 'lookup', 'ALICE').out).toBe('+OK alice /srv/mail/alice 0 quota="100"'); // the stored spelling
    expect(ctl(db, 'check', 'bob', 'a=b').out).toBe('+OK bob bob 1234');
    expect(ctl(db, 'check', 'bob', 'wrong')).toMatchObject({ code: 1 });
    expect(ctl(db, 'set', 'bob', '(NULL)', 'quota=7').out).toBe('+OK bob modified');
    expect(ctl(db, 'check', 'bob', 'a=b').out).toBe('+OK bob bob 1234 quota="7"');
    expect(ctl(db, 'search', '*').out.split('\n')).toEqual(['+DATA alice 0 quota="100" drop="/srv/mail/alice"', '+DATA bob 1234 quota="7"', '+OK 2 of 2 found']);
    expect(ctl(db, 'del', 'alice').out).toBe('+OK alice deleted');
    expect(ctl(db, 'lookup', 'alice')).toMatchObject({ code: 1 });
    expect(ctl(db, 'set', 'bad"name', 'x').code).toBe(1);
    expect(ctl(db, 'set', 'carol', 'x', 'q=has"quote').code).toBe(1);
  });

  it('concurrent sets from many processes lose nothing', async () => {
    const db = join(tempDir(), 'users.db');
    await Promise.all(Array.from({ length: 12 }, (_, i) => new Promise<void>((res, rej) => {
      const c = spawn(BIN.dmailctl, ['authd', '--db', db, 'set', `user${i}`, `pass${i}`], { env: cleanEnv(), stdio: 'ignore' });
      c.on('exit', (code) => (code === 0 ? res() : rej(new Error(`exit ${code}`))));
    })));
    const names = readFileSync(db, 'utf8').split('\n').filter((l) => l.startsWith('user')).map((l) => l.split('\t')[0]).sort();
    expect(names).toEqual(Array.from({ length: 12 }, (_, i) => `user${i}`).sort());
  });
});

describe('dmailctl authd as authent_process', () => {
  it('answers -DEAD when its database cannot be read', async () => {
    const dir = tempDir();
    const mod = new ExternalModule(`${BIN.dmailctl} authd --db ${dir}`, 10, memLogger());
    try {
      expect(await mod.request('check bob x 127.0.0.1', 'check bob')).toMatchObject({ kind: 'dead' });
    } finally {
      await mod.close();
    }
  });

  it('speaks the protocol to the server\'s module client, passwords with spaces included', async () => {
    const db = join(tempDir(), 'users.db');
    ctl(db, 'set', 'bob', 'secret', 'quota=250');
    ctl(db, 'set', 'spacey', 'two words');
    const mod = new ExternalModule(`${BIN.dmailctl} authd --db ${db}`, 10, memLogger());
    try {
      expect(await mod.request('check bob secret 127.0.0.1', 'check bob')).toMatchObject({ kind: 'ok', name: 'bob', dropPath: 'bob', uid: 0, info: { quota: '250' } });
      expect(await mod.request('check bob nope 127.0.0.1', 'check bob')).toMatchObject({ kind: 'err' });
      expect(await mod.request('check nobody secret 127.0.0.1', 'check nobody')).toMatchObject({ kind: 'err' });
      expect(await mod.request('check spacey two words 127.0.0.1', 'check spacey')).toMatchObject({ kind: 'ok' });
      expect(await mod.request('lookup bob', 'lookup bob')).toMatchObject({ kind: 'ok' });
      expect(await mod.request('search b*', 'search')).toMatchObject({ kind: 'ok', data: ['bob 0 quota="250"'] });
      expect(await mod.request('frobnicate', 'x')).toMatchObject({ kind: 'err' });
    } finally {
      await mod.close();
    }
  });
});
