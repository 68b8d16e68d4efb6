// Issue 14: a process that answers LIST-STATUS again and again (a resident worker) remembers each
// folder's STATUS under the identities of the files it came from (src/store/mbox/quick-status.ts). Here
// every kind of change another session or another program can make to a folder happens between two
// LIST-STATUS of one session, and the second answer must be the truth (what a fresh session's STATUS
// says). DMAIL_STORE_RACY_MS=0 lets the server remember files at once (by default only files changed
// more than 2 s before they were read), so every second LIST-STATUS is answered from what was
// remembered wherever the files allow it — the case that could go stale.
//
// What one process remembered is also written down in the index directory (mbox: list-status.cache),
// for the next process (inetd: one per connection): a fresh session's LIST-STATUS after the changes must
// be the truth too, and that file is believed only when it is intact and a plain file of the user's.
import { linkSync, lstatSync, readdirSync, readFileSync, chmodSync, renameSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { inetdConnect } from '../helpers/inetd.js';
import { RESIDENT } from '../helpers/resident.js';
import { BIN, simpleMessage } from '../helpers/site.js';
import { TEST_STORE } from '../maildir/site-store.js';
import { haveProcmail, imapFixture, imapOver, last, procmailDeliver, type Imap } from './imap-client.js';

const fx = imapFixture();
const ENV = { DMAIL_STORE_RACY_MS: '0' };
const ITEMS = 'MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ';

async function session(t: ReturnType<typeof fx.site>, ...cmds: string[]): Promise<Imap> {
  const c = await imapOver(await inetdConnect(BIN.imapd, ['-i', t.site.conf], ENV));
  fx.onCleanup(() => c.close());
  expect(last(await c.login())).toMatch(/OK/);
  for (const x of cmds) expect(last(await c.cmd(x)), x).toMatch(/OK/);
  return c;
}

/** Every folder's STATUS line from one LIST-STATUS, by name. */
async function listStatus(c: Imap): Promise<Map<string, string>> {
  const lines = await c.cmd(`LIST "" "*" RETURN (STATUS (${ITEMS}))`);
  expect(last(lines)).toMatch(/OK/);
  const out = new Map<string, string>();
  for (const l of lines) {
    const m = /^\* STATUS "?([^"]+?)"? (\(.*\))$/.exec(l);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** The truth, from a session that never asked before (and STATUS, not LIST-STATUS). */
async function truth(t: ReturnType<typeof fx.site>, names: string[]): Promise<Map<string, string>> {
  const c = await session(t);
  const out = new Map<string, string>();
  for (const n of names) {
    const lines = await c.cmd(`STATUS ${n} (${ITEMS})`);
    expect(last(lines)).toMatch(/OK/);
    out.set(n, /^\* STATUS "?[^"]+?"? (\(.*\))$/.exec(lines[0]!)![1]!);
  }
  c.close();
  return out;
}

const append = (c: Imap, box: string, i: number, flags = '') => {
  const m = simpleMessage(i);
  return c.cmd(`APPEND ${box} ${flags}{${m.length}+}\r\n${m}`);
};

describe('LIST-STATUS answered again after another session or program changed a folder', () => {
  it('sees appends, flag changes, \\Recent claims, expunges, deliveries and a folder made anew', async () => {
    const t = fx.site(2);
    const names = ['INBOX', 'Add', 'Flags', 'Claim', 'Gone', 'Again', 'Quiet'];
    const asker = await session(t);
    const other = await session(t);
    for (const n of names.slice(1)) {
      expect(last(await other.cmd(`CREATE ${n}`))).toMatch(/OK/);
      for (let i = 1; i <= 3; i++) expect(last(await append(other, n, i, i === 1 ? '(\\Seen) ' : ''))).toMatch(/OK/);
    }
    const first = await listStatus(asker);
    expect(first).toEqual(await truth(t, names));
    // Twice the same: nothing changed, the same answer (from what was remembered).
    expect(await listStatus(asker)).toEqual(first);
    // A process that never asked (per connection: from what the asker wrote down).
    expect(await listStatus(await session(t))).toEqual(first);

    expect(last(await append(other, 'Add', 10))).toMatch(/OK/);
    // A flag change keeps the spool's size (our padded status headers are patched in place).
    expect(last(await other.cmd('SELECT Flags'))).toMatch(/OK/);
    expect(last(await other.cmd('STORE 2 +FLAGS.SILENT (\\Seen \\Deleted)'))).toMatch(/OK/);
    // SELECT claims \Recent: only the index changes.
    expect(last(await other.cmd('SELECT Claim'))).toMatch(/OK/);
    expect(last(await other.cmd('SELECT Gone'))).toMatch(/OK/);
    expect(last(await other.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)'))).toMatch(/OK/);
    expect(last(await other.cmd('EXPUNGE'))).toMatch(/OK/);
    expect(last(await other.cmd('CLOSE'))).toMatch(/OK/);
    // Deleted and made again under the same name: another UIDVALIDITY, other files.
    expect(last(await other.cmd('DELETE Again'))).toMatch(/OK/);
    expect(last(await other.cmd('CREATE Again'))).toMatch(/OK/);
    expect(last(await append(other, 'Again', 20))).toMatch(/OK/);

    // First a process that never asked, from what was written down before the changes; then the asker.
    const fresh = await listStatus(await session(t));
    const second = await listStatus(asker);
    const now = await truth(t, names);
    expect(fresh).toEqual(now);
    expect(second).toEqual(now);
    for (const n of ['Add', 'Flags', 'Claim', 'Gone', 'Again']) expect(second.get(n), n).not.toBe(first.get(n));
    expect(second.get('Quiet')).toBe(first.get('Quiet'));
  });

  it.skipIf(!haveProcmail)('sees procmail deliveries (another program) between two LIST-STATUS', async () => {
    const t = fx.site(2);
    const asker = await session(t, 'CREATE Folder');
    const before = await listStatus(asker);
    for (let i = 0; i < 3; i++) {
      await procmailDeliver(t, 30 + i);
      const fresh = await listStatus(await session(t));
      const got = await listStatus(asker);
      expect(got).toEqual(await truth(t, ['INBOX', 'Folder']));
      expect(fresh).toEqual(got);
      expect(got.get('INBOX')).toMatch(new RegExp(`MESSAGES ${3 + i} `));
    }
    expect(before.get('INBOX')).toMatch(/MESSAGES 2 /);
  });

  // The written-down answers are believed only from an intact plain file of the user's: shown by forging
  // one (a count the folder does not have, under the right identities and checksum), which a fresh
  // process believes as it is — its owner could as well forge the folder's own index — and not once the
  // file is writable by the group, has a second link, is a symlink or its checksum is wrong; the target
  // of a symlink is never written. mbox only (the maildir store keeps no such file); per connection
  // only (a resident worker reads the file once, before any of this).
  it.skipIf(TEST_STORE !== 'mbox' || RESIDENT)('believes the written-down answers only from an intact plain file of the user\'s', async () => {
    const t = fx.site(2);
    const asker = await session(t, 'CREATE Box');
    for (let i = 1; i <= 3; i++) expect(last(await append(asker, 'Box', i))).toMatch(/OK/);
    const real = await listStatus(asker);
    expect(real.get('Box')).toMatch(/^\(MESSAGES 3 /);
    const file = findFile(t.site.dir, 'list-status.cache');
    expect(file, 'list-status.cache written').toBeTruthy();
    const fresh = async () => (await listStatus(await session(t))).get('Box');

    // Forged: Box claims 99 messages (the file's layout: quick-status.ts).
    const forged = Buffer.from(readFileSync(file!));
    const n = Number(forged.toString('latin1', 16, 24));
    const names = forged.toString('utf8', 25).split('\n');
    const e = names.findIndex((x, i) => i % 3 === 0 && x === 'F.Box.idx') / 3;
    expect(e).toBeGreaterThanOrEqual(0);
    const numsAt = forged.length - n * 27 * 8;
    expect(forged.readDoubleLE(numsAt + (e * 27 + 16) * 8)).toBe(3);
    forged.writeDoubleLE(99, numsAt + (e * 27 + 16) * 8);
    forged.write((zlib.crc32(forged.subarray(16)) >>> 0).toString(16).padStart(8, '0'), 7, 'latin1');
    writeFileSync(file!, forged);
    expect(await fresh()).toMatch(/^\(MESSAGES 99 /);

    chmodSync(file!, 0o660);
    expect(await fresh()).toBe(real.get('Box'));
    chmodSync(file!, 0o600);
    linkSync(file!, file + '.link');
    expect(await fresh()).toBe(real.get('Box'));
    unlinkSync(file + '.link');
    // A byte changed after the checksum.
    writeFileSync(file!, Buffer.concat([forged.subarray(0, forged.length - 2), Buffer.from(' ]')]));
    expect(await fresh()).toBe(real.get('Box'));
    // A symlink to a forged file elsewhere: not read, and not written through.
    const elsewhere = join(t.site.dir, 'elsewhere');
    writeFileSync(elsewhere, forged, { mode: 0o600 });
    unlinkSync(file!);
    symlinkSync(elsewhere, file!);
    expect(await fresh()).toBe(real.get('Box'));
    expect(readFileSync(elsewhere).equals(forged)).toBe(true);
    expect(lstatSync(file!).isSymbolicLink()).toBe(true);
    // Put back as a plain file: believed again (the checks above refused the file, not the forgery).
    unlinkSync(file!);
    renameSync(elsewhere, file!);
    expect(await fresh()).toMatch(/^\(MESSAGES 99 /);
  });
});

function findFile(dir: string, name: string): string | undefined {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const f = findFile(p, name);
      if (f) return f;
    } else if (e.name === name) {
      return p;
    }
  }
  return undefined;
}
