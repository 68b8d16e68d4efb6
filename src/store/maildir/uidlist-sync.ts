// Reading dovecot-uidlist, and changing it under its dot-lock with an atomic replace. A missing or
// unusable file is recreated with a fresh UIDVALIDITY taken from the root's dovecot-uidvalidity
// counter (hex, shared with Dovecot) so that a re-created mailbox never reuses an old UIDVALIDITY.

import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { withDotlock } from './dotlock.js';
import type { MaildirEnv } from './env.js';
import { emptyUidList, formatUidList, readUidList, UIDLIST, type UidList, type UidListFile } from './uidlist.js';

export const UIDVALIDITY_FILE = 'dovecot-uidvalidity';

export function loadUidList(dir: string): Promise<UidListFile> {
  return readUidList(join(dir, UIDLIST));
}

export async function nextUidValidity(root: string): Promise<number> {
  const file = join(root, UIDVALIDITY_FILE);
  let last = 0;
  try {
    last = parseInt((await fsp.readFile(file, 'latin1')).trim(), 16) || 0;
  } catch {
    // first mailbox under this root
  }
  const value = Math.max(Math.floor(Date.now() / 1000), last + 1) >>> 0;
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await fsp.writeFile(tmp, (value + 1).toString(16).padStart(8, '0'));
    await fsp.rename(tmp, file);
  } catch {
    await fsp.unlink(tmp).catch(() => undefined);
  }
  return value;
}

/** Run `change` on the current list while holding the lock; writes the list when it returns true. */
export async function lockedUidList(dir: string, env: MaildirEnv, change: (list: UidList) => Promise<boolean>): Promise<UidList> {
  return withDotlock(join(dir, UIDLIST), env.lock, async (lock) => {
    let { list } = await readUidList(join(dir, UIDLIST));
    let created = false;
    if (!list) {
      list = emptyUidList(await nextUidValidity(env.root));
      created = true;
    }
    const changed = await change(list);
    if (changed || created) await lock.replaceWith(formatUidList(list));
    return list;
  });
}
