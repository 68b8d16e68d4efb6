// Crash-safe in-place replacement of a spool's tail: every rewrite (flag change, expunge, append) is
// "keep bytes [0, x), replace the rest with these bytes". The new bytes go to a redo journal in the
// index directory first (fsync, then an atomic rename marks it complete); only then is the spool touched.
// Any open replays a complete journal under the lock and discards an incomplete one, so a kill -9 at
// any instant leaves either the old mailbox or the new one.
//
// Why in place and not write-new-file + rename: the spool directory is often not writable by the user,
// the inode stays the same for an MDA that opened the file before locking it, and only the changed tail
// is written.
//
// The spool's size only ever changes at known points — first it is extended with zeros (so the disk
// space is reserved before any old byte is overwritten: ENOSPC fails cleanly), at the end it is
// truncated — so after a crash the journal tells where our bytes end and where bytes an MDA appended
// after the crash begin; those are carried into a new journal and kept.

import {
  openSync, closeSync, readSync, writeSync, ftruncateSync, fstatSync,
  renameSync, unlinkSync, existsSync, mkdirSync, lstatSync, constants,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import { StoreError } from '../types.js';
import type { Logger } from '../../log/types.js';
import { fsyncDir } from './index-file.js';
import { killPoint } from '../killpoint.js';
import { runSteps, fsyncStep, fdatasyncStep, type Steps } from '../pace.js';

const HEAD = 4096;
const PHASE_AT = HEAD - 1;
const COPY = 1024 * 1024;
// Every long loop here is a step generator (store/pace.ts): the caller runs it at once (runSteps) or
// with the event loop turning between slices (runPaced). Named steps inside the sliced phases, for the
// kill -9 tests: 'journal-slice' (a chunk of the journal written, more may follow) and 'copy-slice' (a
// chunk of the journal copied into the spool, more follows).

interface JournalHead {
  v: 1;
  /** 'tail' (default): replace everything from x on. 'patch': same-length overwrites, no size change. */
  kind?: 'tail' | 'patch';
  /** patch: number of (offset, length) pairs at the start of the data. */
  nsegs?: number;
  ino: string;
  x: number;
  oldSize: number;
  newLen: number;
  /** sha1 of the spool's old bytes [x + newLen, oldSize) when the file shrinks. */
  oldTailHash: string;
  /** sha1 of the journal's data. */
  newHash: string;
}

export { killPoint };

function isNoSpace(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG';
}

function preadFull(fd: number, buf: Buffer, pos: number): number {
  let got = 0;
  while (got < buf.length) {
    const r = readSync(fd, buf, got, buf.length - got, pos + got);
    if (r <= 0) break;
    got += r;
  }
  return got;
}

function pwriteFull(fd: number, buf: Buffer, pos: number): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, pos + done);
}

function* hashRange(fd: number, s: number, e: number): Steps<string> {
  const h = createHash('sha1');
  const b = Buffer.allocUnsafe(Math.min(COPY, Math.max(1, e - s)));
  for (let p = s; p < e;) {
    const n = preadFull(fd, b.subarray(0, Math.min(b.length, e - p)), p);
    if (n <= 0) break;
    h.update(b.subarray(0, n));
    p += n;
    yield;
  }
  return h.digest('hex');
}

function inoOf(fd: number): string {
  return String(fstatSync(fd, { bigint: true }).ino);
}

/** The journal's temporary file: a fixed name (a replay under the lock removes a leftover), so it is
 *  created exclusively after removing whatever is there, never opened through a link someone placed. */
