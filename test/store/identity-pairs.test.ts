// The mbox backend's facts identities asked in batches (FETCH and SEARCH ask factsAll for up to 512 / 256
// messages at a time): a batch that starts in the middle of the mailbox, UIDs out of order, UIDs that do
// not exist, before and after a write (the index read as columns, then as records) — each message gets
// its own facts, the same as asked one by one.
import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Mailbox } from '../../src/store/types.js';
import { tempUser, type TempUser } from './helpers.js';

/** Bytes of the facts files under `dir` (a message whose identity was not matched is parsed again and
 *  its record appended: the files grow). */
function factsBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.facts')) n += statSync(join(e.parentPath ?? e.path, e.name)).size;
  }
  return n;
}
const settle = () => new Promise((r) => setTimeout(r, 250)); // the facts file's write-behind (100 ms)

describe('mbox facts in batches', () => {
  let u: TempUser | null = null;
  afterEach(() => { u?.cleanup(); u = null; });

  it('answers each UID of a batch that starts anywhere, in any order, as alone', async () => {
    u = tempUser();
    for (let i = 1; i <= 40; i++) u.deliver(`From: a${i}@example.com\nSubject: message ${i}\nMessage-ID: <m${i}@x>\n\nbody ${i}\n`);
    const batches = [[17, 18, 19, 20], [33, 2, 34, 35, 1], [40, 99, 39], [25, 25, 26], [41, 5]];
    const check = async (box: Mailbox) => {
      for (const uids of batches) {
        const got = await box.factsAll(uids, { envelope: true });
        const alone = [];
        for (const uid of uids) alone.push(...(await box.factsAll([uid], { envelope: true })));
        expect(got).toEqual(alone);
        for (let i = 0; i < uids.length; i++) {
          expect(got[i]!.uid).toBe(uids[i]);
          if (uids[i]! <= 40) expect(got[i]!.envelope).toContain(`"message ${uids[i]}"`);
          else expect(got[i]!.exists).toBe(false);
        }
      }
    };
    const first = await u.store().open('INBOX');
    await check(first); // parsed, then cached
    await first.close();
    await settle();
    const size = factsBytes(u.dir);
    expect(size).toBeGreaterThan(0);
    // A new open reads the index file as columns: every identity matched, nothing parsed again.
    const box = await u.store().open('INBOX');
    try {
      await check(box);
      await settle();
      expect(factsBytes(u.dir)).toBe(size);
      // A write (the index then as records; the status header changes message 3's bytes, so its
      // facts are made again once), then the same from the file.
      await box.setFlags([3], 'add', ['\\Seen']);
      await check(box);
      await settle();
      const after = factsBytes(u.dir);
      await check(box);
      await settle();
      expect(factsBytes(u.dir)).toBe(after);
    } finally {
      await box.close();
    }
  });
});
