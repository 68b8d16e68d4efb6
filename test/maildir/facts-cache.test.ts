// dmail-index, the per-mailbox cache of INTERNALDATE and RFC822.SIZE: used when it matches
// dovecot-uidlist, ignored (and rewritten) when it is damaged, stale or for another UIDVALIDITY.
import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { FACTS_FILE, readFacts, readIndex, writeIndex, type MailboxIndex } from '../../src/store/maildir/facts-cache.js';
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

/** Rewrite the cache file (well-formed, checksum and all), every record's date changed to CACHED. */
async function forge(root: string, change: (i: MailboxIndex) => void = () => undefined): Promise<void> {
  const index = await readIndex(root);
  expect(index).toBeDefined();
  for (const r of index!.records) r.date = CACHED.getTime();
  change(index!);
  expect(await writeIndex(root, index!)).toBe(true);
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
    await forge(root);
    expect(view(await reopen(root)).map((m) => m.date)).toEqual([CACHED.getTime(), CACHED.getTime(), CACHED.getTime()]);
  });

  it('is ignored for records whose UID no longer matches the uidlist', async () => {
    const { root, first } = await numbered();
    await forge(root, (i) => { for (const r of i.records) r.uid += 100; i.uidNext += 100; });
    expect(view(await reopen(root))).toEqual(view(first));
  });

  it('is ignored under another UIDVALIDITY', async () => {
    const { root, first } = await numbered();
    await forge(root, (i) => { i.uidValidity = 12345; });
    expect(view(await reopen(root))).toEqual(view(first));
  });

  it.each([
    ['cut short (no END line)', (t: string) => t.replace(/END\n$/, '')],
    ['cut in a record', (t: string) => t.slice(0, t.indexOf('\n', t.indexOf('\n') + 1) + 5)],
    ['a wrong count', (t: string) => t.replace(/C3/, 'C2')],
    ['garbage', () => '\u0000\u0001binary junk\n'],
    ['empty', () => ''],
    ['a changed digit (checksum)', (t: string) => t.replace(/\n1 (\d)/, (_m, d: string) => `\n1 ${(Number(d) + 1) % 10}`)],
  ])('a damaged file (%s) is ignored and replaced by a good one', async (_what, damage) => {
    const { root, first } = await numbered();
    await forge(root); // a damaged file must not be believed even in part: its dates are all wrong
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

  it('an index from before mod-sequences (DMAILIDX2) is ignored and rewritten with them', async () => {
    const { root, first } = await numbered();
    await forge(root);
    const path = join(root, FACTS_FILE);
    // The same file in the old format: no M header field, no modseq column, checksum to match.
    const [head, ...rest] = readFileSync(path, 'utf8').split('\n');
    const body = rest.slice(0, -2).map((l) => l.replace(/^(\d+) \d+ /, '$1 ')).map((l) => `${l}\n`).join('');
    const sum = createHash('sha1').update(body).digest('hex');
    writeFileSync(path, `${head!.replace('DMAILIDX3', 'DMAILIDX2').replace(/ M\d+/, '').replace(/H[0-9a-f]{40}/, `H${sum}`)}\n${body}END\n`);
    expect(await readIndex(root)).toBeUndefined();
    const again = await reopen(root);
    expect(view(again)).toEqual(view(first)); // the forged dates were not believed
    expect(readFileSync(path, 'utf8')).toMatch(/^DMAILIDX3 /);
    expect((await readIndex(root))!.records.map((r) => r.modseq)).toEqual(again.messages.map((m) => m.modseq));
  });

  it('gives the same mod-sequences when it is lost (they come from the change log)', async () => {
    const { root } = await numbered();
    const box = await storeAt(root).open('INBOX');
    await box.setFlags([2], 'add', ['\\Flagged']);
    await box.close();
    const withIndex = await reopen(root);
    expect(withIndex.messages[1]!.modseq).toBeGreaterThan(withIndex.messages[0]!.modseq);
    rmSync(join(root, FACTS_FILE));
    const without = await reopen(root);
    expect(without.messages.map((m) => m.modseq)).toEqual(withIndex.messages.map((m) => m.modseq));
    expect(without.highestModseq).toBe(withIndex.highestModseq);
  });

  it('leaves no temporary file behind', async () => {
    const { root } = await numbered();
    await reopen(root);
    expect(readdirSync(root).filter((f) => f.startsWith(FACTS_FILE))).toEqual([FACTS_FILE]);
  });
});