function createJournalTmp(tmp: string): number {
  const excl = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  try {
    return openSync(tmp, excl, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    unlinkSync(tmp);
    return openSync(tmp, excl, 0o600);
  }
}

/** Writes pieces to a file from `at` on in chunks of about COPY bytes (one write each, not one per piece). */
class ChunkWriter {
  private pending: Buffer[] = [];
  private pendingLen = 0;
  written = 0;
  constructor(private readonly fd: number, private readonly at: number) {}
  /** Queue `b`; true when a chunk was written. */
  add(b: Buffer): boolean {
    this.pending.push(b);
    this.pendingLen += b.length;
    if (this.pendingLen < COPY) return false;
    this.flush();
    return true;
  }
  flush(): void {
    if (!this.pendingLen) return;
    const b = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingLen);
    pwriteFull(this.fd, b, this.at + this.written);
    this.written += this.pendingLen;
    this.pending = [];
    this.pendingLen = 0;
  }
}

/** Write a complete journal at `path` holding `parts` as the new tail starting at x. */
function* writeJournal(path: string, spoolFd: number, x: number, oldSize: number, parts: Iterable<Buffer>): Steps<JournalHead> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = path + '.tmp';
  const jfd = createJournalTmp(tmp);
  let head: JournalHead;
  try {
    const h = createHash('sha1');
    const out = new ChunkWriter(jfd, HEAD);
    let len = 0;
    let first = true;
    for (const b of parts) {
      if (b.length) {
        h.update(b);
        len += b.length;
        if (out.add(b)) {
          if (first) { first = false; killPoint('journal-partial'); }
          yield 'journal-slice';
          continue;
        }
      }
      yield;
    }
    out.flush();
    if (first && len) killPoint('journal-partial');
    const newEnd = x + len;
    head = {
      v: 1, ino: inoOf(spoolFd), x, oldSize, newLen: len,
      oldTailHash: newEnd < oldSize ? yield* hashRange(spoolFd, newEnd, oldSize) : '',
      newHash: h.digest('hex'),
    };
    const hb = Buffer.alloc(HEAD, 0x20);
    hb.write(JSON.stringify(head), 0, 'utf8');
    hb[PHASE_AT] = 0x45; // 'E': extending (nothing of ours in the spool yet)
    pwriteFull(jfd, hb, 0);
    yield fsyncStep(jfd);
  } catch (e) {
    closeSync(jfd);
    try { unlinkSync(tmp); } catch { /* ignore */ }
    if (isNoSpace(e)) throw new StoreError('OVERQUOTA', 'not enough disk space to rewrite the mailbox');
    throw e;
  }
  closeSync(jfd);
  killPoint('journal-written');
  renameSync(tmp, path);
  fsyncDir(dirname(path));
  killPoint('journal-committed');
  return head;
}

/** Carry out a committed journal whose bytes end at `cur` in the spool (cur = size before our change). */
function* apply(spoolFd: number, path: string, head: JournalHead, cur: number): Steps<void> {
  const newEnd = head.x + head.newLen;
  if (head.x === head.oldSize && cur >= head.oldSize && cur <= newEnd && head.newLen > 0) {
    yield* applyAppend(spoolFd, path, head, cur);
    return;
  }
  const jfd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW);
  let jOpen = true;
  try {
    if (newEnd > cur) {
      const zeros = Buffer.alloc(Math.min(COPY, newEnd - cur));
      try {
        for (let p = cur; p < newEnd; p += zeros.length) {
          pwriteFull(spoolFd, zeros.subarray(0, Math.min(zeros.length, newEnd - p)), p);
          yield;
        }
        yield fsyncStep(spoolFd);
      } catch (e) {
        if (!isNoSpace(e)) throw e;
        // Nothing of the old mailbox was overwritten yet: cut the zeros off and give up cleanly.
        ftruncateSync(spoolFd, cur);
        yield fsyncStep(spoolFd);
        closeSync(jfd);
        jOpen = false;
        unlinkSync(path);
        throw new StoreError('OVERQUOTA', 'not enough disk space to rewrite the mailbox');
      }
    }
    killPoint('extended');
    // The phase only tells a replay where our bytes end when the file grew; a shrink needs no marker.
    if (newEnd > cur) {
      pwriteFull(jfd, Buffer.from('W'), PHASE_AT);
      yield fdatasyncStep(jfd);
    }
    killPoint('phase-writing');
    yield* copyJournalData(jfd, spoolFd, head);
    killPoint('written');
    // Truncating before the data is durable is safe: a replay rewrites [x, newEnd) from the journal and
    // recognises a truncated file (the old bytes past newEnd no longer match their hash).
    if (fstatSync(spoolFd).size > newEnd) ftruncateSync(spoolFd, newEnd);
    yield fsyncStep(spoolFd);
    killPoint('truncated');
  } finally {
    if (jOpen) closeSync(jfd);
  }
  if (existsSync(path)) unlinkSync(path);
  killPoint('journal-removed');
}

