// `dmailctl convert` through the real built binary: mbox → maildir → mbox round trip on a test site,
// with UIDs, UIDVALIDITY, flags and subscriptions compared against the original mbox store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, makeSite, mbox, simpleMessage, type Site, removeSite } from '../helpers/site.js';
import { MboxStore } from '../../src/store/mbox/store.js';
import { resolveMboxPaths } from '../../src/store/paths.js';
import type { MailStore } from '../../src/store/types.js';
import { quietLog, storeAt, testSettings } from './fixture.js';

let site: Site;
let maildirHome: string;

beforeAll(() => {
  site = makeSite();
  maildirHome = join(site.dir, 'maildir');
  site.setConfig({ maildir_home: maildirHome, maildir_suffix: true });
  site.addUser('bob', { pass: 'secret' });
});

afterAll(() => removeSite(site.dir));

function mboxStore(): MailStore {
  const settings = testSettings({ drop_path: site.spool, use_maildir: false });
  const paths = resolveMboxPaths(settings, { login: 'bob', user: 'bob', dropName: 'bob', dropPath: site.drop('bob'), info: {} });
  return new MboxStore(paths, settings, quietLog);
}

async function snapshot(store: MailStore) {
  const out: Record<string, { uidValidity: number; uidNext: number; msgs: [number, string, string][] }> = {};
  for (const f of await store.list()) {
    if (f.noselect) continue;
    const box = await store.open(f.name, { readOnly: true });
    const msgs: [number, string, string][] = [];
    for (const m of box.state.messages) msgs.push([m.uid, [...m.flags].sort().join(' '), (await box.read(m.uid)).toString('latin1')]);
    out[f.name] = { uidValidity: box.state.uidValidity, uidNext: box.state.uidNext, msgs };
    await box.close();
  }
  return out;
}

const convert = (to: string, ...extra: string[]) =>
  spawnSync(BIN.dmailctl, ['convert', 'bob', '--to', to, '-i', site.conf, ...extra], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });

describe('dmailctl convert', () => {
  it('moves a user from mbox to maildir and back with UIDs, flags and subscriptions kept', async () => {
    writeFileSync(site.drop('bob'), mbox([1, 2, 3, 4].map((i) => ({ text: simpleMessage(i) }))));
    const src = mboxStore();
    const inbox = await src.open('INBOX');
    await inbox.setFlags([inbox.state.messages[0]!.uid], 'add', ['\\Seen', 'Work']);
    await inbox.expunge([inbox.state.messages[1]!.uid]);
    await inbox.close();
    await src.create('Sent');
    await src.append('Sent', Buffer.from(simpleMessage(9)), ['\\Seen', '\\Answered'], new Date('2024-02-03T04:05:06Z'));
    await src.subscribe('Sent');
    const before = await snapshot(src);
    expect(before.INBOX!.msgs).toHaveLength(3);

    const r1 = convert('maildir');
    expect(r1.stderr + r1.stdout).toContain('Verified');
    expect(r1.status).toBe(0);
    expect(r1.stdout).toContain('Converted 4 messages in 2 folders');
    expect(r1.stdout).toContain('UIDs and UIDVALIDITY kept');
    const md = storeAt(join(maildirHome, 'bob.mdir'));
    expect(await snapshot(md)).toEqual(before);
    expect(await md.subscriptions()).toEqual(['Sent']);
    const left = await snapshot(mboxStore());
    expect(left.INBOX!.msgs).toHaveLength(0);
    expect(left.Sent).toBeUndefined();
    // Not a terminal: no progress bar escape sequences in the output.
    expect(r1.stderr).not.toContain('\r');
    expect(readdirSync(join(site.work, 'convert'))).toHaveLength(0);

    const r2 = convert('mbox');
    expect(r2.status, r2.stderr).toBe(0);
    const back = await snapshot(mboxStore());
    expect(Object.keys(back).sort()).toEqual(Object.keys(before).sort());
    for (const name of Object.keys(before)) {
      // Content and flags always survive; UIDs too when the mbox store can set them.
      expect(back[name]!.msgs.map((m) => m.slice(1))).toEqual(before[name]!.msgs.map((m) => m.slice(1)));
    }
    expect(await mboxStore().subscriptions()).toContain('Sent');
    expect(existsSync(join(maildirHome, 'bob.mdir', '.Sent'))).toBe(false);
  });

  it('draws a progress bar on a terminal', () => {
    writeFileSync(site.drop('bob'), mbox([1, 2, 3].map((i) => ({ text: simpleMessage(i) }))));
    // `script` gives the command a pseudo-terminal, as an administrator's shell would.
    const cmd = [BIN.dmailctl, 'convert', 'bob', '--to', 'maildir', '-i', site.conf, '--keep-source'].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8' });
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/\r\[#+\] 100% (\d+)\/\1 /);
  });

  it('rejects a bad --to and an unknown user', () => {
    expect(convert('tape').status).toBe(2);
    const r = spawnSync(BIN.dmailctl, ['convert', 'nobody', '--to', 'maildir', '-i', site.conf], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('nobody');
  });
});
