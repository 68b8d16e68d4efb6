// All-or-nothing delivery of several prepared tmp/ files (MULTIAPPEND, COPY): before the first file
// is moved into new/ or cur/, the list of moves is written to `dmail-append-intent` in the mailbox
// directory (fsynced, atomic rename: the commit point). A process killed after that point leaves the
// intent behind, and the next writer of the mailbox (every uidlist change runs finishDelivery first,
// under the uidlist lock) completes the moves whose tmp/ file is still there: a kill -9 at any instant
// leaves none of the messages or all of them. Killed before the commit point, only tmp/ files remain,
// which cleanTmp removes like any other abandoned delivery.
import { constants, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../log/types.js';
import { replaceFile } from '../safe-file.js';

export const INTENT = 'dmail-append-intent';

export interface Move {
  /** Name in tmp/. */
  tmp: string;
  /** 'new/<name>' or 'cur/<name>'. */
  dest: string;
}

const SAFE_NAME = /^[^/\0]+$/;

function valid(m: unknown): m is Move {
  if (!m || typeof m !== 'object') return false;
  const { tmp, dest } = m as Record<string, unknown>;
  if (typeof tmp !== 'string' || typeof dest !== 'string') return false;
  if (!SAFE_NAME.test(tmp) || tmp === '.' || tmp === '..') return false;
  const [sub, name, ...rest] = dest.split('/');
  return rest.length === 0 && (sub === 'new' || sub === 'cur') && name !== undefined && SAFE_NAME.test(name) && name !== '.' && name !== '..';
}

/** A delivery waits to be completed (cheap: one lstat). */
export async function hasIntent(dir: string): Promise<boolean> {
  return fsp.lstat(join(dir, INTENT)).then(() => true, () => false);
}

/** Commit to the moves (the caller holds the uidlist lock). */
export async function writeIntent(dir: string, moves: readonly Move[]): Promise<void> {
  await replaceFile(dir, INTENT, JSON.stringify({ v: 1, moves }) + '\n');
}

/** Done (the caller holds the uidlist lock). */
export async function clearIntent(dir: string): Promise<void> {
  await fsp.unlink(join(dir, INTENT)).catch(() => undefined);
}

/** Complete a delivery a killed process committed to (the caller holds the uidlist lock). Cheap when
 *  there is none: one failed open. */
export async function finishDelivery(dir: string, log: Logger): Promise<void> {
  let text: string;
  try {
    const fh = await fsp.open(join(dir, INTENT), constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      // A few hundred bytes per message; far more means it is not ours.
      const st = await fh.stat();
      if (!st.isFile() || st.size > 64 * 1024 * 1024) throw new Error('not an intent file');
      text = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    log.warn({ err: String(e), dir }, 'maildir: unreadable append intent removed');
    await clearIntent(dir);
    return;
  }
  let moves: Move[] = [];
  try {
    const parsed = JSON.parse(text) as { moves?: unknown };
    if (Array.isArray(parsed.moves) && parsed.moves.every(valid)) moves = parsed.moves;
    else throw new Error('bad intent');
  } catch {
    // Cut short it cannot be (written whole, then renamed): not ours, or damaged by hand.
    log.warn({ dir }, 'maildir: malformed append intent removed');
    await clearIntent(dir);
    return;
  }
  let done = 0;
  for (const m of moves) {
    try {
      await fsp.rename(join(dir, 'tmp', m.tmp), join(dir, m.dest));
      done++;
    } catch (e) {
      // Already moved before the kill.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  if (done) log.warn({ dir, messages: done }, 'maildir: completed an append interrupted by a crash');
  await clearIntent(dir);
}