/** The journal's new bytes into the spool at head.x, in COPY-sized slices (kill point mid-write after the
 *  first, a paced turn after each): shared by the rewrite and the pure-append replay. */
function* copyJournalData(jfd: number, spoolFd: number, head: JournalHead): Steps<void> {
  const b = Buffer.allocUnsafe(Math.min(COPY, Math.max(1, head.newLen)));
  let first = true;
  for (let off = 0; off < head.newLen;) {
    const n = preadFull(jfd, b.subarray(0, Math.min(b.length, head.newLen - off)), HEAD + off);
    if (n <= 0) throw new StoreError('SERVERBUG', 'journal shorter than its header says');
    pwriteFull(spoolFd, b.subarray(0, n), head.x + off);
    off += n;
    if (first) { first = false; killPoint('mid-write'); }
    yield off < head.newLen ? 'copy-slice' : undefined;
  }
}

/**
 * A pure append (the journal's bytes go at the spool's old end; nothing old is overwritten): one fsync of
 * the spool instead of three (issue 14). The size is set to the new end in one step (ftruncate: a hole
 * that reads as zeros), so an MDA that appends after a crash appends past our bytes; no phase marker is
 * needed, because a replay tells our extended file from an MDA's bytes at the old end by content
 * (pureAppendExtended). A full disk fails cleanly: the spool is cut back to its old end.
 */
function* applyAppend(spoolFd: number, path: string, head: JournalHead, cur: number): Steps<void> {
  const newEnd = head.x + head.newLen;
  const jfd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  let jOpen = true;
  try {
    try {
      if (cur < newEnd) ftruncateSync(spoolFd, newEnd);
      killPoint('extended');
      killPoint('phase-writing');
      yield* copyJournalData(jfd, spoolFd, head);
      killPoint('written');
      yield fsyncStep(spoolFd);
    } catch (e) {
      if (!isNoSpace(e)) throw e;
      // Nothing of the old mailbox was touched: cut our bytes off and give up cleanly.
      ftruncateSync(spoolFd, head.oldSize);
      yield fsyncStep(spoolFd);
      closeSync(jfd);
      jOpen = false;
      unlinkSync(path);
      throw new StoreError('OVERQUOTA', 'not enough disk space to append to the mailbox');
    }
    killPoint('truncated');
  } finally {
    if (jOpen) closeSync(jfd);
  }
  if (existsSync(path)) unlinkSync(path);
  killPoint('journal-removed');
}

/**
 * After a crash during a pure append (x = oldSize) that had not marked its phase: did it set the size
 * to the new end? Then every byte of [oldSize, newEnd) is either still zero (the hole, or an older
 * version's zero fill) or already the journal's byte at that place. Bytes an MDA appended at the old
 * end after the crash (our extension never happened) differ from the journal's somewhere: its own
 * `From ` line and headers.
 */
function pureAppendExtended(spoolFd: number, journalPath: string, head: JournalHead): boolean {
  const jfd = openSync(journalPath, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const a = Buffer.allocUnsafe(Math.min(COPY, head.newLen));
    const b = Buffer.allocUnsafe(a.length);
    for (let off = 0; off < head.newLen;) {
      const len = Math.min(a.length, head.newLen - off);
      if (preadFull(spoolFd, a.subarray(0, len), head.oldSize + off) !== len) return false;
      if (preadFull(jfd, b.subarray(0, len), HEAD + off) !== len) return false;
      for (let i = 0; i < len; i++) if (a[i] !== 0 && a[i] !== b[i]) return false;
      off += len;
    }
    return true;
  } finally { closeSync(jfd); }
}

