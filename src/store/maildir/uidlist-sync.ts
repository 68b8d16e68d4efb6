// Reading dovecot-uidlist, and changing it under its dot-lock with an atomic replace. A missing or
// unusable file is recreated with a fresh UIDVALIDITY taken from the root's dovecot-uidvalidity
// counter (hex, shared with Dovecot) so that a re-created mailbox never reuses an old UIDVALIDITY.

import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { withDotlock } from './dotlock.js';
import { ProcessCache } from '../process-cache.js';
import { DOVECOT_UIDVALIDITY, nextUidValidity as sharedNextUidValidity } from '../uidvalidity.js';
import type { MaildirEnv } from './env.js';
import { finishDelivery } from './deliver-intent.js';
import { emptyUidList, formatRecord, formatUidList, readUidList, UIDLIST, uidListStamp, type SharedUidList, type UidList, type UidListFile } from './uidlist.js';

export const UIDVALIDITY_FILE = DOVECOT_UIDVALIDITY;

/** Parsed uidlists by path, valid while the file's identity (inode, size, mtime) is unchanged: a
 *  session that appends many messages parses a 100 000-line file once, not once per message. Callers
 *  get copies, so a failed change never leaves the cache holding something that is not on disk.
 *  A per-process cache (store/process-cache.ts): an open MaildirMailbox holds its list (holdUidList);
 *  lists of folders no session has open share the process's idle budget (`resident_cache_size`). */
const cache = new ProcessCache<string, { stamp: string; list: UidList; appendable: boolean }>('maildir-uidlist');

/** What a parsed list keeps alive, estimated: record objects, their strings, array and map slots. */
function listBytes(l: UidList): number {
  let b = 256 + l.extraHeader.length * 64;
  for (const r of l.records) {
    b += 160 + 2 * r.base.length;
    for (const x of r.ext) b += 32 + 2 * x.length;
  }
  return b;
}

function remember(path: string, entry: { stamp: string; list: UidList; appendable: boolean }): void {
  cache.set(path, entry, listBytes(entry.list));
}

/** An open mailbox keeps its parsed uidlist cached until the returned function runs (its close()). */
export function holdUidList(dir: string): () => void {
  return cache.hold(join(dir, UIDLIST));
}

function cloneList(l: UidList): UidList {
  const records = l.records.slice();
  return { ...l, extraHeader: l.extraHeader.slice(), records, byBase: new Map(records.map((r) => [r.base, r])) };
}

async function readCached(path: string): Promise<UidListFile> {
  const c = cache.get(path);
  if (c && c.stamp === (await uidListStamp(path))) {
    return { list: cloneList(c.list), stamp: c.stamp, appendable: c.appendable };
  }
  const r = await readUidList(path);
  if (r.list) remember(path, { stamp: r.stamp, list: cloneList(r.list), appendable: r.appendable });
  else cache.delete(path);
  return r;
}

/** The list for reading only: the cached one itself when the file is unchanged (no copy of its records
 *  and map per refresh), else the one just parsed. Never change it (SharedUidList); changes go through
 *  lockedUidList, which works on a copy. */
export async function loadUidList(dir: string): Promise<{ list: SharedUidList | undefined; stamp: string }> {
  const path = join(dir, UIDLIST);
  const c = cache.get(path);
  if (c && c.stamp === (await uidListStamp(path))) return { list: c.list, stamp: c.stamp };
  const r = await readUidList(path);
  if (!r.list) {
    cache.delete(path);
    return { list: undefined, stamp: r.stamp };
  }
  // The cache keeps this very list: nobody changes a shared one, and lockedUidList copies before it changes.
  remember(path, { stamp: r.stamp, list: r.list, appendable: r.appendable });
  return { list: r.list, stamp: r.stamp };
}

/** Dovecot's per-root counter, shared (store/uidvalidity.ts): never a value handed out before. */
export async function nextUidValidity(root: string): Promise<number> {
  return sharedNextUidValidity(root, UIDVALIDITY_FILE);
}

/** Run `change` on the current list while holding the lock; writes the list when it returns true.
 *  When `change` only added records after the existing ones, they are appended to the file (as
 *  Dovecot does) instead of rewriting it: a 100 000-message uidlist costs one short write per new
 *  message. Readers ignore a last line without its newline, and a writer that finds one (a crash in
 *  the middle of an append) rewrites the whole file through a temporary file instead. */
export async function lockedUidList(dir: string, env: MaildirEnv, change: (list: UidList) => Promise<boolean>): Promise<UidList> {
  const path = join(dir, UIDLIST);
  return withDotlock(path, env.lock, async (lock) => {
    // A multi-message delivery a killed process committed to is completed before anything else.
    await finishDelivery(dir, env.log);
    const read = await readCached(path);
    let list = read.list;
    let created = false;
    if (!list) {
      list = emptyUidList(await nextUidValidity(env.root));
      created = true;
      // Dovecot does the same with a file it cannot parse: new UIDVALIDITY, clients re-sync.
      if (read.stamp !== 'none') env.log.warn({ path }, 'maildir: unreadable dovecot-uidlist replaced; UIDVALIDITY changes');
    }
    const before = list.records.slice();
    const header = [list.uidValidity, list.nextUid, list.guid, list.extraHeader.join(' ')];
    const changed = await change(list);
    if (!changed && !created) return list;
    const last = list.records[list.records.length - 1]?.uid ?? 0;
    const onlyAdded = !created && read.appendable
      && list.records.length > before.length && before.every((r, i) => list.records[i] === r)
      && list.uidValidity === header[0] && list.guid === header[2] && list.extraHeader.join(' ') === header[3]
      && (list.nextUid === header[1] || list.nextUid === last + 1);
    cache.delete(path);
    let stamp: string;
    if (onlyAdded) {
      const fh = await fsp.open(path, 'a');
      try {
        await fh.write(list.records.slice(before.length).map(formatRecord).join(''));
        await fh.datasync();
        const st = await fh.stat({ bigint: true });
        stamp = `${st.ino}:${st.size}:${st.mtimeNs}`;
      } finally {
        await fh.close();
      }
    } else {
      stamp = await lock.replaceWith(formatUidList(list));
    }
    // Both stamps were taken under the lock, so they describe exactly what we wrote.
    remember(path, { stamp, list: cloneList(list), appendable: true });
    return list;
  });
}
