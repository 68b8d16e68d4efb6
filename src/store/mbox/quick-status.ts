// STATUS without the spool lock (issue 14): answered from the index's summary when the index is valid
// for the spool as it is (the same stamp as every other reader checks: size, inode, mtime, tail hash),
// no rewrite is in flight (no journal) and the change log says nothing the index does not know. Else
// null, and the caller takes the locked path (which brings the index up to date).
//
// Why this is never a wrong answer: every writer changes the spool (new stamp) or the change log
// before it saves the index, and saves the index (atomic rename) before it unlocks. The three reads
// below happen within the call; if all three agree, no change was half done between them, so the
// answer is the mailbox as it was at some instant during the call. A delivery by an MDA (procmail)
// changes the size (and the tail): the stamp no longer matches and the locked path parses it.

import { closeSync, existsSync, fstatSync, openSync, constants } from 'node:fs';
import type { MailboxStatus } from '../types.js';
import { openChangeLog } from '../changelog.js';
import { readIndexSummary, sameStamp, stampTail } from './index-file.js';
import type { MboxFile } from './file.js';

export function quickStatus(f: MboxFile): MailboxStatus | null {
  if (existsSync(f.journalPath)) return null;
  const q = readIndexSummary(f.indexPath);
  if (!q || !q.uidValidity || !q.stamp.ino) return null;
  let fd = -1;
  try {
    fd = openSync(f.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const st = fstatSync(fd, { bigint: true });
    if (!st.isFile()) return null;
    const size = Number(st.size);
    const stamp = { size, ino: String(st.ino), mtime: String(st.mtimeNs), tail: stampTail(fd, size) };
    if (!sameStamp(q.stamp, stamp)) return null;
  } catch {
    return null;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
  // A reader's view of the log (never creates or repairs it); a log of another UIDVALIDITY, or one
  // with records the index has not taken in (a writer died between them), sends us to the locked path.
  const high = openChangeLog(f.modlogPath, q.uidValidity, undefined, { readOnly: true }).highestModseq();
  if (high !== q.logSeen) return null;
  return {
    messages: q.messages, recent: q.recent, unseen: q.unseen, deleted: q.deleted, uidNext: q.uidNext, uidValidity: q.uidValidity,
    size: q.size, highestModseq: high,
  };
}
