// convertStores: copy, verify by counts + SHA-256, then remove only what was verified; resumable.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertStores } from '../../src/store/maildir/convert.js';
import type { Mailbox, MailStore } from '../../src/store/types.js';
import { quietLog, storeAt, tempDir } from './fixture.js';

const dirs: string[] = [];
const fresh = () => { const d = tempDir(); dirs.push(d); return d; };
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

const msg = (i: number) => `From: a${i}@example.com\r\nSubject: c${i}\r\n\r\nbody ${i}\r\n`;

async function snapshot(store: MailStore) {
  const out: Record<string, { uidValidity: number; uidNext: number; msgs: [number, string, string][] }> = {};
  for (const f of await store.list()) {
    if (f.noselect) continue;
    const box = await store.open(f.name, { readOnly: true });
    const msgs: [number, string, string][] = [];
    for (const m of box.state.messages) msgs.push([m.uid, [...m.flags].sort().join(' '), (await box.read(m.uid)).toString()]);
    out[f.name] = { uidValidity: box.state.uidValidity, uidNext: box.state.uidNext, msgs };
    await box.close();
  }
  return out;
}

async function populate(root: string): Promise<MailStore> {
  const s = storeAt(root);
  for (let i = 1; i <= 5; i++) await s.append('INBOX', Buffer.from(msg(i)), i % 2 ? ['\\Seen', `kw${i}`] : []);
  const box = await s.open('INBOX');
  await box.expunge([2]);
  await box.close();
  await s.create('Sent', { specialUse: ['\\Sent'] });
  await s.create('Archive/2024');
  await s.append('Archive/2024', Buffer.from(msg(10)), ['\\Flagged', '\\Answered']);
  await s.subscribe('Sent');
  await s.subscribe('Archive/2024');
  return s;
}

/** A destination that fails after `n` messages, like a crash or a full disk half-way (a batch is
 *  written up to the failing message, then the error). */
function failingAfter(store: MailStore, n: number): MailStore {
  let left = n;
  const guard = () => { if (left-- <= 0) throw new Error('simulated crash'); };
  return new Proxy(store, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv) as unknown;
      if (typeof v !== 'function') return v;
      const f = v as (...a: unknown[]) => Promise<unknown>;
      if (prop === 'append' || prop === 'appendWithUid') {
        return async (...args: unknown[]) => { guard(); return f.apply(target, args); };
      }
      if (prop === 'appendBatchWithUids') {
        return async (name: string, items: unknown[]) => {
          const ok = items.slice(0, Math.max(0, left));
          if (ok.length > 0) await f.call(target, name, ok);
          left -= ok.length;
          if (ok.length < items.length) throw new Error('simulated crash');
        };
      }
      return f.bind(target);
    },
  });
}

/** A plain MailStore view (no UID-keeping methods), as the mbox store may be. */
function plain(store: MailStore): MailStore {
  return {
    open: (n, o) => store.open(n, o), status: (n) => store.status(n), statusMany: (n) => store.statusMany(n),
    append: (n, m, f, d) => store.append(n, m, f, d), appendMany: (n, items) => store.appendMany(n, items), copy: (f, u, t) => store.copy(f, u, t),
    list: () => store.list(), create: (n) => store.create(n), delete: (n) => store.delete(n),
    rename: (a, b) => store.rename(a, b), subscriptions: () => store.subscriptions(),
    subscribe: (n) => store.subscribe(n), unsubscribe: (n) => store.unsubscribe(n), usage: () => store.usage(),
    watchMailbox: (n, f) => store.watchMailbox(n, f), watchFolders: (f) => store.watchFolders(f),
    urlauthKey: (n, c) => store.urlauthKey(n, c), resetUrlauthKeys: (n) => store.resetUrlauthKeys(n),
  };
}