/**
 * Replace the spool's bytes from `x` on with `parts`. Caller holds the spool lock with fd open read-write.
 * Returns the new file size. (Steps: see store/pace.ts; `parts` may be a generator doing work per piece.)
 */
export function* replaceTailSteps(spoolFd: number, journalPath: string, x: number, parts: Iterable<Buffer>): Steps<number> {
  const oldSize = fstatSync(spoolFd).size;
  const head = yield* writeJournal(journalPath, spoolFd, x, oldSize, parts);
  yield* apply(spoolFd, journalPath, head, oldSize);
  return x + head.newLen;
}

export function replaceTail(spoolFd: number, journalPath: string, x: number, parts: Iterable<Buffer>): number {
  return runSteps(replaceTailSteps(spoolFd, journalPath, x, parts));
}

/**
 * Overwrite ranges of the spool with bytes of the same length (flag changes that fit the padding of the
 * status headers). The file's size never changes, so mail an MDA appends is never in the way.
 */
export function patchRanges(spoolFd: number, journalPath: string, patches: readonly { x: number; data: Buffer }[]): void {
  runSteps(patchRangesSteps(spoolFd, journalPath, patches));
}

export function* patchRangesSteps(spoolFd: number, journalPath: string, patches: readonly { x: number; data: Buffer }[]): Steps<void> {
  if (!patches.length) return;
  const size = fstatSync(spoolFd).size;
  const segs = Buffer.alloc(patches.length * 16);
  patches.forEach((p, i) => {
    if (p.x < 0 || p.x + p.data.length > size) throw new StoreError('SERVERBUG', 'patch outside the mailbox');
    segs.writeDoubleLE(p.x, i * 16);
    segs.writeDoubleLE(p.data.length, i * 16 + 8);
  });
  const body = [segs, ...patches.map((p) => p.data)];
  const dataLen = body.reduce((n, b) => n + b.length, 0);
  mkdirSync(dirname(journalPath), { recursive: true, mode: 0o700 });
  const tmp = journalPath + '.tmp';
  const jfd = createJournalTmp(tmp);
  try {
    const h = createHash('sha1');
    const out = new ChunkWriter(jfd, HEAD);
    let first = true;
    for (const b of body) {
      h.update(b);
      if (out.add(b)) {
        if (first) { first = false; killPoint('journal-partial'); }
        yield 'journal-slice';
      } else yield;
    }
    out.flush();
    if (first) killPoint('journal-partial');
    const head: JournalHead = { v: 1, kind: 'patch', nsegs: patches.length, ino: inoOf(spoolFd), x: 0, oldSize: size, newLen: dataLen, oldTailHash: '', newHash: h.digest('hex') };
    const hb = Buffer.alloc(HEAD, 0x20);
    hb.write(JSON.stringify(head), 0, 'utf8');
    pwriteFull(jfd, hb, 0);
    yield fsyncStep(jfd);
  } catch (e) {
    closeSync(jfd);
    try { unlinkSync(tmp); } catch { /* ignore */ }
    if (isNoSpace(e)) throw new StoreError('OVERQUOTA', 'not enough disk space to change flags');
    throw e;
  }
  closeSync(jfd);
  killPoint('journal-written');
  renameSync(tmp, journalPath);
  fsyncDir(dirname(journalPath));
  killPoint('journal-committed');
  yield* applyPatch(spoolFd, journalPath, patches.length);
}

