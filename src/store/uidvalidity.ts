// UIDVALIDITY never repeats for a mailbox name (RFC 3501 §2.3.1.1): every mailbox, uidlist or index a
// backend creates takes its UIDVALIDITY from one per-user counter, new = max(now, last + 1), so a folder
// deleted and created again in the same second (or a RENAME over a deleted name) still gets a new one.
//
// The counter is Dovecot's (mailbox-uidvalidity.c), so a maildir root is shared with Dovecot safely:
// - `<name>.<8 hex digits>`: an empty file whose name is the last value handed out. Taking the next
//   value is rename(`<name>.<last>`, `<name>.<next>`): atomic, so of two processes that read the same
//   `last` only one rename succeeds; the other finds its source gone (ENOENT) and reads again. No lock
//   to wait for or to go stale after kill -9, and rename is atomic on NFS too (several hosts).
// - `<name>`: the last value as 8 hex digits, a hint read first (a stale hint only costs a retry).
// The very first value creates the file with O_EXCL and then checks no other counter file appeared
// meanwhile (if one did, it joins that one and throws its own away).
//
// Synchronous on purpose: backends call it under their mailbox lock, inside synchronous index code.

import { closeSync, constants, fstatSync, openSync, readdirSync, readSync, renameSync, unlinkSync, writeSync, mkdirSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { StoreError } from './types.js';

/** The counter file name the mbox backend uses in the user's index directory. */
export const MBOX_UIDVALIDITY = 'uidvalidity';
/** Dovecot's name, at a maildir root. */
export const DOVECOT_UIDVALIDITY = 'dovecot-uidvalidity';

const hex = (v: number) => (v >>> 0).toString(16).padStart(8, '0');

function counterFiles(dir: string, name: string): number[] {
  const prefix = `${name}.`;
  const out: number[] = [];
  for (const n of readdirSync(dir)) {
    if (n.length === prefix.length + 8 && n.startsWith(prefix)) {
      const v = Number.parseInt(n.slice(prefix.length), 16);
      if (/^[0-9a-f]{8}$/i.test(n.slice(prefix.length)) && v > 0) out.push(v);
    }
  }
  return out.sort((a, b) => a - b);
}

/** The hint: never through a symlink, only a small regular file; anything else counts as no hint. */
function readHint(path: string): number {
  let fd = -1;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    if (!fstatSync(fd).isFile()) return 0;
    const b = Buffer.alloc(16);
    const t = b.toString('latin1', 0, readSync(fd, b, 0, 16, 0)).trim();
    return /^[0-9a-fA-F]{1,8}$/.test(t) ? Number.parseInt(t, 16) : 0;
  } catch {
    return 0;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** Best effort: the hint file, replaced atomically (a temporary with a random name, O_EXCL). */
function writeHint(path: string, v: number): void {
  const tmp = `${path}.${process.pid}${randomInt(1e9)}.tmp`; // digits: maildir's stale-temp cleaner knows the form
  let fd = -1;
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    writeSync(fd, hex(v));
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch {
    if (fd >= 0) try { closeSync(fd); } catch { /* closed */ }
    try { unlinkSync(tmp); } catch { /* none */ }
  }
}

function next(last: number, floor: number): number {
  const v = Math.max(Math.floor(Date.now() / 1000), last + 1, floor + 1);
  if (v > 0xffffffff) throw new StoreError('SERVERBUG', 'UIDVALIDITY counter exhausted');
  return v;
}

/**
 * The next UIDVALIDITY of the user whose counter lives in `dir` (created if missing): strictly above
 * every value handed out before from this counter, above `floor` (a value the mailbox had, e.g. from
 * its spool header), and at least the current time in seconds (like UW and Dovecot).
 */
export function nextUidValidity(dir: string, name: string = MBOX_UIDVALIDITY, floor = 0): number {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const hintPath = join(dir, name);
  let guess = readHint(hintPath);
  for (let attempt = 0; attempt < 1000; attempt++) {
    if (guess > 0) {
      const v = next(guess, floor);
      try {
        renameSync(join(dir, `${name}.${hex(guess)}`), join(dir, `${name}.${hex(v)}`));
        writeHint(hintPath, v);
        return v;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') throw e;
        // Someone else moved the counter on (or the hint is stale): look at what is there.
      }
    }
    const files = counterFiles(dir, name);
    if (files.length > 0) {
      guess = files[files.length - 1]!;
      // Leftovers of a first-creation race: only the highest counts.
      for (const old of files.slice(0, -1)) try { unlinkSync(join(dir, `${name}.${hex(old)}`)); } catch { /* gone */ }
      continue;
    }
    // No counter yet: start one above the hint (a counter file lost, the hint kept) and the floor.
    const v = next(readHint(hintPath), floor);
    const mine = join(dir, `${name}.${hex(v)}`);
    try {
      closeSync(openSync(mine, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o444));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') { guess = 0; continue; }
      throw e;
    }
    const others = counterFiles(dir, name).filter((x) => x !== v);
    if (others.length === 0) {
      writeHint(hintPath, v);
      return v;
    }
    // Another process started a counter at the same time: join the highest, never hand out ours.
    try { unlinkSync(mine); } catch { /* renamed away by another process already */ }
    guess = Math.max(...others);
  }
  throw new StoreError('UNAVAILABLE', 'UIDVALIDITY counter is too busy');
}
