// dmail-index, the per-mailbox cache of INTERNALDATE and RFC822.SIZE: used when it matches
// dovecot-uidlist, ignored (and rewritten) when it is damaged, stale or for another UIDVALIDITY.
import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FACTS_FILE, readFacts } from '../../src/store/maildir/facts-cache.js';
import type { MailboxState } from '../../src/store/types.js';
import { mdaDeliver, storeAt, tempDir } from './fixture.js';

const roots: string[] = [];
afterEach(() => { for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true }); });

const REAL = new Date('2024-05-06T07:08:09Z');
const CACHED = new Date('2001-02-03T04:05:06Z');
const msg = (i: number) => `From: a@example.com\nSubject: m${i}\nX-UIDL: uidl-${i}\n\nbody ${i}\n`;

/** A maildir with three MDA deliveries, all with mtime REAL, numbered by a first session. */
async function numbered(): Promise<{ root: string; first: MailboxState }> {
  const root = tempDir();
  roots.push(root);
  for (let i = 1; i <= 3; i++) await mdaDeliver(root, msg(i));
  for (const f of readdirSync(join(root, 'new'))) utimesSync(join(root, 'new', f), REAL, REAL);
  const box = await storeAt(root).open('INBOX', { claimRecent: true });
  const first = box.state;
  await box.close();
  return { root, first };
}

const view = (s: MailboxState) => s.messages.map((m) => ({ uid: m.uid, size: m.size, date: m.internalDate.getTime(), uidl: m.uidl }));

async function reopen(root: string): Promise<MailboxState> {
  const box = await storeAt(root).open('INBOX', { readOnly: true });
  const s = box.state;
  await box.close();
  return s;
}

/** Rewrite the cache file, changing every record's date to CACHED (and the header by `header`). */
function forge(root: string, header: (h: string) => string = (h) => h, uidShift = 0): void {
  const path = join(root, FACTS_FILE);
  const lines = readFileSync(path, 'utf8').split('\n');
  const out = lines.map((l, i) => {
    if (i === 0) return header(l);
    const m = /^(\d+) (\d+) (\d+) (.+)$/.exec(l);
    return m ? `${Number(m[1]) + uidShift} ${CACHED.getTime()} ${m[3]} ${m[4]}` : l;
  });
  writeFileSync(path, out.join('\n'));
}

describe('dmail-index', () => {
  it('is written by the first session and gives a later one the same dates, sizes and UIDLs', async () => {
    const { root, first } = await numbered();
    expect(view(first).map((m) => m.date)).toEqual([REAL.getTime(), REAL.getTime(), REAL.getTime()]);
    const facts = await readFacts(root, first.uidValidity);
    expect([...facts.values()].map((f) => f.uid)).toEqual([1, 2, 3]);
    expect(view(await reopen(root))).toEqual(view(first));
    expect(view(first).map((m) => m.uidl)).toEqual(['uidl-1', 'uidl-2', 'uidl-3']);
  });

  it('is what a later session believes while it matches the uidlist (so it really saves the stats)', async () => {
    const { root } = await numbered();
    forge(root);
    expect(view(await reopen(root)).map((m) => m.date)).toEqual([CACHED.getTime(), CACHED.getTime(), CACHED.getTime()]);
  });

  it('is ignored for records whose UID no longer matches the uidlist', async () => {
    const { root, first } = await numbered();
    forge(root, (h) => h, 100);
    expect(view(await reopen(root))).toEqual(view(first));
  });

  it('is ignored under another UIDVALIDITY', async () => {
    const { root, first } = await numbered();
    forge(root, (h) => h.replace(/V\d+/, 'V12345'));
    expect(view(await reopen(root))).toEqual(view(first));
  });

  it.each([
    ['cut short (no END line)', (t: string) => t.replace(/END\n$/, '')],
    ['cut in a record', (t: string) => t.slice(0, t.indexOf('\n', t.indexOf('\n') + 1) + 5)],
    ['a wrong count', (t: string) => t.replace(/C3/, 'C2')],
    ['garbage', () => '\u0000\u0001binary junk\n'],
    ['empty', () => ''],
  ])('a damaged file (%s) is ignored and replaced by a good one', async (_what, damage) => {
    const { root, first } = await numbered();
    forge(root); // a damaged file must not be believed even in part: its dates are all wrong
    const path = join(root, FACTS_FILE);
    writeFileSync(path, damage(readFileSync(path, 'utf8')));
    expect(view(await reopen(root))).toEqual(view(first));
    expect((await readFacts(root, first.uidValidity)).size).toBe(3);
  });

  it('learns new deliveries and drops expunged messages when it is rewritten', async () => {
    const { root } = await numbered();
    const box = await storeAt(root).open('INBOX', { claimRecent: true });
    expect(await box.expunge([2])).toEqual([2]);
    await mdaDeliver(root, msg(4));
    const st = await box.refresh();
    expect(st.messages.map((m) => m.uid)).toEqual([1, 3, 4]);
    await box.close();
    const facts = await readFacts(root, st.uidValidity);
    expect([...facts.values()].map((f) => f.uid).sort()).toEqual([1, 3, 4]);
    expect(view(await reopen(root))).toEqual(view(st));
  });

  it('leaves no temporary file behind', async () => {
    const { root } = await numbered();
    await reopen(root);
    expect(readdirSync(root).filter((f) => f.startsWith(FACTS_FILE))).toEqual([FACTS_FILE]);
  });
});