function* applyPatch(spoolFd: number, journalPath: string, nsegs: number): Steps<void> {
  const jfd = openSync(journalPath, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const segs = Buffer.alloc(nsegs * 16);
    preadFull(jfd, segs, HEAD);
    // Same step names as a tail rewrite, so the crash tests drive both paths alike.
    killPoint('extended');
    killPoint('phase-writing');
    let off = HEAD + segs.length;
    let sinceNamed = 0;
    for (let i = 0; i < nsegs; i++) {
      const x = segs.readDoubleLE(i * 16);
      const len = segs.readDoubleLE(i * 16 + 8);
      const b = Buffer.alloc(len);
      preadFull(jfd, b, off);
      pwriteFull(spoolFd, b, x);
      off += len;
      if (i === 0) killPoint('mid-write');
      sinceNamed += len;
      if (sinceNamed >= COPY && i + 1 < nsegs) { sinceNamed = 0; yield 'copy-slice'; } else yield;
    }
    yield fsyncStep(spoolFd);
    killPoint('written');
    killPoint('truncated');
  } finally { closeSync(jfd); }
  unlinkSync(journalPath);
  killPoint('journal-removed');
}

function journalUntrusted(jfd: number, journalPath: string): string | undefined {
  const st = fstatSync(jfd);
  let uid = process.geteuid?.() ?? st.uid;
  // Root working on a user's mailbox (dmailctl) trusts what the owner of the index directory wrote.
  if (uid === 0) try { uid = lstatSync(dirname(journalPath)).uid; } catch { /* keep root */ }
  if (!st.isFile()) return 'not a regular file';
  if (st.uid !== uid) return `owned by uid ${st.uid}, not ${uid}`;
  if (st.mode & 0o022) return 'writable by group or others';
  if (st.nlink !== 1) return 'has other links';
  return undefined;
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** Why a journal's head points outside the journal (`jsize`) or the spool (`size`), or undefined. */
function headOutOfBounds(head: JournalHead, jsize: number, size: number, jfd: number): string | undefined {
  if (!isCount(head.x) || !isCount(head.oldSize) || !isCount(head.newLen)) return 'bad numbers in the head';
  if (HEAD + head.newLen > jsize) return 'data longer than the journal';
  if (head.kind === 'patch') {
    const nsegs = head.nsegs;
    if (!isCount(nsegs) || nsegs * 16 > head.newLen) return 'bad segment count';
    if (head.oldSize > size) return undefined; // "mailbox shrank": discarded by the caller as before
    const segs = Buffer.alloc(nsegs * 16);
    if (preadFull(jfd, segs, HEAD) !== segs.length) return 'segments cut short';
    let total = segs.length;
    for (let i = 0; i < nsegs; i++) {
      const x = segs.readDoubleLE(i * 16);
      const len = segs.readDoubleLE(i * 16 + 8);
      if (!isCount(x) || !isCount(len) || x + len > head.oldSize) return 'a patch outside the mailbox';
      total += len;
    }
    if (total !== head.newLen) return 'segments do not add up to the data';
    return undefined;
  }
  if (head.kind !== undefined && head.kind !== 'tail') return 'unknown kind';
  if (head.x > head.oldSize || head.x > size) return 'rewrite starts past the end of the mailbox';
  return undefined;
}

function readHead(jfd: number): { head: JournalHead; phase: number } | null {
  const hb = Buffer.alloc(HEAD);
  if (preadFull(jfd, hb, 0) !== HEAD) return null;
  try {
    const head = JSON.parse(hb.toString('utf8', 0, PHASE_AT).trim()) as JournalHead;
    if (head.v !== 1) return null;
    return { head, phase: hb[PHASE_AT]! };
  } catch { return null; }
}

/**
 * Finish an interrupted rewrite. Caller holds the spool lock. Returns true if the spool was changed.
 */
export function replayJournal(spoolFd: number, journalPath: string, log?: Logger): boolean {
  return runSteps(replayJournalSteps(spoolFd, journalPath, log));
}

export function* replayJournalSteps(spoolFd: number, journalPath: string, log?: Logger): Steps<boolean> {
  if (existsSync(journalPath + '.tmp')) {
    // Never renamed into place: the spool was never touched.
    try { unlinkSync(journalPath + '.tmp'); } catch { /* ignore */ }
  }
  if (!existsSync(journalPath)) return false;
  const jfd = openSync(journalPath, constants.O_RDONLY | constants.O_NOFOLLOW);
  let parsed: { head: JournalHead; phase: number } | null = null;
  let dataOk = false;
  let untrusted: string | undefined;
  try {
    // Only a journal this uid wrote is replayed (issue 13): ours, a plain file, one link, nobody else's
    // write bit; and every offset in it must fall inside the journal and the spool it patches.
    untrusted = journalUntrusted(jfd, journalPath);
    if (!untrusted) {
      parsed = readHead(jfd);
      if (parsed) untrusted = headOutOfBounds(parsed.head, fstatSync(jfd).size, fstatSync(spoolFd).size, jfd);
      if (parsed && !untrusted) dataOk = (yield* hashRange(jfd, HEAD, HEAD + parsed.head.newLen)) === parsed.head.newHash;
    }
  } finally { closeSync(jfd); }
  if (untrusted) {
    log?.error({ journal: journalPath, why: untrusted }, 'discarding a mailbox journal that is not trusted');
    unlinkSync(journalPath);
    return false;
  }
  if (!parsed || !dataOk || parsed.head.ino !== inoOf(spoolFd)) {
    log?.error({ journal: journalPath }, 'discarding a mailbox journal that does not match the mailbox');
    unlinkSync(journalPath);
    return false;
  }
  const { head, phase } = parsed;
  const size = fstatSync(spoolFd).size;
  if (head.kind === 'patch') {
    if (size < head.oldSize) {
      log?.error({ journal: journalPath }, 'mailbox shrank under an unfinished flag change; discarding it');
      unlinkSync(journalPath);
      return false;
    }
    log?.warn({ journal: journalPath }, 'replaying an interrupted flag change');
    const nsegs = head.nsegs ?? 0;
    yield* applyPatch(spoolFd, journalPath, nsegs);
    return true;
  }
  const newEnd = head.x + head.newLen;
  // Where our bytes end: anything after that is mail appended after the crash.
  let cur: number;
  if (newEnd > head.oldSize) {
    if (phase === 0x57) cur = Math.min(newEnd, size);
    else if (head.x === head.oldSize && size >= newEnd && pureAppendExtended(spoolFd, journalPath, head)) cur = newEnd;
    else {
      const b = Buffer.alloc(Math.max(0, Math.min(size, newEnd) - head.oldSize));
      preadFull(spoolFd, b, head.oldSize);
      let zeros = 0;
      while (zeros < b.length && b[zeros] === 0) zeros++;
      cur = head.oldSize + zeros;
    }
  } else if (newEnd < head.oldSize) {
    cur = size >= head.oldSize && (yield* hashRange(spoolFd, newEnd, head.oldSize)) === head.oldTailHash ? head.oldSize : Math.min(newEnd, size);
  } else cur = Math.min(head.oldSize, size);
  log?.warn({ journal: journalPath, appended: size - cur }, 'replaying an interrupted mailbox rewrite');
  if (size > cur) {
    let appended = Buffer.alloc(size - cur);
    preadFull(spoolFd, appended, cur);
    // An MDA that found our half-written tail may have added newlines to separate its `From ` line;
    // our data already ends with the separator, so they would become part of the previous message.
    let lead = 0;
    while (lead < appended.length && (appended[lead] === 0x0a || appended[lead] === 0x0d)) lead++;
    if (lead > 0 && appended.toString('latin1', lead, lead + 5) === 'From ') appended = appended.subarray(lead);
    const jr = openSync(journalPath, constants.O_RDONLY | constants.O_NOFOLLOW);
    const data = Buffer.alloc(head.newLen);
    try { preadFull(jr, data, HEAD); } finally { closeSync(jr); }
    const sep = data.length && !data.subarray(-2).equals(Buffer.from('\n\n')) ? [Buffer.from('\n')] : [];
    const next = yield* writeJournal(journalPath, spoolFd, head.x, size, [data, ...sep, appended]);
    yield* apply(spoolFd, journalPath, next, size);
  } else {
    yield* apply(spoolFd, journalPath, head, cur);
  }
  return true;
}
