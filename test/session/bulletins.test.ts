// Bulletins delivered into a real store (the maildir back end: real files), shared last-seen record.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuthUser } from '../../src/auth/types.js';
import { deliverBulletins, bulletinMessage } from '../../src/session/bulletins.js';
import { addBulletin, bulletinDir, bulletinText } from '../../src/session/bulletin-admin.js';
import { createMaildirStore } from '../../src/store/maildir/index.js';
import { resolveMaildirPaths } from '../../src/store/maildir/paths.js';
import { cleanupTempDirs, memLogger, settingsWith, tempDir } from '../auth/helpers.js';

afterEach(cleanupTempDirs);

function setup(over: Parameters<typeof settingsWith>[0] = {}, domain?: string) {
  const dir = tempDir('dmail-bull-');
  const bulletins = join(dir, 'bulletins');
  mkdirSync(bulletins);
  const settings = settingsWith({ use_maildir: true, maildir_home: join(dir, 'mail'), bulletin_path: bulletins, ...over });
  const user: AuthUser = { login: 'bob', user: 'bob', dropName: 'bob', info: {}, ...(domain ? { domain } : {}) };
  const paths = resolveMaildirPaths(settings, user);
  const log = memLogger();
  const store = createMaildirStore(paths, settings, log);
  const deliver = () => deliverBulletins(settings, user, store, paths.indexDir, log);
  const inbox = async () => {
    const mb = await store.open('INBOX');
    const out = await Promise.all(mb.state.messages.map((m) => mb.read(m.uid).then((b) => b.toString('utf8'))));
    await mb.close();
    return out;
  };
  return { dir, bulletins, settings, user, paths, store, deliver, inbox };
}

describe('bulletins', () => {
  it('delivers each new bulletin once, in id order, with bulletin_from and .hdr headers', async () => {
    const t = setup({ bulletin_from: 'Postmaster Team' });
    writeFileSync(join(t.bulletins, '002.txt'), 'Second\n');
    writeFileSync(join(t.bulletins, '001.txt'), 'First news\n');
    writeFileSync(join(t.bulletins, '001.hdr'), 'Subject: Maintenance tonight\nX-Bulletin: yes\n');
    expect(await t.deliver()).toBe(2);
    expect(await t.deliver()).toBe(0);
    let msgs = await t.inbox();
    expect(msgs).toHaveLength(2);
    expect(msgs[0]).toMatch(/^From: "Postmaster Team" <postmaster@/m);
    expect(msgs[0]).toMatch(/^Subject: Maintenance tonight\r$/m);
    expect(msgs[0]).not.toMatch(/^Subject: Bulletin 1/m);
    expect(msgs[0]).toContain('First news');
    expect(msgs[1]).toMatch(/^Subject: Bulletin 2\r$/m);
    writeFileSync(join(t.bulletins, '003.txt'), 'Third\n');
    expect(await t.deliver()).toBe(1);
    msgs = await t.inbox();
    expect(msgs).toHaveLength(3);
    expect(JSON.parse(readFileSync(join(t.paths.indexDir, 'bulletins.seen'), 'utf8'))).toEqual({ '*': 3 });
  });

  it('hide_old_bulls: a new user skips existing bulletins but gets later ones', async () => {
    const t = setup({ hide_old_bulls: true });
    writeFileSync(join(t.bulletins, '001.txt'), 'Old\n');
    expect(await t.deliver()).toBe(0);
    writeFileSync(join(t.bulletins, '002.txt'), 'New\n');
    expect(await t.deliver()).toBe(1);
    expect((await t.inbox())[0]).toContain('New');
  });

  it('per-domain bulletins go only to that domain, with their own numbering', async () => {
    const t = setup({}, 'example.test');
    mkdirSync(join(t.bulletins, 'example.test'));
    mkdirSync(join(t.bulletins, 'other.test'));
    writeFileSync(join(t.bulletins, '001.txt'), 'Everyone\n');
    writeFileSync(join(t.bulletins, 'example.test', '001.txt'), 'Example only\n');
    writeFileSync(join(t.bulletins, 'other.test', '001.txt'), 'Other only\n');
    expect(await t.deliver()).toBe(2);
    const msgs = (await t.inbox()).join('\n');
    expect(msgs).toContain('Everyone');
    expect(msgs).toContain('Example only');
    expect(msgs).not.toContain('Other only');
  });

  it('an emptied bulletin directory resets the numbering so ids can restart at 1', async () => {
    const t = setup();
    writeFileSync(join(t.bulletins, '005.txt'), 'Five\n');
    expect(await t.deliver()).toBe(1);
    const { rmSync } = await import('node:fs');
    rmSync(join(t.bulletins, '005.txt'));
    expect(await t.deliver()).toBe(0);
    writeFileSync(join(t.bulletins, '001.txt'), 'Restarted\n');
    expect(await t.deliver()).toBe(1);
  });

  it('dmailctl bulletin add picks the next id atomically; text ends at a lone dot', async () => {
    const dir = bulletinDir(tempDir(), 'example.test');
    expect(bulletinText('line one\n.\nnot this\n')).toBe('line one\n');
    const ids = await Promise.all(Array.from({ length: 8 }, (_, i) => addBulletin(dir, `b${i}\n`, i === 0 ? 'Subject: first' : undefined)));
    expect([...ids].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(existsSync(join(dir, '008.txt'))).toBe(true);
    expect(() => bulletinDir('/x', '../etc')).toThrow();
  });

  it('a session holding the bulletin lock postpones delivery instead of hanging the login', async () => {
    const t = setup();
    writeFileSync(join(t.bulletins, '001.txt'), 'Later\n');
    mkdirSync(t.paths.indexDir, { recursive: true });
    const { openSync, closeSync } = await import('node:fs');
    const { createRequire } = await import('node:module');
    const fsExt = createRequire(import.meta.url)('fs-ext') as { flockSync(fd: number, op: string): void };
    const fd = openSync(join(t.paths.indexDir, 'bulletins.lock'), 'a');
    fsExt.flockSync(fd, 'ex');
    try {
      await expect(deliverBulletins(t.settings, t.user, t.store, t.paths.indexDir, memLogger(), 300)).rejects.toThrow(/locked/);
    } finally {
      closeSync(fd);
    }
    expect(await t.deliver()).toBe(1);
  });

  it('builds a well-formed message even for non-ASCII text', () => {
    const msg = bulletinMessage(settingsWith(), { login: 'bob', user: 'bob', dropName: 'bob', info: {} }, { id: 4, text: Buffer.from('Grüße\n') }, 'h.example').toString('utf8');
    expect(msg).toMatch(/^Content-Type: text\/plain; charset=utf-8$/m);
    expect(msg).toMatch(/^To: bob$/m);
    expect(msg.split('\n\n')[1]).toBe('Grüße\n');
  });
});