describe('dmail-index as a snapshot of an unchanged mailbox', () => {
  const OLD = new Date(Date.now() - 3600_000);
  /** Make every identity the snapshot depends on old enough to be trusted (see MaildirMailbox.stamp). */
  function age(root: string): void {
    for (const p of ['new', 'cur', 'dovecot-uidlist', 'dovecot-keywords', 'dmail-modlog']) {
      try { utimesSync(join(root, p), OLD, OLD); } catch { /* no keywords file */ }
    }
  }
  const full = (s: MailboxState) => ({
    uidValidity: s.uidValidity, uidNext: s.uidNext, keywords: s.keywords,
    messages: s.messages.map((m) => ({ ...view({ ...s, messages: [m] })[0], flags: [...m.flags].sort(), recent: m.recent })),
  });

  /** Three messages, one \Seen with a keyword, plus one left in new/ by a read-only session. */
  async function varied(): Promise<string> {
    const { root } = await numbered();
    const box = await storeAt(root).open('INBOX', { claimRecent: true });
    await box.setFlags([1], 'add', ['\\Seen', 'work']);
    await box.close();
    await mdaDeliver(root, msg(4));
    await reopen(root);
    age(root);
    return root;
  }

  it('opens identically from the snapshot, and really uses it while nothing changed', async () => {
    const root = await varied();
    const first = await reopen(root); // full look: writes the snapshot with the (old) stamp
    expect((await readIndex(root))?.stamp).not.toBe('');
    const second = await reopen(root);
    expect(full(second)).toEqual(full(first));
    expect(full(second).messages.map((m) => m.recent)).toEqual([false, false, false, true]);
    expect(full(second).messages[0]!.flags).toEqual(['\\Seen', 'work']);

    // Proof that the listing was skipped: a change hidden from the stamp (mtime put back) is not seen.
    const cur = readdirSync(join(root, 'cur')).find((f) => f.includes(':2,S'))!;
    renameSync(join(root, 'cur', cur), join(root, 'cur', `${cur}F`));
    age(root);
    expect(full(await reopen(root)).messages[0]!.flags).toEqual(['\\Seen', 'work']);
    // An honest change moves the stamp: the full look sees it.
    const now = new Date();
    utimesSync(join(root, 'cur'), now, now);
    expect(full(await reopen(root)).messages[0]!.flags).toEqual(['\\Flagged', '\\Seen', 'work']);
  });

  it('is not used after a delivery, an expunge by another process or a new UIDVALIDITY', async () => {
    const root = await varied();
    await reopen(root);
    await mdaDeliver(root, msg(5));
    expect((await reopen(root)).messages.map((m) => m.uid)).toEqual([1, 2, 3, 4, 5]);
    age(root);
    await reopen(root);
    const victim = readdirSync(join(root, 'cur'))[0]!;
    rmSync(join(root, 'cur', victim));
    expect((await reopen(root)).messages).toHaveLength(4);
    rmSync(join(root, 'dovecot-uidlist'));
    const fresh = await reopen(root);
    expect(fresh.messages).toHaveLength(4);
    expect(fresh.messages.map((m) => m.uid)).toEqual([1, 2, 3, 4]);
  });

  it('a session that claims \\Recent still moves new/ messages to cur/', async () => {
    const root = await varied();
    await reopen(root);
    expect((await readIndex(root))?.records.some((r) => r.sub === 'new')).toBe(true);
    const box = await storeAt(root).open('INBOX', { claimRecent: true });
    expect(box.state.messages.map((m) => m.recent)).toEqual([false, false, false, true]);
    await box.close();
    expect(readdirSync(join(root, 'new'))).toEqual([]);
  });
});
