// The decoded mbox index (`<key>.idx`, index-file.ts) kept by a process between sessions (issue 14: a
// resident worker's SELECT decoded the whole index again every session, and that decoding and its garbage
// were its largest cost). One ProcessCache entry per index path (store/process-cache.ts: held while a
// session has the mailbox open, idle entries under the process's `resident_cache_size`; 0 keeps nothing).
//
// The index is only ever replaced whole (writeIndex renames a new file over it), so an entry is believed
// by kept-file.ts's rules for such files (`readWholeKept`): the path opened again (O_NOFOLLOW), that
// descriptor trusted, the same device, inode, birth time, size, mtime and ctime, and the same first and
// last bytes (the head carries the spool stamp, UIDVALIDITY and STATUS summary; the tail the last
// records). Anything else is read and decoded again; records equal to a kept one (same UID and every
// field) are shared with it instead of made anew, so an index another process replaced after one flag
// change or one delivery costs a read and a comparison, not a message object per record.
//
// Kept tables are shared by every session of the process and are immutable: IndexData and its
// IndexedMessage records are never changed after they are made (file.ts and mailbox.ts make new objects
// for every change, copy on write), so a session's snapshot is never changed under it.
//
// What the spool is, is still decided as before (file.ts compares the index's spool stamp with the spool
// under the lock): this module only saves decoding a file whose bytes are the same.
import { dirname } from 'node:path';
import { ProcessCache } from '../process-cache.js';
import { keepWholeWritten, readWholeKept, type KeptWhole } from '../kept-file.js';
import { decodeIndex, forgetMessages, indexColumns, messagesMade, type IndexData } from './index-file.js';

const cache = new ProcessCache<string, KeptWhole<IndexData>>('mbox-index');

/** Estimated bytes an entry keeps alive: an index decoded from its file keeps its bytes (the columns,
 *  index-file.ts) and its keyword/UIDL lists; once its message objects are made, a record object per
 *  message with its numbers (measured: a 100k-message index frees ~234 bytes a message when dropped,
 *  heap after a full GC), as an index made in memory has them. */
function bytesOf(d: IndexData): number {
  const c = indexColumns(d);
  let extra = 0;
  if (c) {
    for (const [, [kw, uidl]] of c.extra) extra += 64 + kw.length * 40 + (uidl ? 40 + uidl.length : 0);
    extra += c.f.byteLength + c.u.byteLength;
    if (!messagesMade(d)) return 1024 + extra;
  } else {
    for (const m of d.messages) {
      if (m.keywords.length) extra += 32 + m.keywords.length * 40;
      if (m.uidl) extra += 40 + m.uidl.length;
    }
  }
  return 1024 + d.messages.length * 240 + extra;
}

/**
 * The index at `path`, decoded (null: missing, damaged or of another version), from the process's kept
 * copy when the file is the one it was decoded from. The result is shared: never change it.
 */
export function readIndexKept(path: string): IndexData | null {
  // Records of the kept decoding are shared by the new one only when they were made (else there is
  // nothing to share: the new one is columns until asked).
  return readWholeKept(path, dirname(path), cache, (b, prev) => decodeIndex(b, prev && messagesMade(prev) ? prev.messages : undefined), bytesOf) ?? null;
}

/** `data` was just written to `path` as `bytes` (writeIndex, under the spool's write lock), as inode
 *  `ino` when known: keep it for the file now there when that file is it and shows exactly those bytes;
 *  otherwise forget what was kept. What is kept is those bytes decoded (columns, index-file.ts) — equal
 *  to `data` — so that an idle entry costs its columns, not a record object per message. */
export function keepWritten(path: string, data: IndexData, bytes: Buffer, ino?: number): void {
  const kept = decodeIndex(bytes, data.messages) ?? data;
  keepWholeWritten(path, dirname(path), cache, kept, bytes, bytesOf(kept), ino);
}

/** A session has the mailbox open: its kept index stays (not counted as idle) until the returned
 *  function runs; then the entry keeps the file's columns only (message objects a session made are
 *  made again when next asked for) and is weighed at that size. */
export function holdIndex(path: string): () => void {
  const release = cache.hold(path);
  return () => release((k) => { forgetMessages(k.value); return bytesOf(k.value); });
}
