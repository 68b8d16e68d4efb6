// A full disk during a rewrite: the operation fails with a StoreError and the mailbox stays intact.
// Uses a tiny tmpfs (needs root / mount permission; skipped with a message otherwise).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, unlinkSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MboxStore } from '../../src/store/mbox/store.js';
import { resolveMboxPaths } from '../../src/store/paths.js';
import { StoreError } from '../../src/store/types.js';
import { defaultSettings, quietLog } from './helpers.js';
import { fromLineDate } from '../helpers/site.js';
import { appendFileSync } from 'node:fs';

let mnt = '';
let outside = '';
let mounted = false;

beforeAll(() => {
  outside = mkdtempSync(join(tmpdir(), 'store-enospc-'));
  mnt = join(outside, 'mnt');
  mkdirSync(mnt);
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt]);
  mounted = r.status === 0;
  if (!mounted) console.warn(`ENOSPC tests skipped: cannot mount a tmpfs (${r.stderr?.toString().trim()})`);
});
afterAll(() => {
  if (mounted) spawnSync('umount', [mnt]);
  rmSync(outside, { recursive: true, force: true });
});

const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');
const text = (i: number) => `Subject: m${i}\nMessage-ID: <e-${i}@x>\n\n` + `line ${i} `.repeat(3000) + '\n';

function setup(name: string, indexOutside: boolean) {
  const spool = join(mnt, name);
  mkdirSync(spool);
  const settings = defaultSettings({ drop_path: spool, lock_timeout: 5, ...(indexOutside ? { index_path: join(outside, name + '-idx') } : {}) });
  const paths = resolveMboxPaths(settings, { login: 'bob', user: 'bob', dropName: 'bob', info: {} });
  for (let i = 0; i < 20; i++) {
    appendFileSync(paths.inbox, `From a@b ${fromLineDate(new Date('2024-01-01T00:00:00Z'))}\n${text(i)}\n`);
  }
  return { settings, paths, store: () => new MboxStore(paths, settings, quietLog) };
}

async function fill(): Promise<string> {
  // Leave only a few KB free.
  const filler = join(mnt, 'filler');
  let size = 4 * 1024 * 1024;
  while (size > 4096) {
    try { appendFileSync(filler, Buffer.alloc(size)); } catch { size = Math.floor(size / 2); }
  }
  return filler;
}

async function intact(store: MboxStore, n: number): Promise<void> {
  const box = await store.open('INBOX');
  expect(box.state.messages).toHaveLength(n);
  for (let i = 0; i < n; i++) {
    expect((await box.read(box.state.messages[i]!.uid)).toString('latin1')).toBe(crlf(text(i)));
  }
  await box.close();
}

describe.skipIf(process.getuid?.() !== 0)('ENOSPC during rewrites', () => {
  it('new mail is readable with the index directory on the full disk (change log and view slots cannot be written)', async (ctx) => {
    if (!mounted) ctx.skip('cannot mount a tmpfs here');
    const { store, paths } = setup('c', false);
    await intact(store(), 20);
    appendFileSync(paths.inbox, `From a@b ${fromLineDate(new Date('2024-01-01T00:00:00Z'))}\n${text(20)}\n`);
    const filler = await fill();
    try {
      await intact(store(), 21);
      const box = await store().open('INBOX');
      // Its modseq could not be logged: it gets the mailbox's HIGHESTMODSEQ, never more.
      for (const m of box.state.messages) expect(m.modseq).toBeLessThanOrEqual(box.state.highestModseq);
      await box.close();
    } finally { unlinkSync(filler); }
  });

  for (const indexOutside of [false, true]) {
    it(`fails cleanly with the journal ${indexOutside ? 'on another disk' : 'on the full disk'}`, async (ctx) => {
      if (!mounted) ctx.skip('cannot mount a tmpfs here');
      const { store, paths } = setup(indexOutside ? 'b' : 'a', indexOutside);
      const s = store();
      const box = await s.open('INBOX');
      expect(box.state.messages).toHaveLength(20);
      const filler = await fill();
      try {
        const uids = box.state.messages.map((m) => m.uid);
                // Long keywords on every message grow the spool by ~36 KB: more than is free.
        const kws = Array.from({ length: 20 }, (_, k) => `Keyword${k}_` + 'k'.repeat(80));
        const err = await box.setFlags(uids, 'add', ['\\Seen', ...kws]).then(() => null, (e: unknown) => e);
        expect(err).toBeInstanceOf(StoreError);
        const err2 = await s.append('INBOX', Buffer.from(text(99).repeat(20))).then(() => null, (e: unknown) => e);
        expect(err2).toBeInstanceOf(StoreError);
        await intact(store(), 20);
        expect(existsSync(paths.indexDir) ? readdirSync(paths.indexDir).filter((f) => f.includes('journal')) : []).toEqual([]);
      } finally {
        unlinkSync(filler);
        // An open handle keeps its view slot (a file in the index directory) open: close it.
        await box.close();
      }
      // With space again the same change succeeds and nothing was lost.
      const box2 = await store().open('INBOX');
      await box2.setFlags([box2.state.messages[0]!.uid], 'add', ['\\Seen']);
      await box2.close();
      await intact(store(), 20);
      writeFileSync(join(mnt, 'probe'), 'x');
      unlinkSync(join(mnt, 'probe'));
    });
  }
});
