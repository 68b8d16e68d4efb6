// The maildir side of the change log and of deferred removal (issue 11): where the mailbox's
// `dmail-modlog` and `dmail-views/` live, and the purge that finally removes expunged messages.
//
// Every change is logged by a holder of the dovecot-uidlist dot-lock:
// - append: the message file is in new/ or cur/, then its UID is logged, then written to the uidlist
//   (a kill in between logs a UID that is given again to the same or a later file: harmless);
// - flag change: the file is renamed, then logged (a kill in between leaves a change that the next
//   session finds unexplained and logs itself, see MaildirMailbox);
// - expunge: logged first (from then on nobody shows the message), then the file is renamed with the
//   T flag (\Deleted) so that Dovecot, mutt & co show it as deleted while it is still kept;
// - purge (here): files unlinked, then the purge logged, then their uidlist records dropped. A kill
//   between any two steps leaves an expunge that is still pending (hidden) or a purge that is
//   done: the next purge finds no file and only logs or rewrites what is left. Nothing comes back:
//   a message whose expunge is logged keeps its uidlist record (so nobody gives it a new UID) until its
//   file is gone.

import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../log/types.js';
import { CHANGE_PURGE, openChangeLog, type ChangeLog } from '../changelog.js';
import { killPoint } from '../killpoint.js';
import type { MailboxBus } from '../bus.js';
import { minAcknowledged } from '../views.js';
import { parseName } from './filename.js';
import { locate, scanMaildir, type ScanEntry } from './scan.js';
import type { SharedUidList, UidList } from './uidlist.js';

export const MODLOG = 'dmail-modlog';
export const VIEWS = 'dmail-views';

/** One change log per mailbox and UIDVALIDITY in this store (it reads only what was appended since its
 *  last look), kept in the store's env (not per process: a log carries its session's logger and bus).
 *  Bounded like the uidlist cache. */
const LOGS_MAX = 16;

export function changeLogOf(dir: string, uidValidity: number, env: { changeLogs: Map<string, ChangeLog>; log?: Logger; bus?: MailboxBus }): ChangeLog {
  const logs = env.changeLogs;
  const key = `${dir}\0${uidValidity}`;
  let l = logs.get(key);
  if (l) logs.delete(key);
  else {
    const path = join(dir, MODLOG);
    const bus = env.bus;
    l = openChangeLog(path, uidValidity, env.log, bus ? { onAdd: () => bus.publish(path) } : {});
  }
  logs.set(key, l);
  while (logs.size > LOGS_MAX) logs.delete(logs.keys().next().value!);
  return l;
}

export function viewsDir(dir: string): string {
  return join(dir, VIEWS);
}

/** UIDs whose expunge is logged and not yet purged. */
export function pendingUids(log: ChangeLog): Set<number> {
  const out = new Set<number>();
  for (const p of log.pendingExpunges()) for (const u of p.uids) out.add(u);
  return out;
}

/**
 * Under the uidlist lock: remove the files of pending expunges that no live handle can still
 * reference, log their purge, and drop their records from `list`. Returns true when `list` changed
 * (the caller writes it). `hints` are where the caller last saw files (base → entry), to spare a scan.
 */
export async function purgeLocked(dir: string, list: UidList, log: ChangeLog, logger: Logger, hints?: ReadonlyMap<string, ScanEntry>): Promise<boolean> {
  const leftover = dropPurgedRecords(list, log);
  const pending = log.pendingExpunges();
  if (pending.length === 0) return leftover;
  const min = await minAcknowledged(viewsDir(dir), logger);
  const due = new Set<number>();
  for (const p of pending) if (p.modseq <= min) for (const u of p.uids) due.add(u);
  if (due.size === 0) return leftover;
  const records = list.records.filter((r) => due.has(r.uid));
  let scan: Map<string, ScanEntry> | undefined;
  for (const r of records) {
    let where = hints?.get(r.base);
    let gone = false;
    // Other sessions rename only under the lock we hold, but a \Recent claim (new/ → cur/) or a
    // foreign program may move the file while we look: look again a few times.
    for (let attempt = 0; attempt < 5 && !gone; attempt++) {
      if (!where) {
        scan ??= (await scanMaildir(dir)).files;
        // Not in the listing: a second, separate look before believing it gone (a listing of a big
        // directory can miss a file that a foreign program renames meanwhile).
        where = scan.get(r.base) ?? (await locate(dir, r.base));
        if (!where) { gone = true; break; } // already gone (an earlier purge killed half-way, or by hand)
      }
      try {
        await fsp.unlink(join(dir, where.sub, where.file));
        gone = true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        where = undefined;
        scan = undefined;
      }
    }
    if (!gone) {
      // Its purge is not logged and its record stays (else it would come back under a new UID).
      logger.warn({ dir, base: r.base }, 'maildir: expunged message kept moving; purged later');
      due.delete(r.uid);
    }
    killPoint('maildir-purge-unlinked-one');
  }
  if (due.size === 0) return leftover;
  killPoint('maildir-purge-unlinked');
  log.add(CHANGE_PURGE, [...due]);
  killPoint('maildir-purge-logged');
  if (records.length === 0) return leftover;
  list.records = list.records.filter((r) => !due.has(r.uid));
  list.byBase = new Map(list.records.map((r) => [r.base, r]));
  return true;
}

/** Records of messages whose purge is logged (their files went first) that a purge killed before its
 *  uidlist write left behind: dropped by the next writer. */
function dropPurgedRecords(list: UidList, log: ChangeLog): boolean {
  const purged = new Set<number>();
  for (const r of log.since(0).records) if (r.kind === CHANGE_PURGE) for (const u of r.uids) purged.add(u);
  if (purged.size === 0 || !list.records.some((r) => purged.has(r.uid))) return false;
  list.records = list.records.filter((r) => !purged.has(r.uid));
  list.byBase = new Map(list.records.map((r) => [r.base, r]));
  return true;
}

/** Base names of `records`' files, for callers that know only UIDs. */
export function basesOf(list: SharedUidList, uids: ReadonlySet<number>): Set<string> {
  const out = new Set<string>();
  for (const r of list.records) if (uids.has(r.uid)) out.add(r.base);
  return out;
}

/** The T (\Deleted) letter added to a file name's info, or undefined when it already has it. */
export function withDeletedFlag(file: string): string | undefined {
  const p = parseName(file);
  const info = p.info ?? '';
  if (info.includes('T')) return undefined;
  return `${p.base}:2,${[...info, 'T'].sort().join('')}`;
}
