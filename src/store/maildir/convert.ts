// Moving one user's mail between two MailStores (mbox ↔ maildir) for `dmailctl convert`.
// Order of work, so that nothing can be lost: copy every folder (UIDs, UIDVALIDITY and flags kept when
// the destination can set UIDs), copy subscriptions, then verify every copied message by count, flags
// and SHA-256 of its bytes, and only then remove from the source exactly the messages verified. Mail
// delivered to the source meanwhile stays there (run convert again). A progress file makes a rerun after
// a crash continue where it stopped instead of copying twice.

import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { basename, dirname } from 'node:path';
import { replaceFile } from '../safe-file.js';
import type { Logger } from '../../log/types.js';
import { StoreError, type Flag, type MailStore } from '../types.js';

export interface UidItem {
  message: Buffer;
  flags: readonly Flag[];
  date: Date;
  uid: number;
}

/** Optional store methods that keep UIDs (the maildir store has them; see MaildirStore). */
export interface UidPreservingStore {
  appendWithUid(name: string, message: Buffer, flags: readonly Flag[], date: Date, uid: number): Promise<void>;
  setUidState(name: string, uidValidity: number, uidNext: number): Promise<void>;
  /** Optional: many at once (one index update per batch). */
  appendBatchWithUids?(name: string, items: readonly UidItem[]): Promise<void>;
}

/** Messages per batch and bytes per batch when the destination takes batches. */
const BATCH = 64;
const BATCH_BYTES = 16 * 1024 * 1024;

export function isUidPreserving(store: MailStore): store is MailStore & UidPreservingStore {
  const s = store as Partial<UidPreservingStore>;
  return typeof s.appendWithUid === 'function' && typeof s.setUidState === 'function';
}

export interface ConvertOptions {
  progressFile: string;
  removeSource: boolean;
  log: Logger;
  /** Called after each message copied or skipped. */
  onProgress?: (done: number, total: number, folder: string) => void;
}

export interface FolderReport {
  name: string;
  messages: number;
  uidsKept: boolean;
}

export interface ConvertReport {
  folders: FolderReport[];
  messages: number;
  subscriptions: number;
  removed: boolean;
  /** Messages that reached the source after the copy started; they were left in the source. */
  leftInSource: number;
}

interface FolderProgress {
  /** Source UID → destination UID of messages already copied. */
  map: Record<string, number>;
  uidValidity: number;
  uidsKept: boolean;
}

interface Progress {
  version: 1;
  folders: Record<string, FolderProgress>;
}

async function loadProgress(path: string): Promise<Progress> {
  try {
    const p = JSON.parse(await fsp.readFile(path, 'utf8')) as Progress;
    if (p.version === 1 && p.folders && typeof p.folders === 'object') return p;
  } catch {
    // none yet, or unreadable: start over (the destination check below still prevents duplicates
    // when UIDs are kept)
  }
  return { version: 1, folders: {} };
}

async function saveProgress(path: string, p: Progress): Promise<void> {
  await replaceFile(dirname(path), basename(path), JSON.stringify(p), { mkdirMode: 0o700, sync: false });
}

const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const flagKey = (flags: Iterable<string>) => [...flags].filter((f) => f !== '\\Recent').sort().join(' ');

/** Folders in an order where parents come before children (create) — reversed for removal. */
async function selectableFolders(store: MailStore): Promise<string[]> {
  const list = await store.list();
  const names = list.filter((f) => !f.noselect).map((f) => f.name);
  if (!names.includes('INBOX')) names.push('INBOX');
  return names.sort((a, b) => (a === 'INBOX' ? -1 : b === 'INBOX' ? 1 : a.split('/').length - b.split('/').length || (a < b ? -1 : 1)));
}

