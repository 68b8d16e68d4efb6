// One mbox file (INBOX drop file or a folder): locked reads, the shared index, UID assignment and
// crash-safe rewrites. Every operation locks, brings its view up to date with the spool and the shared
// index, acts, writes the index and unlocks — so all sessions and processes agree on UIDs before any of
// them hands one to a client.

import { fstatSync, statSync, readSync, writeSync, existsSync, statfsSync, constants, openSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../../log/types.js';
import { StoreError } from '../types.js';
import { asStoreError } from '../errors.js';
import { lockSpool, type LockOptions, type SpoolLock } from '../lock.js';
import { beginWrite, readHold, releaseReads, type ReadHold } from '../read-lock.js';
import { parseSpool, parseSpoolYielding, parseSteps, type ParsedMessage } from './parse.js';
import { writeIndexSteps, stampTail, sameStamp, type IndexData, type IndexedMessage, type SpoolStamp } from './index-file.js';
import { readIndexKept, keepWritten, holdIndex } from './index-cache.js';
import { replaceTail, replaceTailSteps, replayJournalSteps, patchRanges, patchRangesSteps, killPoint } from './journal.js';
import { Pacer, runPaced, runSteps, type Steps } from '../pace.js';
import { nextUidValidity, MBOX_UIDVALIDITY } from '../uidvalidity.js';
import { restamp, storedForm, clientView, statusOf, layoutOf, FLAG_OLD, FLAG_DELETED, LF } from './format.js';
import { openChangeLog, CHANGE_APPEND, CHANGE_EXPUNGE, CHANGE_PURGE, type ChangeLog } from '../changelog.js';
import { minAcknowledged } from '../views.js';
import type { MailboxBus } from '../bus.js';

export interface FileOptions {
  lock: LockOptions;
  log: Logger;
  /** dmail.conf min_space: free megabytes below which writes are refused. */
  minSpaceMb: number;
  /** In-process change notification among this process's sessions (store/bus.ts). */
  bus?: MailboxBus;
}

export interface NewMessage {
  raw: Buffer;
  flags: number;
  keywords: string[];
  date: Date;
}

function preadExact(fd: number, pos: number, len: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  let got = 0;
  while (got < len) {
    const r = readSync(fd, b, got, len - got, pos + got);
    if (r <= 0) break;
    got += r;
  }
  return got === len ? b : b.subarray(0, got);
}

/** Bytes read at once when going through messages in file order. */
const WINDOW = 256 * 1024;

/** Reads messages in ascending file order through a window: one read per WINDOW bytes, not one per
 *  message. Each window is a new buffer, so the pieces handed out stay valid. */
class SpanReader {
  private buf: Buffer = Buffer.alloc(0);
  private at = 0;
  constructor(private readonly fd: number) {}
  get(pos: number, len: number): Buffer {
    if (pos >= this.at && pos + len <= this.at + this.buf.length) return this.buf.subarray(pos - this.at, pos - this.at + len);
    if (len >= WINDOW) return preadExact(this.fd, pos, len);
    this.buf = preadExact(this.fd, pos, WINDOW);
    this.at = pos;
    return this.buf.subarray(0, Math.min(len, this.buf.length));
  }
}

function emptyIndex(uidValidity: number): IndexData {
  return {
    stamp: { size: 0, ino: '', mtime: '', tail: 0 }, uidValidity, uidNext: 1, keywords: [],
    fileBase: null, pseudo: null, preambleEnd: 0, messages: [], logSeen: 0,
  };
}

/** A fresh UIDVALIDITY from the user's counter (store/uidvalidity.ts): time-based like UW, and never
 *  one handed out before for any mailbox of the user, nor at or below the mailbox's previous one. */
function newUidValidity(indexDir: string, prev?: number): number {
  return nextUidValidity(indexDir, MBOX_UIDVALIDITY, prev ?? 0);
}

export class MboxFile {
  /** The latest layout this process knows (valid while `cur.stamp` matches the spool). */
  cur: IndexData | null = null;
  private idxSeen = '';
  private logSig = '';
  /** The mailbox's change log (`<key>.modlog` beside the index) and live-handle slots (`<key>.views/`). */
  readonly modlogPath: string;
  readonly viewsDir: string;
  /** The facts cache (store/facts-file.ts). */
  readonly factsPath: string;
  private log: ChangeLog | null = null;

  constructor(
    readonly path: string,
    readonly indexDir: string,
    readonly indexPath: string,
    readonly journalPath: string,
    private readonly opts: FileOptions,
  ) {
    const stem = indexPath.endsWith('.idx') ? indexPath.slice(0, -4) : indexPath;
    this.modlogPath = stem + '.modlog';
    this.viewsDir = stem + '.views';
    this.factsPath = stem + '.facts';
  }

  get bus(): MailboxBus | undefined { return this.opts.bus; }

  /** A session has this mailbox open: the process keeps its decoded index (index-cache.ts) at least until
   *  the returned function runs. */
  holdIndex(): () => void {
    return holdIndex(this.indexPath);
  }

  /** The change log for a UIDVALIDITY (one reader/writer object per mailbox and process). */
  changeLog(uidValidity: number): ChangeLog {
    if (!this.log || this.log.uidValidity !== uidValidity) {
      const bus = this.opts.bus;
      const key = this.modlogPath;
      this.log = openChangeLog(this.modlogPath, uidValidity, this.opts.log, bus ? { onAdd: () => bus.publish(key) } : {});
    }
    return this.log;
  }

  private logSignature(): string {
    try {
      const s = statSync(this.modlogPath, { bigint: true });
      return `${s.ino}:${s.mtimeNs}:${s.size}`;
    } catch { return ''; }
  }

  /** Cheap unlocked check: is our view certainly current? (stat of spool, index and journal.) */
  probablyCurrent(): boolean {
    if (!this.cur) return false;
    try {
      const st = statSync(this.path, { bigint: true });
      if (String(st.ino) !== this.cur.stamp.ino || Number(st.size) !== this.cur.stamp.size || String(st.mtimeNs) !== this.cur.stamp.mtime) return false;
    } catch {
      return this.cur.stamp.ino === '' && !existsSync(this.path);
    }
    if (existsSync(this.journalPath)) return false;
    return this.indexSignature() === this.idxSeen && this.logSignature() === this.logSig;
  }

  private indexSignature(): string {
    try {
      const s = statSync(this.indexPath);
      return `${s.ino}:${s.mtimeMs}:${s.size}`;
    } catch { return ''; }
  }

  /** Run `fn` with the spool locked and our view current. fd is -1 when the file does not exist. */
  async locked<T>(
    mode: 'read' | 'write' | 'create', fn: (fd: number, data: IndexData) => T | Promise<T>,
    /** Afterwards remove expunged messages no live handle can still read (the "next writer"). */
    purge = mode === 'create',
  ): Promise<T> {
    // Every full lock may write (the index, \Recent claims, a journal replay): our burst read lock on
    // this spool must go first (read-lock.ts).
    const endWrite = await beginWrite(this.path);
    try {
      let lock: SpoolLock;
      try {
        try {
          lock = await lockSpool(this.path, this.opts.lock, { write: true, create: mode === 'create' });
        } catch (e) {
          const code = (e as StoreError).code;
          if (mode !== 'read' || (code !== 'NOPERM')) throw e;
          // A spool we may read but not write (EXAMINE of a shared file): read lock only.
          lock = await lockSpool(this.path, this.opts.lock, { write: false });
        }
      } catch (e) {
        throw asStoreError(e);
      }
      try {
        const data = await this.sync(lock.fd);
        const r = await fn(lock.fd, data);
        if (purge && lock.fd >= 0 && this.cur) {
          // Housekeeping: the operation itself is done and durable, whatever happens here.
          try { await this.purge(lock.fd, this.cur); } catch (e) {
            this.opts.log.warn({ path: this.path, err: String(e) }, 'could not remove expunged messages yet');
          }
        }
        return r;
      } catch (e) {
        throw asStoreError(e);
      } finally {
        lock.release();
      }
    } finally {
      endWrite();
    }
  }

  /**
   * Read under a shared fcntl lock only (no dot-lock), reused for a burst of reads. The spool's stamp is
   * checked under the lock: when another session rewrote it since our view, the offsets come from the
   * shared index; when the index does not know the spool as it is (new mail, a crash), the full lock
   * path brings everything up to date. `fn` must be synchronous (the lock may go at the next turn).
   */
  async readLocked<T>(fn: (fd: number, data: IndexData) => T): Promise<T> {
    for (let tries = 0; tries < 3; tries++) {
      let h: ReadHold | null;
      try { h = await readHold(this.path, this.opts.lock); } catch (e) { throw asStoreError(e); }
      if (!h) break;
      if (h.released) continue;
      let data: IndexData | null;
      try { data = this.viewUnder(h); } catch (e) { throw asStoreError(e); }
      if (!data) break;
      try { return fn(h.fd, data); } catch (e) { throw asStoreError(e); }
    }
    return this.locked('read', fn);
  }

  private validFor: ReadHold | null = null;

  /** Let go of a burst read lock now (the mailbox is closed). */
  releaseReads(): void {
    this.validFor = null;
    releaseReads(this.path);
  }

  /** Our view if it matches the spool under read lock `h` (checked once per lock), else null. */
  private viewUnder(h: ReadHold): IndexData | null {
    if (this.validFor === h && this.cur) return this.cur;
    this.validFor = null;
    if (existsSync(this.journalPath)) return null;
    const stamp = this.stampOf(h.fd);
    const sig = this.indexSignature();
    if (this.cur && sameStamp(this.cur.stamp, stamp) && sig === this.idxSeen) {
      this.validFor = h;
      return this.cur;
    }
    const disk = readIndexKept(this.indexPath);
    if (disk && sameStamp(disk.stamp, stamp)) {
      this.cur = disk;
      this.idxSeen = sig;
      this.validFor = h;
      return disk;
    }
    return null;
  }

  private stampOf(fd: number): SpoolStamp {
    const st = fstatSync(fd, { bigint: true });
    const size = Number(st.size);
    return { size, ino: String(st.ino), mtime: String(st.mtimeNs), tail: stampTail(fd, size) };
  }

  /** Bring `cur` up to date with the spool (caller holds the lock). Parsing yields to the event loop
   *  now and then (parseSpoolYielding): the lock keeps the file still meanwhile. */
  async sync(fd: number): Promise<IndexData> {
    if (fd < 0) {
      // No file: an empty mailbox. Keep a UIDVALIDITY in the index so it survives until mail arrives.
      const disk = readIndexKept(this.indexPath);
      if (disk && disk.stamp.ino === '') { this.cur = disk; this.idxSeen = this.indexSignature(); return this.settle(disk); }
      const fresh = emptyIndex(newUidValidity(this.indexDir, disk?.uidValidity));
      if (disk) fresh.uidNext = disk.uidNext;
      this.save(fresh);
      return this.settle(fresh);
    }
    try {
      await runPaced(replayJournalSteps(fd, this.journalPath, this.opts.log));
    } catch (e) {
      if (e instanceof StoreError) throw e;
      this.opts.log.error({ err: String(e), path: this.path }, 'mailbox journal replay failed');
      throw new StoreError('UNAVAILABLE', 'mailbox is being repaired; try again');
    }
    const stamp = this.stampOf(fd);
    const sig = this.indexSignature();
    if (this.cur && sameStamp(this.cur.stamp, stamp) && sig === this.idxSeen) return this.settle(this.cur);
    const disk = readIndexKept(this.indexPath);
    if (disk && sameStamp(disk.stamp, stamp)) {
      this.cur = disk;
      this.idxSeen = sig;
      return this.settle(disk);
    }
    // The shared index is the authority on UIDs not yet written to the spool; our memory is a fallback.
    const base = disk ?? this.cur;
    let next: IndexData | null = null;
    // Messages found here that no index knew (an MDA's deliveries) are appends: logged below under
    // the lock, before any session can see them. Without a usable index (lost, or a new UIDVALIDITY)
    // every message is "new" and gets the log's highest instead (clients re-fetch their flags).
    const fresh: number[] = [];
    const predicted = (uv: number) => this.changeLog(uv).highestModseq() + 1;
    if (base && base.stamp.ino === stamp.ino && stamp.size > base.stamp.size && base.messages.length > 0 &&
        stampTail(fd, base.stamp.size) === base.stamp.tail) {
      // Only grew (an MDA appended): parse from the last known message on.
      const last = base.messages[base.messages.length - 1]!;
      const parsed = await parseSpoolYielding(fd, last.offset, stamp.size);
      if (parsed && parsed.messages.length && parsed.messages[0]!.offset === last.offset) {
        next = await runPaced(this.buildSteps(base.messages.slice(0, -1), parsed.messages, base, stamp, base.preambleEnd, base.pseudo, base.fileBase, [], true, predicted(base.uidValidity), fresh));
      }
    }
    if (!next) {
      const parsed = (await parseSpoolYielding(fd, 0, stamp.size))!;
      let msgs = parsed.messages;
      let pseudo: IndexData['pseudo'] = null;
      let fileBase: IndexData['fileBase'] = null;
      if (msgs[0]?.pseudo) {
        pseudo = { offset: msgs[0].offset, end: msgs[0].end };
        if (msgs[0].base) fileBase = { uidValidity: msgs[0].base.uidValidity, uidNext: msgs[0].base.uidNext };
        msgs = msgs.slice(1);
      } else if (msgs[0]?.base) {
        fileBase = { uidValidity: msgs[0].base.uidValidity, uidNext: msgs[0].base.uidNext };
      }
      const kw = (parsed.messages[0]?.base?.keywords) ?? [];
      const uv = fileBase?.uidValidity || base?.uidValidity || 0;
      const known = base && base.uidValidity === uv;
      next = await runPaced(this.buildSteps([], msgs, base, stamp, parsed.preambleEnd, pseudo, fileBase, kw, false,
        uv ? (known ? predicted(uv) : predicted(uv) - 1) : 0, known ? fresh : undefined));
      if (!uv || !known) {
        // A new UIDVALIDITY was made up, or no index knew this one: everything gets the log's highest.
        const h = this.changeLog(next.uidValidity).highestModseq();
        for (const m of next.messages) m.modseq = h;
        next.logSeen = 0;
      }
    }
    if (fresh.length) {
      const log = this.changeLog(next.uidValidity);
      const before = log.highestModseq();
      let m: number;
      try { m = log.add(CHANGE_APPEND, fresh); } catch (e) {
        // A full or read-only index directory must not keep people from reading their mail: the new
        // messages get the mailbox's current HIGHESTMODSEQ (never above it) and no record.
        this.opts.log.warn({ path: this.path, err: String(e) }, 'cannot record new mail in the change log');
        m = before;
      }
      // build() gave them the predicted value (before + 1): only a foreign writer could make it differ.
      if (m !== before + 1) {
        const set = new Set(fresh);
        for (const x of next.messages) if (set.has(x.uid)) x.modseq = m;
      }
      if (next.logSeen === before) next.logSeen = m;
    }
    return this.settle(next, false);
  }

  /**
   * Make the index agree with the change log (caller holds the lock). Normally they agree already
   * (every writer records both); after a writer died between its log record and its index, or after
   * the index was lost, the log wins: its pending expunges are hidden again (nothing resurrects) and
   * messages it names get its mod-sequences. A log behind the index (deleted) is raised, never lowered.
   */
  private settle(d: IndexData, saved = true): IndexData {
    const log = this.changeLog(d.uidValidity);
    this.logSig = this.logSignature();
    const h = log.highestModseq();
    if (h === d.logSeen) {
      if (!saved) this.save(d);
      return d;
    }
    let maxSeen = d.logSeen;
    for (const m of d.messages) if (m.modseq > maxSeen) maxSeen = m.modseq;
    if (maxSeen > h) {
      try { log.raiseTo(maxSeen); } catch (e) {
        this.opts.log.warn({ path: this.path, err: String(e) }, 'cannot raise the change log');
        return d;
      }
      this.logSig = this.logSignature();
    }
    const high = log.highestModseq();
    const byUid = new Map<number, IndexedMessage>();
    const messages = d.messages.map((m) => {
      const c = { ...m };
      byUid.set(c.uid, c);
      return c;
    });
    const since = log.since(d.logSeen);
    if (since.complete) {
      for (const r of since.records) {
        if (r.kind === CHANGE_EXPUNGE || r.kind === CHANGE_PURGE) continue;
        for (const u of r.uids) { const m = byUid.get(u); if (m && m.modseq < r.modseq) m.modseq = r.modseq; }
      }
    } else {
      for (const m of messages) if (m.modseq < high) m.modseq = high;
    }
    for (const p of log.pendingExpunges()) {
      for (const u of p.uids) {
        const m = byUid.get(u);
        if (m && !m.expunged) m.expunged = p.modseq;
      }
    }
    for (const m of messages) if (!m.modseq) m.modseq = high;
    const next: IndexData = { ...d, messages, logSeen: high };
    // A new index (or a first change log) is expected; anything else means a writer died half way.
    if (d.logSeen > 0) this.opts.log.warn({ path: this.path, index: d.logSeen, log: high }, 'mailbox index brought up to date from its change log');
    this.save(next);
    this.logSig = this.logSignature();
    return next;
  }

  /** Assign UIDs: X-UID from the spool when it is ascending, else the one the index recorded, else new. */
  private build(...a: Parameters<MboxFile['buildSteps']>): IndexData {
    return runSteps(this.buildSteps(...a));
  }

  private *buildSteps(
    keep: IndexedMessage[], parsed: ParsedMessage[], prev: IndexData | null, stamp: SpoolStamp,
    preambleEnd: number, pseudo: IndexData['pseudo'], fileBase: IndexData['fileBase'], fileKeywords: string[] = [],
    /** The file only grew: a message at a known offset is the same message even if its end changed. */
    sameOffsets = false,
    /** Mod-sequence for messages no earlier record carries over (0: leave to the caller). */
    newModseq = 0,
    /** Collects the UIDs of those messages. */
    fresh?: number[],
  ): Steps<IndexData> {
    let uidValidity = fileBase?.uidValidity ?? prev?.uidValidity ?? newUidValidity(this.indexDir);
    const samePrev = prev && prev.uidValidity === uidValidity ? prev : null;
    if (!uidValidity) uidValidity = newUidValidity(this.indexDir);
    let uidNext = Math.max(1, fileBase?.uidNext ?? 1, samePrev?.uidNext ?? 1);
    const byKey = new Map<number, IndexedMessage[]>();
    const byUid = new Map<number, IndexedMessage>();
    const byOffset = new Map<number, IndexedMessage>();
    if (samePrev) {
      // Only earlier records with UIDs above the kept part can match a parsed message (UIDs ascend):
      // after a tail parse that is one or two records, not the whole mailbox.
      const keptUid = keep.length ? keep[keep.length - 1]!.uid : 0;
      const pm = samePrev.messages;
      let lo = 0;
      let hi = pm.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (pm[mid]!.uid <= keptUid) lo = mid + 1; else hi = mid; }
      for (let i = lo; i < pm.length; i++) {
        const m = pm[i]!;
        if ((i & 1023) === 0) yield;
        byUid.set(m.uid, m);
        if (sameOffsets) byOffset.set(m.offset, m);
        if (!m.fileUid) {
          const l = byKey.get(m.key);
          if (l) l.push(m); else byKey.set(m.key, [m]);
        }
      }
    }
    const keywords = new Set<string>([...(samePrev?.keywords ?? []), ...fileKeywords]);
    const out: IndexedMessage[] = keep.slice();
    let lastUid = out.length ? out[out.length - 1]!.uid : 0;
    if (out.length) uidNext = Math.max(uidNext, lastUid + 1);
    for (const p of parsed) {
      if ((out.length & 1023) === 0) yield;
      if (p.pseudo && p.offset === pseudo?.offset) continue;
      let uid = 0;
      let carried: IndexedMessage | undefined;
      if (p.fileUid > lastUid) {
        uid = p.fileUid;
        carried = byUid.get(uid);
      } else if (byOffset.get(p.offset) && byOffset.get(p.offset)!.uid > lastUid && !byOffset.get(p.offset)!.fileUid) {
        carried = byOffset.get(p.offset)!;
        uid = carried.uid;
        const l = byKey.get(carried.key);
        if (l) l.splice(l.indexOf(carried), 1);
      } else {
        const cands = byKey.get(p.key);
        while (cands && cands.length) {
          const c = cands.shift()!;
          if (c.uid > lastUid) { carried = c; uid = c.uid; break; }
        }
        if (!uid) uid = uidNext;
      }
      lastUid = uid;
      uidNext = Math.max(uidNext, uid + 1);
      for (const k of p.keywords) keywords.add(k);
      const m: IndexedMessage = {
        offset: p.offset, end: p.end, size: p.size, date: p.date, uid,
        flags: p.flags | ((carried?.flags ?? 0) & FLAG_OLD), fileUid: p.fileUid === uid ? uid : 0, key: p.key, keywords: p.keywords,
        // (Never 0: a message no record carries and no caller named gets the view's mod-sequence.)
        modseq: carried?.modseq || newModseq || Math.max(1, prev?.logSeen ?? 1), expunged: carried?.expunged ?? 0,
      };
      if (!carried) fresh?.push(uid);
      if (p.uidl) m.uidl = p.uidl;
      out.push(m);
    }
    return { stamp, uidValidity, uidNext, keywords: [...keywords], fileBase, pseudo, preambleEnd, messages: out, logSeen: samePrev?.logSeen ?? 0 };
  }

  save(d: IndexData): void {
    runSteps(this.saveSteps(d));
  }

  savePaced(d: IndexData): Promise<void> {
    return runPaced(this.saveSteps(d));
  }

  private *saveSteps(d: IndexData): Steps<void> {
    this.cur = d;
    if (!(yield* writeIndexSteps(this.indexPath, this.indexDir, d, keepWritten))) {
      this.opts.log.warn({ index: this.indexPath }, 'cannot write mailbox index');
    }
    this.idxSeen = this.indexSignature();
    this.logSig = this.logSignature();
  }

  /**
   * Deferred removal: take out of the spool the expunged messages that no live handle can still read
   * (expunged at or below every live handle's acknowledged mod-sequence), through the same crash-safe
   * rewrite as any other, then record their purge. Caller holds the write lock. Also records the purge
   * of pending expunges whose messages are gone already (a kill between the rewrite and its record, or
   * a foreign program that removed them).
   */
  async purge(fd: number, d: IndexData): Promise<IndexData> {
    if (fd < 0) return d;
    const log = this.changeLog(d.uidValidity);
    // Runs after every write: over 100k messages its loops are paced (store/pace.ts), and the index's
    // messages ascend by UID, so a pending UID is looked up by bisection instead of a Set of them all.
    const pace = new Pacer();
    const msgs = d.messages;
    let hidden = 0;
    for (let i = 0; i < msgs.length; i++) {
      if ((i & 4095) === 4095 && pace.due()) await pace.pause();
      if (msgs[i]!.expunged) hidden++;
    }
    const pending = log.pendingExpunges();
    if (!hidden && !pending.length) return d;
    const gone = pending.flatMap((p) => p.uids.filter((u) => !hasUid(msgs, u)));
    let data = d;
    const remove = new Set<number>();
    if (hidden) {
      const min = await minAcknowledged(this.viewsDir, this.opts.log);
      for (let i = 0; i < msgs.length; i++) {
        if ((i & 4095) === 4095 && pace.due()) await pace.pause();
        const m = msgs[i]!;
        if (m.expunged && m.expunged <= min) remove.add(m.uid);
      }
    }
    if (!remove.size && !gone.length) return d;
    const before = log.highestModseq();
    if (remove.size) {
      // The index written with the rewrite already counts the purge record that follows it.
      data = await this.rewrite(fd, { ...d, logSeen: d.logSeen === before ? before + 1 : d.logSeen }, new Map(), remove);
      killPoint('before-purge-record');
    }
    log.add(CHANGE_PURGE, [...remove, ...gone]);
    this.logSig = this.logSignature();
    return data;
  }

  /** Client view of one message (caller holds the lock). */
  readMessage(fd: number, m: IndexedMessage): Buffer {
    const raw = preadExact(fd, m.offset, m.end - m.offset);
    if (raw.length !== m.end - m.offset || raw.toString('latin1', 0, 5) !== 'From ') {
      throw new StoreError('SERVERBUG', 'mailbox changed under the index');
    }
    return clientView(raw);
  }

  /**
   * For streaming a big message in pieces: the client view of its header (with the blank line), where
   * its body starts (relative to the message) and the body's length without the separator line.
   * Null when the header has no end within 16 MB.
   */
  readHeader(fd: number, m: IndexedMessage): { header: Buffer; bodyStart: number; bodyLen: number } | null {
    const total = m.end - m.offset;
    let want = Math.min(total, 64 * 1024);
    for (;;) {
      const raw = preadExact(fd, m.offset, want);
      if (raw.toString('latin1', 0, 5) !== 'From ') throw new StoreError('SERVERBUG', 'mailbox changed under the index');
      const layout = layoutOf(raw);
      if (layout.blankStart >= 0) {
        const head = raw.subarray(0, layout.bodyStart);
        const header = clientView(head, layoutOf(head));
        const tail = preadExact(fd, m.offset + Math.max(layout.bodyStart, total - 4), Math.min(4, total - layout.bodyStart));
        // The separator blank line at the end is not part of the message.
        let sep = 0;
        const t = tail.toString('latin1');
        if (t.endsWith('\n\r\n')) sep = 2; else if (t.endsWith('\n\n')) sep = 1;
        return { header, bodyStart: layout.bodyStart, bodyLen: total - layout.bodyStart - sep };
      }
      if (want >= total || want >= 16 * 1024 * 1024) return null;
      want = Math.min(total, want * 4);
    }
  }

  /** Read `len` bytes at `pos` into `buf` (from its start); returns how many were read. */
  readInto(fd: number, buf: Buffer, pos: number, len: number): number {
    let got = 0;
    while (got < len) {
      const r = readSync(fd, buf, got, len - got, pos + got);
      if (r <= 0) break;
      got += r;
    }
    return got;
  }

  private checkSpace(): void {
    if (this.opts.minSpaceMb <= 0) return;
    try {
      const s = statfsSync(dirname(this.path));
      if (s.bavail * s.bsize < this.opts.minSpaceMb * 1024 * 1024) throw new StoreError('OVERQUOTA', 'the mail disk is full');
    } catch (e) { if (e instanceof StoreError) throw e; }
  }

  /**
   * Rewrite from message `start` on: new flags for some, some removed. Caller holds the write lock.
   * Returns the new view. The work goes in slices with the event loop turning between them (a first
   * STORE stamping a 100,000-message spool must not freeze the process's other sessions); the lock
   * keeps everyone else off this mailbox meanwhile.
   */
  rewrite(fd: number, data: IndexData, changes: Map<number, { flags: number; keywords: string[] }>, remove: Set<number>, forceBase = false): Promise<IndexData> {
    return runPaced(this.rewriteSteps(fd, data, changes, remove, forceBase));
  }

  /** The same, all at once (a caller that must stay synchronous). */
  rewriteNow(fd: number, data: IndexData, changes: Map<number, { flags: number; keywords: string[] }>, remove: Set<number>, forceBase = false): IndexData {
    return runSteps(this.rewriteSteps(fd, data, changes, remove, forceBase));
  }

  private *rewriteSteps(fd: number, data: IndexData, changes: Map<number, { flags: number; keywords: string[] }>, remove: Set<number>, forceBase: boolean): Steps<IndexData> {
    if (fd < 0) return data;
    this.checkSpace();
    let msgs = data.messages;
    let start = msgs.findIndex((m) => changes.has(m.uid) || remove.has(m.uid));
    if (start < 0 && !(forceBase && msgs.length)) return data;
    // The mailbox's own UIDVALIDITY/UIDNEXT must be in the spool before UIDs could be lost: when the
    // spool lacks it, or when removing the highest UIDs would let a re-parse hand them out again.
    let needBase = forceBase || !data.fileBase || data.fileBase.uidValidity !== data.uidValidity ||
      (remove.size > 0 && data.fileBase.uidNext < data.uidNext);
    // X-UIDs up to UIDNEXT-1 may be written below: the base header must not say less (UW c-client).
    if (!needBase && msgs.slice(start).some((m) => !m.fileUid && m.uid >= data.fileBase!.uidNext)) {
      const raised = this.raiseFileBase(fd, data, data.uidNext - 1);
      if (raised) { data = raised; msgs = data.messages; } else needBase = true;
    }
    if (needBase) start = 0;
    else if (remove.size === 0) {
      const patched = yield* this.tryPatch(fd, data, changes);
      if (patched) return patched;
    }
    const withPseudo = needBase && data.pseudo !== null;
    const x = withPseudo ? data.pseudo!.offset : msgs[start]!.offset;
    const base = { uidValidity: data.uidValidity, uidNext: data.uidNext, keywords: data.keywords };
    const reader = new SpanReader(fd);
    function* parts(): Generator<Buffer> {
      if (withPseudo) {
        const raw = preadExact(fd, data.pseudo!.offset, data.pseudo!.end - data.pseudo!.offset);
        const layout = layoutOf(raw);
        const st = statusOf(raw, layout);
        yield restamp(raw, { flags: st.flags, keywords: st.keywords, uid: 0 }, { header: 'X-IMAP', ...base }, layout);
      }
      let first = start === 0;
      for (let i = start; i < msgs.length; i++) {
        const m = msgs[i]!;
        if (remove.has(m.uid)) continue;
        const raw = reader.get(m.offset, m.end - m.offset);
        if (raw.toString('latin1', 0, 5) !== 'From ') throw new StoreError('SERVERBUG', 'mailbox changed under the index');
        const ch = changes.get(m.uid);
        const st = { flags: ch ? ch.flags : m.flags, keywords: ch ? ch.keywords : m.keywords, uid: m.uid };
        const b = first && !data.pseudo ? { header: 'X-IMAPbase' as const, ...base } : null;
        first = false;
        yield restamp(raw, st, b);
      }
    }
    const newEnd = yield* replaceTailSteps(fd, this.journalPath, x, parts());
    killPoint('before-index');
    return yield* this.reindexFrom(fd, data, start, x, newEnd, withPseudo ? null : data.pseudo, needBase);
  }

  /** Status changes written only if every one keeps its message's length (nothing shifts): the new
   *  view, or null (nothing written) when some message has no room or no X-UID yet. In slices, as rewrite(). */
  patchInPlace(fd: number, data: IndexData, changes: Map<number, { flags: number; keywords: string[] }>): Promise<IndexData | null> {
    if (fd < 0 || !changes.size) return Promise.resolve(null);
    this.checkSpace();
    return runPaced(this.tryPatch(fd, data, changes));
  }

  /**
   * UW c-client takes an X-UID above the last UID that X-IMAPbase (or the hidden X-IMAP message) records
   * for damage: it drops the UIDVALIDITY and gives every message a new UID. So before X-UIDs up to
   * `lastUid` go into the spool, the base header is raised to say at least that much — in place, when
   * the header keeps its length (our zero-padded form). Null when it cannot be done in place (the caller
   * then rewrites the spool from the base message on); the data unchanged when nothing is needed.
   */
  private raiseFileBase(fd: number, data: IndexData, lastUid: number): IndexData | null {
    const r = this.raisedBase(fd, data, lastUid);
    if (r === null || !('out' in r)) return r;
    const { at, out, uidNext } = r;
    patchRanges(fd, this.journalPath, [{ x: at.offset, data: out }]);
    killPoint('before-index');
    const next: IndexData = { ...data, stamp: this.stampOf(fd), fileBase: { uidValidity: data.uidValidity, uidNext } };
    this.save(next);
    return next;
  }

  /**
   * The first message (or pseudo message) restamped with the base header raised past `lastUid`, for
   * raiseFileBase and raiseBaseForAppend: the data unchanged when the file's base already covers it or
   * there is no message; null when the restamped message would change length (not in place).
   */
  private raisedBase(fd: number, data: IndexData, lastUid: number): IndexData | { at: { offset: number }; raw: Buffer; out: Buffer; uidNext: number } | null {
    const fb = data.fileBase;
    if (!fb || fb.uidValidity !== data.uidValidity || fb.uidNext > lastUid) return data;
    const at = data.pseudo ?? data.messages[0];
    if (!at) return data;
    const raw = preadExact(fd, at.offset, at.end - at.offset);
    if (raw.toString('latin1', 0, 5) !== 'From ') throw new StoreError('SERVERBUG', 'mailbox changed under the index');
    const layout = layoutOf(raw);
    const st = statusOf(raw, layout);
    const uidNext = Math.max(data.uidNext, lastUid + 1);
    const base = { header: data.pseudo ? 'X-IMAP' as const : 'X-IMAPbase' as const, uidValidity: data.uidValidity, uidNext, keywords: data.keywords };
    // Only the base changes: the message keeps the status headers the file has.
    const out = restamp(raw, { flags: st.flags, keywords: st.keywords, uid: data.pseudo ? 0 : st.uid }, base, layout);
    if (out.length !== raw.length) return null;
    return { at, raw, out, uidNext };
  }

  /**
   * raiseFileBase for an append, without a journal of its own (issue 14: three fsyncs per APPEND): when
   * the raised header differs from the spool's in a few bytes within one disk sector (the digits of
   * its last UID, in our zero-padded form), those bytes are overwritten in place. Such a write is done
   * whole or not at all (a kill cannot split it, a sector is written whole), and both versions are
   * valid: a kill after it leaves a base that says more than the UIDs given, which only makes the next
   * UIDs skip (never reuse). It is made durable by the append's own fsync of the spool, which follows.
   * Null when it cannot be done so (the caller takes the journalled raiseFileBase); the data unchanged
   * when nothing is needed.
   */
  private raiseBaseForAppend(fd: number, data: IndexData, lastUid: number): IndexData | null {
    const r = this.raisedBase(fd, data, lastUid);
    if (r === null || !('out' in r)) return r;
    const { at, raw, out, uidNext } = r;
    let a = 0;
    while (a < raw.length && raw[a] === out[a]) a++;
    if (a === raw.length) return { ...data, fileBase: { uidValidity: data.uidValidity, uidNext } };
    let b = raw.length;
    while (b > a && raw[b - 1] === out[b - 1]) b--;
    const pos = at.offset + a;
    if (b - a > 32 || Math.floor(pos / 512) !== Math.floor((pos + (b - a) - 1) / 512)) return null;
    if (writeSync(fd, out, a, b - a, pos) !== b - a) throw new StoreError('SERVERBUG', 'short write of the mailbox base header');
    killPoint('base-raised');
    return { ...data, fileBase: { uidValidity: data.uidValidity, uidNext } };
  }

  /**
   * Flag changes that keep every changed message's length (the usual case once our padded status
   * headers are in place) are written in place: only those messages' bytes, nothing shifts.
   */
  private *tryPatch(fd: number, data: IndexData, changes: Map<number, { flags: number; keywords: string[] }>): Steps<IndexData | null> {
    const patches: { x: number; data: Buffer }[] = [];
    const msgs = data.messages;
    const base = { uidValidity: data.uidValidity, uidNext: data.uidNext, keywords: data.keywords };
    let baseWritten = false;
    const reader = new SpanReader(fd);
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]!;
      const ch = changes.get(m.uid);
      if (!ch) continue;
      if (!m.fileUid) return null;
      yield;
      const raw = reader.get(m.offset, m.end - m.offset);
      if (raw.toString('latin1', 0, 5) !== 'From ') throw new StoreError('SERVERBUG', 'mailbox changed under the index');
      const b = i === 0 && !data.pseudo ? { header: 'X-IMAPbase' as const, ...base } : null;
      const out = restamp(raw, { flags: ch.flags, keywords: ch.keywords, uid: m.uid }, b);
      if (out.length !== raw.length) return null;
      if (b) baseWritten = true;
      patches.push({ x: m.offset, data: out });
    }
    yield* patchRangesSteps(fd, this.journalPath, patches);
    killPoint('before-index');
    const messages: IndexedMessage[] = new Array(msgs.length);
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]!;
      const ch = changes.get(m.uid);
      messages[i] = ch ? { ...m, flags: ch.flags, keywords: ch.keywords } : m;
      if ((i & 4095) === 4095) yield;
    }
    const next: IndexData = {
      ...data,
      stamp: this.stampOf(fd),
      fileBase: baseWritten ? { uidValidity: data.uidValidity, uidNext: data.uidNext } : data.fileBase,
      messages,
    };
    yield* this.saveSteps(next);
    return next;
  }

  /** After our own write of [x, newEnd): parse just that part and record it. */
  private *reindexFrom(fd: number, data: IndexData, start: number, x: number, newEnd: number, pseudo: IndexData['pseudo'], baseWritten: boolean): Steps<IndexData> {
    const stamp = this.stampOf(fd);
    const parsed = newEnd > x ? yield* parseSteps(fd, x, newEnd) : { preambleEnd: x, messages: [] };
    if (!parsed) throw new StoreError('SERVERBUG', 'rewritten mailbox does not parse');
    let msgs = parsed.messages;
    let ps = pseudo;
    let fileBase = data.fileBase;
    if (x === data.pseudo?.offset && msgs[0]?.pseudo) {
      ps = { offset: msgs[0].offset, end: msgs[0].end };
      msgs = msgs.slice(1);
    }
    if (baseWritten) fileBase = { uidValidity: data.uidValidity, uidNext: data.uidNext };
    if (start === 0 && !data.pseudo && msgs.length === 0) fileBase = null;
    // Keep FLAG_OLD claims and keyword list; UIDs are all in the spool now for the rewritten part.
    const next = yield* this.buildSteps(data.messages.slice(0, start), msgs, data, stamp, data.preambleEnd, ps, fileBase);
    next.uidNext = Math.max(next.uidNext, data.uidNext);
    yield* this.saveSteps(next);
    return next;
  }

  /** Append messages at the end (caller holds a 'create' lock). Returns the UIDs given. */
  appendMessages(fd: number, data: IndexData, items: NewMessage[]): { data: IndexData; uids: number[] } {
    this.checkSpace();
    if (data.messages.length && data.fileBase) {
      // The new X-UIDs must not pass the base header's last UID (see raiseFileBase): in place, or once
      // through a rewrite that leaves it in our fixed-width form, then in place.
      const last = data.uidNext + items.length - 1;
      data = this.raiseBaseForAppend(fd, data, last) ?? this.raiseFileBase(fd, data, last) ??
        this.raiseFileBase(fd, this.rewriteNow(fd, data, new Map(), new Set(), true), last) ?? data;
    }
    const size = fstatSync(fd).size;
    const parts: Buffer[] = [];
    // The last message must end with a blank line before our `From `; fixing that changes it too.
    let fixSep = false;
    if (size > 0) {
      const tail = preadExact(fd, Math.max(0, size - 2), Math.min(2, size));
      if (!(tail.length === 2 && tail[0] === LF && tail[1] === LF)) {
        parts.push(Buffer.from(tail[tail.length - 1] === LF ? '\n' : '\n\n'));
        fixSep = true;
      }
    }
    const whole = data.messages.length === 0;
    const keep = whole ? [] : fixSep ? data.messages.slice(0, -1) : data.messages;
    const reparseFrom = whole ? 0 : fixSep ? data.messages[data.messages.length - 1]!.offset : size;
    const uids: number[] = [];
    let uidNext = data.uidNext;
    const keywords = new Set(data.keywords);
    const writeBase = !data.pseudo && data.messages.length === 0;
    // Logged first: a kill after this leaves a record of UIDs that never appeared (harmless), never a
    // message without its append in the log.
    const log = this.changeLog(data.uidValidity);
    const logBefore = log.highestModseq();
    const modseq = log.add(CHANGE_APPEND, items.map((_x, i) => data.uidNext + i));
    killPoint('append-logged');
    items.forEach((it, i) => {
      const uid = uidNext++;
      uids.push(uid);
      for (const k of it.keywords) keywords.add(k);
      const base = writeBase && i === 0 ? { uidValidity: data.uidValidity, uidNext: data.uidNext + items.length, keywords: [...keywords] } : null;
      parts.push(storedForm(it.raw, it.date, { flags: it.flags, keywords: it.keywords, uid }, base));
    });
    replaceTail(fd, this.journalPath, size, parts);
    killPoint('before-index');
    const stamp = this.stampOf(fd);
    const parsed = parseSpool(fd, reparseFrom, stamp.size);
    if (!parsed) throw new StoreError('SERVERBUG', 'appended mailbox does not parse');
    const grown: IndexData = { ...data, uidNext, keywords: [...keywords], logSeen: data.logSeen === logBefore ? modseq : data.logSeen };
    let msgs = parsed.messages;
    let pseudo = data.pseudo;
    let fileBase = data.fileBase;
    if (whole) {
      // Whole file parsed: it may start with the pseudo-message after a preamble.
      if (msgs[0]?.pseudo) { pseudo = { offset: msgs[0].offset, end: msgs[0].end }; msgs = msgs.slice(1); }
      if (writeBase) fileBase = { uidValidity: data.uidValidity, uidNext: data.uidNext + items.length };
    }
    const next = this.build(keep, msgs, grown, stamp, whole ? parsed.preambleEnd : data.preambleEnd, pseudo, fileBase, [], false, modseq);
    next.uidNext = Math.max(next.uidNext, uidNext);
    this.save(next);
    return { data: next, uids };
  }

  /** Mark messages as no longer \Recent for anyone (index only; the spool gets `Status: O` on the next rewrite). */
  claimRecent(data: IndexData): { data: IndexData; claimed: number[] } {
    const claimed: number[] = [];
    const messages = data.messages.map((m) => {
      if (m.flags & FLAG_OLD) return m;
      claimed.push(m.uid);
      return { ...m, flags: m.flags | FLAG_OLD };
    });
    if (!claimed.length) return { data, claimed };
    const next = { ...data, messages };
    this.save(next);
    return { data: next, claimed };
  }

  /** Raw bytes of all real messages (for RENAME INBOX); expunged ones waiting for removal are left out. */
  rawMessages(fd: number, data: IndexData): Buffer {
    if (!data.messages.length) return Buffer.alloc(0);
    const s = data.messages[0]!.offset;
    if (!data.messages.some((m) => m.expunged)) return preadExact(fd, s, fstatSync(fd).size - s);
    const size = fstatSync(fd).size;
    const parts: Buffer[] = [];
    data.messages.forEach((m, i) => {
      if (m.expunged) return;
      const next = data.messages[i + 1];
      parts.push(preadExact(fd, m.offset, (next ? next.offset : size) - m.offset));
    });
    return Buffer.concat(parts);
  }

  /** Remove every real message (RENAME INBOX): keeps the preamble and the hidden pseudo-message. */
  clear(fd: number, data: IndexData): IndexData {
    if (!data.messages.length) return data;
    const x = data.messages[0]!.offset;
    // Sessions with the mailbox open learn of it as expunges (QRESYNC: VANISHED), then purges.
    const log = this.changeLog(data.uidValidity);
    const visible = data.messages.filter((m) => !m.expunged).map((m) => m.uid);
    if (visible.length) log.add(CHANGE_EXPUNGE, visible);
    replaceTail(fd, this.journalPath, x, []);
    const logSeen = log.add(CHANGE_PURGE, data.messages.map((m) => m.uid));
    const stamp = this.stampOf(fd);
    const next: IndexData = { ...data, stamp, messages: [], fileBase: data.pseudo ? data.fileBase : null, logSeen };
    this.save(next);
    return next;
  }
}

/** Does a path exist as a regular file without following a symlink? */
export function isRegularFile(path: string): boolean {
  let fd = -1;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    return fstatSync(fd).isFile();
  } catch { return false; } finally { if (fd >= 0) closeSync(fd); }
}

/** Whether `uid` is among `msgs` (ascending by UID, as every index keeps them). */
function hasUid(msgs: readonly { readonly uid: number }[], uid: number): boolean {
  let lo = 0;
  let hi = msgs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const u = msgs[mid]!.uid;
    if (u === uid) return true;
    if (u < uid) lo = mid + 1; else hi = mid - 1;
  }
  return false;
}