describe('convertStores', () => {
  it('moves everything with UIDs, UIDVALIDITY, flags and subscriptions, then empties the source', async () => {
    const srcRoot = fresh();
    const dstRoot = fresh();
    const src = await populate(srcRoot);
    const before = await snapshot(src);
    const progressFile = join(fresh(), 'progress.json');
    const seen: number[] = [];
    const report = await convertStores(src, storeAt(dstRoot), { progressFile, removeSource: true, log: quietLog, onProgress: (d) => seen.push(d) });
    expect(report.messages).toBe(5);
    expect(report.folders.every((f) => f.uidsKept)).toBe(true);
    expect(seen[seen.length - 1]).toBe(5);
    expect(await snapshot(storeAt(dstRoot))).toEqual(before);
    expect((await storeAt(dstRoot).subscriptions()).sort()).toEqual(['Archive/2024', 'Sent']);
    expect((await storeAt(dstRoot).list()).filter((f) => f.specialUse).map((f) => [f.name, f.specialUse])).toEqual([['Sent', ['\\Sent']]]);
    const after = await snapshot(src);
    expect(Object.keys(after)).toEqual(['INBOX']);
    expect(after.INBOX!.msgs).toHaveLength(0);
    expect(existsSync(progressFile)).toBe(false);
  });

  it('resumes after a crash without copying anything twice', async () => {
    const srcRoot = fresh();
    const dstRoot = fresh();
    const src = await populate(srcRoot);
    const before = await snapshot(src);
    const progressFile = join(fresh(), 'progress.json');
    await expect(convertStores(src, failingAfter(storeAt(dstRoot), 2), { progressFile, removeSource: true, log: quietLog }))
      .rejects.toThrow('simulated crash');
    expect(existsSync(progressFile)).toBe(true);
    expect(await snapshot(src)).toEqual(before); // source untouched
    // Meanwhile the user reads and flags mail in the source: the rerun carries the new flags over.
    const box = await src.open('INBOX');
    await box.setFlags([1, 3], 'add', ['\\Flagged', 'later']);
    await box.close();
    const now = await snapshot(src);
    expect(now).not.toEqual(before);
    await convertStores(src, storeAt(dstRoot), { progressFile, removeSource: true, log: quietLog });
    expect(await snapshot(storeAt(dstRoot))).toEqual(now);
  });

  it('falls back to new UIDs on a store that cannot set them, still verified', async () => {
    const srcRoot = fresh();
    const dstRoot = fresh();
    const src = await populate(srcRoot);
    const before = await snapshot(src);
    const report = await convertStores(src, plain(storeAt(dstRoot)), { progressFile: join(fresh(), 'p.json'), removeSource: false, log: quietLog });
    expect(report.folders.some((f) => f.uidsKept)).toBe(false);
    const after = await snapshot(storeAt(dstRoot));
    expect(after.INBOX!.msgs.map((m) => m.slice(1))).toEqual(before.INBOX!.msgs.map((m) => m.slice(1)));
    expect(await snapshot(src)).toEqual(before); // --keep-source
  });

  it('refuses to remove anything when a copy does not verify, and keeps mail that arrives meanwhile', async () => {
    const srcRoot = fresh();
    const dstRoot = fresh();
    const src = await populate(srcRoot);
    const before = await snapshot(src);
    const corrupt = new Proxy(storeAt(dstRoot), {
      get(target, prop, recv) {
        const v = Reflect.get(target, prop, recv) as unknown;
        if (prop !== 'open') return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        return async (name: string, o: unknown) => {
          const box = await target.open(name, o as never);
          return new Proxy(box, {
            get(b, p, r) {
              const f = Reflect.get(b, p, r) as unknown;
              if (p === 'read') return async (uid: number) => Buffer.concat([await b.read(uid), Buffer.from('x')]);
              return typeof f === 'function' ? (f as (...a: unknown[]) => unknown).bind(b) : f;
            },
          }) as Mailbox;
        };
      },
    });
    await expect(convertStores(src, corrupt, { progressFile: join(fresh(), 'p.json'), removeSource: true, log: quietLog }))
      .rejects.toThrow(/content differs/);
    expect(await snapshot(src)).toEqual(before);

    // A message delivered to the source during the conversion is not in the snapshot: it stays.
    const dst2 = fresh();
    let delivered = false;
    const report = await convertStores(src, storeAt(dst2), {
      progressFile: join(fresh(), 'p.json'), removeSource: true, log: quietLog,
      onProgress: () => {
        if (delivered) return;
        delivered = true; // synchronously, like an MDA racing the copy: tmp/ then rename into new/
        writeFileSync(join(srcRoot, 'tmp', 'late.1.host'), 'Subject: late\n\nlate\n');
        renameSync(join(srcRoot, 'tmp', 'late.1.host'), join(srcRoot, 'new', 'late.1.host'));
      },
    });
    expect(report.leftInSource).toBe(1);
    const left = await snapshot(src);
    expect(left.INBOX!.msgs).toHaveLength(1);
    expect(left.INBOX!.msgs[0]![2]).toContain('late');
  });
});