export async function convertStores(src: MailStore, dst: MailStore, opts: ConvertOptions): Promise<ConvertReport> {
  const progress = await loadProgress(opts.progressFile);
  const folders = await selectableFolders(src);
  // RFC 6154 special uses given at CREATE go along (special-use.ts).
  const uses = new Map((await src.list()).filter((f) => f.specialUse?.length).map((f) => [f.name, f.specialUse!]));
  // Count first so the progress bar has a total.
  const snapshots = new Map<string, number[]>();
  let total = 0;
  for (const name of folders) {
    const box = await src.open(name, { readOnly: true });
    snapshots.set(name, box.state.messages.map((m) => m.uid));
    total += box.state.messages.length;
    await box.close();
  }
  let done = 0;
  const report: ConvertReport = { folders: [], messages: 0, subscriptions: 0, removed: false, leftInSource: 0 };

  for (const name of folders) {
    const srcBox = await src.open(name, { readOnly: true });
    const state = srcBox.state;
    if (name !== 'INBOX') {
      const specialUse = uses.get(name);
      await dst.create(name, specialUse ? { specialUse } : {}).catch((e: unknown) => {
        if (!(e instanceof StoreError && e.code === 'ALREADYEXISTS')) throw e;
      });
    }
    let fp = progress.folders[name];
    if (!fp || fp.uidValidity !== state.uidValidity) {
      let uidsKept = false;
      if (isUidPreserving(dst)) {
        // Works only on an empty destination folder (or one we already started with these UIDs).
        uidsKept = await dst.setUidState(name, state.uidValidity, 1).then(() => true, () => false);
      }
      fp = { map: {}, uidValidity: state.uidValidity, uidsKept };
      progress.folders[name] = fp;
      await saveProgress(opts.progressFile, progress);
    }
    const dstBox = await dst.open(name, { readOnly: true });
    const present = new Set(dstBox.state.messages.map((m) => m.uid));
    await dstBox.close();
    let batch: UidItem[] = [];
    let batchBytes = 0;
    const flush = async () => {
      if (batch.length === 0 || !isUidPreserving(dst)) return;
      if (dst.appendBatchWithUids) await dst.appendBatchWithUids(name, batch);
      else for (const it of batch) await dst.appendWithUid(name, it.message, it.flags, it.date, it.uid);
      for (const it of batch) fp!.map[it.uid] = it.uid;
      done += batch.length;
      opts.onProgress?.(done, total, name);
      batch = [];
      batchBytes = 0;
      await saveProgress(opts.progressFile, progress);
    };
    let sinceSave = 0;
    for (const m of state.messages) {
      const already = fp.uidsKept ? present.has(m.uid) : fp.map[m.uid] !== undefined && present.has(fp.map[m.uid]!);
      if (already) {
        if (fp.uidsKept) fp.map[m.uid] = m.uid;
        done++;
        opts.onProgress?.(done, total, name);
        continue;
      }
      let body: Buffer;
      try {
        body = await srcBox.read(m.uid);
      } catch (e) {
        if (e instanceof StoreError && e.code === 'NONEXISTENT') { done++; continue; } // expunged meanwhile
        throw e;
      }
      const flags = [...m.flags].filter((f) => f !== '\\Recent');
      if (fp.uidsKept && isUidPreserving(dst)) {
        batch.push({ message: body, flags, date: m.internalDate, uid: m.uid });
        batchBytes += body.length;
        if (batch.length >= BATCH || batchBytes >= BATCH_BYTES) await flush();
        continue;
      }
      fp.map[m.uid] = (await dst.append(name, body, flags, m.internalDate)).uid;
      if (++sinceSave >= 50) { await saveProgress(opts.progressFile, progress); sinceSave = 0; }
      done++;
      opts.onProgress?.(done, total, name);
    }
    await flush();
    if (fp.uidsKept && isUidPreserving(dst)) await dst.setUidState(name, state.uidValidity, state.uidNext);
    await saveProgress(opts.progressFile, progress);
    await srcBox.close();
    report.folders.push({ name, messages: state.messages.length, uidsKept: fp.uidsKept });
    report.messages += state.messages.length;
  }

  const subs = await src.subscriptions();
  for (const s of subs) await dst.subscribe(s);
  report.subscriptions = subs.length;

  // Verify everything before touching the source.
  const verified = new Map<string, number[]>();
  const problems: string[] = [];
  for (const name of folders) {
    const fp = progress.folders[name]!;
    const srcBox = await src.open(name, { readOnly: true });
    const dstBox = await dst.open(name);
    let dstByUid = new Map(dstBox.state.messages.map((m) => [m.uid, m]));
    const ok: number[] = [];
    const wanted = new Set(snapshots.get(name) ?? []);
    // Flags are the source's current ones: a user may have read or flagged mail since it was copied
    // (or before an interrupted run). Bring the copies up to date, then compare.
    for (const m of srcBox.state.messages) {
      const d = fp.map[m.uid] === undefined ? undefined : dstByUid.get(fp.map[m.uid]!);
      if (wanted.has(m.uid) && d && flagKey(d.flags) !== flagKey(m.flags)) {
        dstByUid = new Map((await dstBox.setFlags([d.uid], 'replace', [...m.flags].filter((f) => f !== '\\Recent'))).messages.map((x) => [x.uid, x]));
      }
    }
    for (const m of srcBox.state.messages) {
      if (!wanted.has(m.uid)) continue;
      const du = fp.map[m.uid];
      const d = du === undefined ? undefined : dstByUid.get(du);
      if (!d) { problems.push(`${name}: UID ${m.uid} missing in the destination`); continue; }
      if (flagKey(d.flags) !== flagKey(m.flags)) problems.push(`${name}: UID ${m.uid} flags differ`);
      else if (digest(await srcBox.read(m.uid)) !== digest(await dstBox.read(d.uid))) problems.push(`${name}: UID ${m.uid} content differs`);
      else ok.push(m.uid);
    }
    // Counts: every source message of the snapshot that still exists has its copy in the destination.
    const srcCount = srcBox.state.messages.filter((m) => wanted.has(m.uid)).length;
    const dstCount = srcBox.state.messages.filter((m) => wanted.has(m.uid) && dstByUid.has(fp.map[m.uid] ?? 0)).length;
    if (srcCount !== dstCount) problems.push(`${name}: ${srcCount} messages in the source, ${dstCount} copied`);
    verified.set(name, ok);
    await srcBox.close();
    await dstBox.close();
  }
  if (problems.length > 0) {
    opts.log.error({ problems: problems.slice(0, 20) }, 'convert: verification failed; source left untouched');
    throw new Error(`verification failed, source left untouched:\n  ${problems.slice(0, 20).join('\n  ')}`);
  }

  if (opts.removeSource) {
    for (const name of [...folders].reverse()) {
      const box = await src.open(name);
      await box.expunge(verified.get(name) ?? []);
      const left = (await box.refresh()).messages.length;
      await box.close();
      report.leftInSource += left;
      if (name !== 'INBOX' && left === 0) {
        await src.delete(name).catch((e: unknown) => opts.log.warn({ folder: name, err: String(e) }, 'convert: source folder kept'));
      }
    }
    for (const s of subs) if (s !== 'INBOX') await src.unsubscribe(s).catch(() => undefined);
    report.removed = true;
    await fsp.unlink(opts.progressFile).catch(() => undefined);
  }
  return report;
}
