// A selected mbox mailbox: the session's snapshot plus locked operations on the MboxFile.

import { Pacer, runPaced, runSteps, type Steps } from '../pace.js';
import { Readable } from 'node:stream';
import { lstatSync } from 'node:fs';
import { basename } from 'node:path';
import type { Mailbox, MailboxState, MessageInfo, Flag, StoreMode, ExpungedSince, FactsRequest, KeyColumns, KeyColumnsRequest, MessageFacts } from '../types.js';
import { mailboxFacts, mailboxFactsAll, mailboxKeyColumns, type FactsSource } from '../facts.js';
import { FactsFile } from '../facts-file.js';
import { StoreError } from '../types.js';
import type { MboxFile } from './file.js';
import { columnOf, F64, F_DATE, F_EXPUNGED, F_MODSEQ, F_SIZE, hasUnclaimed, NO_KEYWORDS, recordOf, unmadeColumns, U32, U_FLAGS, U_KEY, U_UID, type IndexData, type IndexedMessage } from './index-file.js';
import { SYSTEM_FLAGS, FLAG_OLD, FLAG_DELETED, isAtomKeyword, isQuotedFrom } from './format.js';
import { CHANGE_EXPUNGE, CHANGE_FLAGS } from '../changelog.js';
import { openViewSlot, type ViewSlot } from '../views.js';
import { watchPaths } from '../watch.js';

/** Messages above this size are streamed in pieces instead of read whole. */
const BIG_MESSAGE = 4 * 1024 * 1024;
/** Body bytes read per piece of a big message. Each piece leaves one output buffer of garbage; at 1 MB
 *  a 30 MB FETCH grew imapd's peak RSS by ~33 MB before the GC caught up, at 256 KB by ~9 MB. */
const PIECE = 256 * 1024;
/** A line longer than this is passed on in parts (a body with no line breaks must not pile up). */
const LONG_LINE = 64 * 1024;
/** Output buffers cycled by streamTransient(). */
const RING = 4;

/**
 * Stored body bytes to what the client sees: CRLF line endings, one level of mboxrd quoting removed.
 * Returns how much of `data` was used; the rest is an unfinished line for the next piece.
 *
 * A 30 MB message has 400k lines, so the per-line work is kept to one native search and one memmove:
 * the LFs are counted first (the output is at most one byte per line longer than the input), the input
 * is copied once to the end of the output buffer, and each line is then moved down into place with
 * copyWithin (cheaper per call than Buffer#copy) followed by CRLF. A line never moves up: the output
 * written so far is at most `data` up to the current line plus one byte per line done, which stays
 * below the line's source position (shifted by the total number of lines).
 */
export function toClientLines(
  data: Buffer,
  midLine: boolean,
  last: boolean,
  alloc: (size: number) => Buffer = Buffer.allocUnsafe,
): { out: Buffer; used: number; midLine: boolean } {
  let lines = 0;
  for (let i = data.indexOf(0x0a); i >= 0; i = data.indexOf(0x0a, i + 1)) lines++;
  const shift = lines;
  const out = alloc(data.length + shift);
  data.copy(out, shift);
  let o = 0;
  let p = 0;
  let mid = midLine;
  for (let left = lines; left > 0; left--) {
    const nl = data.indexOf(0x0a, p);
    let ce = nl;
    if (ce > p && data[ce - 1] === 0x0d) ce--;
    const s = !mid && isQuotedFrom(data, p, ce) ? p + 1 : p;
    out.copyWithin(o, s + shift, ce + shift);
    o += ce - s;
    out[o++] = 0x0d;
    out[o++] = 0x0a;
    mid = false;
    p = nl + 1;
  }
  if (p < data.length && (last || data.length - p > LONG_LINE)) {
    // The end of the message, or a very long line: pass on what we have. A CR might precede the next
    // piece's LF, so it waits; the quoting of a line is decided at its start.
    let e = data.length;
    if (!last && data[e - 1] === 0x0d) e--;
    const s = !mid && isQuotedFrom(data, p, e) ? p + 1 : p;
    out.copyWithin(o, s + shift, e + shift);
    o += e - s;
    mid = !last;
    p = e;
  }
  return { out: out.subarray(0, o), used: p, midLine: mid };
}

export function flagSet(m: { readonly flags: number; readonly keywords: readonly string[] }): Set<Flag> {
  const s = new Set<Flag>();
  for (const [name, bit] of SYSTEM_FLAGS) if (m.flags & bit) s.add(name);
  for (const k of m.keywords) s.add(k);
  return s;
}

/** Split IMAP flags into FLAG_* bits and keywords; \Recent and unknown system flags are ignored. */
export function encodeFlags(flags: readonly Flag[]): { bits: number; keywords: string[] } {
  let bits = 0;
  const keywords: string[] = [];
  for (const f of flags) {
    if (f.startsWith('\\')) {
      const hit = SYSTEM_FLAGS.find(([n]) => n.toLowerCase() === f.toLowerCase());
      if (hit) bits |= hit[1];
    } else if (isAtomKeyword(f) && !keywords.includes(f)) keywords.push(f);
  }
  return { bits, keywords };
}

/** MessageInfo over an index record (kept alive by the file's current view anyway): no copies of its
 *  numbers, and the Date is made only when asked for (100k Dates cost an open). */
class MboxMessageInfo implements MessageInfo {
  private date?: Date;
  /** A field, not a getter: binary searches by UID read it often, and a record's UID never changes. */
  readonly uid: number;
  constructor(private readonly m: IndexedMessage, readonly flags: ReadonlySet<Flag>, readonly recent: boolean) {
    this.uid = m.uid;
  }
  get size(): number {
    return this.m.size;
  }
  get uidl(): string | undefined {
    return this.m.uidl;
  }
  get modseq(): number {
    return this.m.modseq;
  }
  get internalDate(): Date {
    return (this.date ??= new Date(this.m.date));
  }
}

/** MessageInfo over record `at` of an index file's columns (index-file.ts: an index decoded from its
 *  file makes no record object per message): its numbers read from there, no copies (a copied date is
 *  a heap number per message, and 100k of them cost a SELECT its garbage collections). */
class ColumnMessageInfo implements MessageInfo {
  private date?: Date;
  constructor(
    /** A field, not a getter: binary searches by UID read it often, and a record's UID never changes. */
    readonly uid: number,
    private readonly f: Float64Array,
    private readonly at: number,
    readonly flags: ReadonlySet<Flag>,
    readonly recent: boolean,
    readonly uidl: string | undefined,
  ) {}
  get size(): number {
    return this.f[this.at * F64 + F_SIZE]!;
  }
  get modseq(): number {
    return this.f[this.at * F64 + F_MODSEQ]!;
  }
  get internalDate(): Date {
    return (this.date ??= new Date(this.f[this.at * F64 + F_DATE]!));
  }
}

export class MboxMailbox implements Mailbox {
  state: MailboxState;
  /** The index data `state` was made from. The file's knowledge (MboxFile.cur) may move on without
   *  `state`: a read (FETCH BODY[], facts of an uncached message) that finds the files changed syncs
   *  under the lock. refresh() believes its state current only while both are the same data. */
  private stateData: IndexData;
  /** Set by the store: lets go of the folder's in-use lock. */
  onClose: (() => void) | null = null;
  private readonly recent = new Set<number>();
  private closed = false;
  private readonly watchers = new Set<() => void>();
  /** The spool's inode when opened ('' if it did not exist): another one means the folder was
   *  deleted or renamed away (and maybe created again). */
  private readonly ino: string;
  /** The facts cache (`<key>.facts` beside the index), opened at the first facts() call. */
  private factsFile: FactsFile | null = null;

  constructor(
    readonly name: string,
    readonly readOnly: boolean,
    private readonly file: MboxFile,
    private readonly claim: boolean,
    data: IndexData,
    /** This handle's claim on expunged messages (deferred removal, views.ts). */
    private readonly slot: ViewSlot,
    claimed: readonly number[],
    /** Lets go of the process's kept index of this mailbox (index-cache.ts). */
    private readonly releaseIndex: () => void,
  ) {
    for (const u of claimed) this.recent.add(u);
    this.ino = data.stamp.ino;
    this.stateData = data;
    this.state = this.snapshot(data);
  }

  /** Open: sync under the lock and, for SELECT, claim \Recent. The handle's view slot is made under the
   *  same lock, so no purge can take a message of its first state before it is counted. */
  static async open(name: string, file: MboxFile, readOnly: boolean, claim: boolean): Promise<MboxMailbox> {
    const doClaim = claim && !readOnly;
    const claimed: number[] = [];
    let slot: ViewSlot | null = null;
    const releaseIndex = file.holdIndex();
    const data = await file.locked('read', async (_fd, d) => {
      slot = await openViewSlot(file.viewsDir, d.logSeen);
      if (!doClaim || !hasUnclaimed(d)) return d;
      const r = file.claimRecent(d);
      claimed.push(...r.claimed);
      return r.data;
    }).catch((e: unknown) => {
      (slot as ViewSlot | null)?.close();
      releaseIndex();
      throw e;
    });
    return new MboxMailbox(name, readOnly, file, doClaim, data, slot!, claimed, releaseIndex);
  }

  private snapshot(d: IndexData): MailboxState {
    return runSteps(this.snapshotSteps(d));
  }

  /** snapshot() in slices (store/pace.ts), for callers that may let the event loop turn: 100k
   *  MessageInfos take tens of ms, more with the GC they bring. */
  private snapshotPaced(d: IndexData): Promise<MailboxState> {
    return runPaced(this.snapshotSteps(d));
  }

  private *snapshotSteps(d: IndexData): Steps<MailboxState> {
    // Flag sets are immutable by contract, so messages with the same flags share one (100k messages
    // usually have a handful of distinct flag combinations).
    const sets = new Map<string, ReadonlySet<Flag>>();
    // Keyword-less combinations (nearly all messages) are found by their bits, without a string key.
    const bySys: (ReadonlySet<Flag> | undefined)[] = [];
    const anyRecent = this.recent.size > 0;
    const messages: MessageInfo[] = [];
    const setOf = (bits: number, keywords: readonly string[]): ReadonlySet<Flag> => {
      let flags: ReadonlySet<Flag> | undefined;
      if (keywords.length) {
        const key = `${bits} ${keywords.join(' ')}`;
        flags = sets.get(key);
        if (!flags) { flags = flagSet({ flags: bits, keywords }); sets.set(key, flags); }
      } else {
        flags = bySys[bits];
        if (!flags) { flags = flagSet({ flags: bits, keywords }); bySys[bits] = flags; }
      }
      return flags;
    };
    // A session that does not claim \Recent (EXAMINE) sees it on messages nobody has claimed yet.
    const recentOf = (uid: number, flags: number) => this.claim ? anyRecent && this.recent.has(uid) : !(flags & FLAG_OLD);
    const c = unmadeColumns(d);
    if (c) {
      // Straight from the index file's columns: no record object per message.
      const { f, u, extra } = c;
      for (let i = 0; i < c.count; i++) {
        if ((i & 2047) === 2047) yield;
        if (f[i * F64 + F_EXPUNGED]) continue; // expunged, kept for sessions that may still read it
        const uid = u[i * U32 + U_UID]!;
        const fl = u[i * U32 + U_FLAGS]!;
        const x = extra.get(i);
        messages.push(new ColumnMessageInfo(uid, f, i, setOf(fl & ~FLAG_OLD, x?.[0] ?? NO_KEYWORDS), recentOf(uid, fl), x?.[1] || undefined));
      }
    } else {
      const src = d.messages;
      for (let i = 0; i < src.length; i++) {
        if ((i & 2047) === 2047) yield;
        const m = src[i]!;
        if (m.expunged) continue;
        messages.push(new MboxMessageInfo(m, setOf(m.flags & ~FLAG_OLD, m.keywords), recentOf(m.uid, m.flags)));
      }
    }
    return { uidValidity: d.uidValidity, uidNext: d.uidNext, keywords: d.keywords, messages, highestModseq: d.logSeen };
  }

  private live(): void {
    if (this.closed) throw new StoreError('CANNOT', 'mailbox is closed');
  }

  private writable(): void {
    this.live();
    if (this.readOnly) throw new StoreError('CANNOT', 'mailbox is open read-only');
  }

  /** Folders only (INBOX always exists, and may lose its file when emptied): the file this handle
   *  opened is no longer at its path. */
  private checkStillThere(d?: IndexData): void {
    if (this.name === 'INBOX' || !this.ino) return;
    let ino = '';
    try { ino = String(lstatSync(this.file.path, { bigint: true }).ino); } catch { /* gone */ }
    // A recreated file may get the old inode number back; its UIDVALIDITY is new.
    if (ino !== this.ino || (d && d.uidValidity !== this.state.uidValidity)) {
      throw new StoreError('NONEXISTENT', `mailbox ${this.name} was deleted or renamed`);
    }
  }

  async refresh(force = false): Promise<MailboxState> {
    this.live();
    this.checkStillThere();
    if (!force && this.stateData === this.file.cur && this.file.probablyCurrent()) return this.state;
    await this.file.locked('read', async (_fd, d) => {
      this.checkStillThere(d);
      let data = d;
      if (this.claim && hasUnclaimed(d)) {
        const r = this.file.claimRecent(d);
        for (const u of r.claimed) this.recent.add(u);
        data = r.data;
      }
      this.state = await this.snapshotPaced(data);
      this.stateData = data;
    });
    return this.state;
  }

  /** The message by UID while this handle may still read it (deferred removal: an expunged one until
   *  this handle acknowledged a state without it). */
  private readable(d: IndexData, uid: number): IndexedMessage | undefined {
    const m = recordOf(d, uid);
    if (m && m.expunged && m.expunged <= this.slot.acknowledged) return undefined;
    return m;
  }

  async read(uid: number): Promise<Buffer> {
    this.live();
    return this.file.readLocked((fd, d) => {
      const m = this.readable(d, uid);
      if (!m || fd < 0) throw new StoreError('NONEXISTENT', `message UID ${uid} no longer exists`);
      return this.file.readMessage(fd, m);
    });
  }

  /** Parsed facts (store/facts.ts); a message's identity is its RFC822.SIZE and recognition hash. */
  facts(uids: readonly number[], want: FactsRequest): AsyncIterable<MessageFacts> {
    this.live();
    this.factsFile ??= new FactsFile({ dir: this.file.indexDir, name: basename(this.file.factsPath), writable: !this.readOnly });
    return mailboxFacts(this.factsFile, this.factsSource(), uids, want);
  }

  factsAll(uids: readonly number[], want: FactsRequest): Promise<MessageFacts[]> {
    this.live();
    this.factsFile ??= new FactsFile({ dir: this.file.indexDir, name: basename(this.file.factsPath), writable: !this.readOnly });
    return mailboxFactsAll(this.factsFile, this.factsSource(), uids, want);
  }

  keyColumns(uids: readonly number[], want: KeyColumnsRequest): Promise<KeyColumns> {
    this.live();
    this.factsFile ??= new FactsFile({ dir: this.file.indexDir, name: basename(this.file.factsPath), writable: !this.readOnly });
    return mailboxKeyColumns(this.factsFile, this.factsSource(), uids, want);
  }

  private factsSource(): FactsSource {
    const ident = (m: IndexedMessage) => `${m.size}.${m.key}`;
    const self = this;
    return {
      get state() { return self.state; },
      identity: (uid) => {
        const d = this.file.cur;
        const m = d ? this.readable(d, uid) : undefined;
        return m ? ident(m) : undefined;
      },
      identityPairs: (uids) => {
        // One walk in UID order (the index is sorted by UID), a binary search only for a UID out of order.
        const out = new Float64Array(2 * uids.length).fill(NaN);
        const d = this.file.cur;
        if (!d) return out;
        const acked = this.slot.acknowledged;
        // Each walk starts at the first UID asked (a big FETCH or SEARCH asks in batches: walking from
        // the start for each would cost the square of the mailbox's size over the batch size).
        const first = uids.length ? uids[0]! : 0;
        const c = unmadeColumns(d);
        if (c) {
          // From the index file's columns.
          let j = 0;
          for (let hi = c.count; j < hi;) {
            const mid = (j + hi) >>> 1;
            if (c.u[mid * U32 + U_UID]! < first) j = mid + 1; else hi = mid;
          }
          let prev = -1;
          for (let i = 0; i < uids.length; i++) {
            const uid = uids[i]!;
            let k: number;
            if (uid > prev) {
              while (j < c.count && c.u[j * U32 + U_UID]! < uid) j++;
              k = j < c.count && c.u[j * U32 + U_UID] === uid ? j : -1;
              prev = uid;
            } else {
              k = columnOf(c, uid);
            }
            if (k < 0) continue;
            const x = c.f[k * F64 + F_EXPUNGED]!;
            if (x && x <= acked) continue;
            out[2 * i] = c.f[k * F64 + F_SIZE]!;
            out[2 * i + 1] = c.u[k * U32 + U_KEY]!;
          }
          return out;
        }
        const msgs = d.messages;
        let j = 0;
        for (let hi = msgs.length; j < hi;) {
          const mid = (j + hi) >>> 1;
          if (msgs[mid]!.uid < first) j = mid + 1; else hi = mid;
        }
        let prev = -1; // the largest UID walked to
        for (let i = 0; i < uids.length; i++) {
          const uid = uids[i]!;
          let m: IndexedMessage | undefined;
          if (uid > prev) {
            while (j < msgs.length && msgs[j]!.uid < uid) j++;
            m = j < msgs.length && msgs[j]!.uid === uid ? msgs[j] : undefined;
            prev = uid;
          } else {
            m = recordOf(d, uid);
          }
          if (!m || (m.expunged && m.expunged <= acked)) continue;
          out[2 * i] = m.size;
          out[2 * i + 1] = m.key;
        }
        return out;
      },
      load: (uid) => this.file.readLocked((fd, d) => {
        const m = this.readable(d, uid);
        if (!m || fd < 0) throw new StoreError('NONEXISTENT', `message UID ${uid} no longer exists`);
        return { bytes: this.file.readMessage(fd, m), identity: d.uidValidity === this.state.uidValidity ? ident(m) : undefined };
      }),
    };
  }

  stream(uid: number, start = 0, end?: number): Readable {
    return this.streamWith(uid, start, end, 0);
  }

  /**
   * Like stream(), for a consumer that is done with each chunk (written and drained) before it reads the
   * next one: the pieces of a big message then reuse RING output buffers instead of leaving one buffer
   * of garbage per piece (a 50 MB FETCH grew peak RSS by ~20 MB before the GC caught up). A chunk is
   * overwritten while the stream produces the RING-th chunk after it; Readable.from reads at most
   * one chunk ahead of the consumer (beyond its small high-water mark), so RING = 4 leaves a margin.
   * Not for consumers that collect chunks.
   */
  streamTransient(uid: number, start = 0, end?: number): Readable {
    return this.streamWith(uid, start, end, RING);
  }

  private streamWith(uid: number, start: number, end: number | undefined, ring: number): Readable {
    const self = this;
    return Readable.from((async function* () {
      const cur = self.file.cur;
      const m = cur ? recordOf(cur, uid) : undefined;
      if (!m || m.size <= BIG_MESSAGE) {
        // The lock is held only while reading; the bytes are then streamed from memory.
        const whole = await self.read(uid);
        const e = end === undefined ? whole.length : Math.min(end, whole.length);
        const s = Math.min(Math.max(0, start), e);
        for (let p = s; p < e; p += 65536) yield whole.subarray(p, Math.min(e, p + 65536));
        return;
      }
      yield* self.streamBig(uid, start, end ?? Infinity, ring);
    })(), { objectMode: false });
  }

  /**
   * A big message in pieces, each read under its own short read lock (delivery is never blocked for the
   * whole transfer) and memory stays bounded: one reused read buffer, one output buffer per piece.
   * Positions are kept relative to the body, which a rewrite never changes even when it moves the
   * message or changes its status headers.
   */
  private async *streamBig(uid: number, start: number, end: number, ring: number): AsyncGenerator<Buffer> {
    const slots: Buffer[] = [];
    let piecesMade = 0;
    const alloc = ring > 0
      ? (size: number): Buffer => {
          const k = piecesMade++ % ring;
          let b = slots[k];
          if (!b || b.length < size) b = slots[k] = Buffer.allocUnsafe(Math.max(size, PIECE + (PIECE >> 3)));
          return b;
        }
      : Buffer.allocUnsafe;
    let pos = 0;
    let bodyRel = 0;
    // Reused for every piece: the unfinished line of the last piece (at most LONG_LINE + 1 bytes, see
    // toClientLines) is moved to the front and the next body bytes are read in behind it.
    const buf = Buffer.allocUnsafe(PIECE + LONG_LINE + 16);
    let carried = 0;
    /** The current line has been started already (its mboxrd quoting is decided). */
    let midLine = false;
    let layout: { offset: number; end: number; bodyStart: number; bodyLen: number } | null = null;
    const emit = function* (b: Buffer): Generator<Buffer> {
      const s = Math.max(start - pos, 0);
      const e = Math.min(end - pos, b.length);
      if (s < e) yield b.subarray(s, e);
      pos += b.length;
    };
    for (;;) {
      if (pos >= end) return;
      const piece = await this.file.readLocked((fd, d) => {
        const m = this.readable(d, uid);
        if (!m || fd < 0) throw new StoreError('NONEXISTENT', `message UID ${uid} no longer exists`);
        let header: Buffer | null = null;
        if (!layout || layout.offset !== m.offset || layout.end !== m.end) {
          const h = this.file.readHeader(fd, m);
          if (!h) return null;
          header = h.header;
          layout = { offset: m.offset, end: m.end, bodyStart: h.bodyStart, bodyLen: h.bodyLen };
        }
        const from = Math.min(bodyRel, layout.bodyLen);
        const n = this.file.readInto(fd, buf.subarray(carried), m.offset + layout.bodyStart + from, Math.min(PIECE, layout.bodyLen - from));
        return { header, n, bodyLen: layout.bodyLen };
      });
      if (!piece) {
        // No end of header: an odd message; read it whole.
        const whole = await this.read(uid);
        yield* emit(whole.subarray(pos));
        return;
      }
      if (piece.header && bodyRel === 0) yield* emit(piece.header);
      bodyRel += piece.n;
      const last = bodyRel >= piece.bodyLen || piece.n === 0;
      const data = buf.subarray(0, carried + piece.n);
      const r = toClientLines(data, midLine, last, alloc);
      carried = data.length - r.used;
      buf.copyWithin(0, r.used, data.length);
      midLine = r.midLine;
      yield* emit(r.out);
      if (last) return;
    }
  }

  async setFlags(
    uids: readonly number[], mode: StoreMode, flags: readonly Flag[], unchangedSince?: number,
  ): Promise<MailboxState & { readonly modified?: readonly number[] }> {
    this.writable();
    const want = encodeFlags(flags);
    const set = new Set(uids);
    const modified: number[] = [];
    await this.file.locked('write', async (fd, d) => {
      const changes = new Map<number, { flags: number; keywords: string[] }>();
      // STORE 1:* of 100,000 messages: paced (store/pace.ts) like the rewrite below; we hold the lock.
      const pace = new Pacer();
      for (const m of d.messages) {
        if (pace.due()) await pace.pause();
        // Unknown or expunged (by anyone): a silent no-op (RFC 2180 4.2.1).
        if (!set.has(m.uid) || m.expunged) continue;
        if (unchangedSince !== undefined && m.modseq > unchangedSince) { modified.push(m.uid); continue; }
        const sys = m.flags & ~FLAG_OLD;
        let bits: number;
        let kws: string[];
        if (mode === 'add') { bits = sys | want.bits; kws = [...new Set([...m.keywords, ...want.keywords])]; }
        else if (mode === 'remove') { bits = sys & ~want.bits; kws = m.keywords.filter((k) => !want.keywords.includes(k)); }
        else { bits = want.bits; kws = want.keywords.slice(); }
        const same = bits === sys && kws.length === m.keywords.length && kws.every((k) => m.keywords.includes(k));
        if (!same) changes.set(m.uid, { flags: bits | (m.flags & FLAG_OLD), keywords: kws });
      }
      let data = d;
      if (changes.size) {
        // Logged first: a kill after this at worst gives unchanged messages a new mod-sequence.
        const modseq = this.file.changeLog(d.uidValidity).add(CHANGE_FLAGS, [...changes.keys()]);
        const kwAll = new Set(d.keywords);
        for (const c of changes.values()) for (const k of c.keywords) kwAll.add(k);
        const messages: IndexedMessage[] = [];
        for (const m of d.messages) {
          messages.push(changes.has(m.uid) ? { ...m, modseq } : m);
          if (pace.due()) await pace.pause();
        }
        data = await this.file.rewrite(fd, { ...d, keywords: [...kwAll], messages, logSeen: d.logSeen === modseq - 1 ? modseq : d.logSeen }, changes, new Set());
      }
      this.state = await this.snapshotPaced(data);
      this.stateData = data;
    }, true);
    return modified.length ? { ...this.state, modified } : this.state;
  }

  /**
   * Deferred expunge: the change log records it, the index hides the messages from every state, and
   * their bytes stay in the spool (marked \\Deleted, with their X-UID, so a lost index or a program
   * reading the spool never brings them back as current mail) until no live handle can read them.
   */
  async expunge(uids?: readonly number[]): Promise<number[]> {
    this.writable();
    const only = uids ? new Set(uids) : null;
    let removed: number[] = [];
    await this.file.locked('write', async (fd, d) => {
      const remove = new Set<number>();
      for (const m of d.messages) {
        if (m.expunged) continue;
        if (only ? only.has(m.uid) : (m.flags & FLAG_DELETED) !== 0) remove.add(m.uid);
      }
      let data = d;
      if (remove.size) {
        const modseq = this.file.changeLog(d.uidValidity).add(CHANGE_EXPUNGE, [...remove]);
        const changes = new Map<number, { flags: number; keywords: string[] }>();
        let unstamped = false;
        const pace = new Pacer();
        const messages: IndexedMessage[] = [];
        for (const m of d.messages) {
          if (pace.due()) await pace.pause();
          if (!remove.has(m.uid)) { messages.push(m); continue; }
          if (!m.fileUid) unstamped = true;
          if (!(m.flags & FLAG_DELETED) || !m.fileUid) changes.set(m.uid, { flags: m.flags | FLAG_DELETED, keywords: m.keywords });
          messages.push({ ...m, expunged: modseq, flags: m.flags | FLAG_DELETED });
        }
        const next = { ...d, messages, logSeen: d.logSeen === modseq - 1 ? modseq : d.logSeen };
        // A message without X-UID in the spool gets it now (a rewrite from it on): a lost index must
        // find it by UID in the log. A stamped one is marked \Deleted only where that fits in place,
        // so EXPUNGE stays O(expunged); otherwise its mark waits for the next rewrite (the index has it).
        const patched = unstamped ? null : await this.file.patchInPlace(fd, next, changes);
        if (patched) data = patched;
        else if (unstamped) data = await this.file.rewrite(fd, next, changes, new Set());
        else { await this.file.savePaced(next); data = next; }
      }
      removed = [...remove];
      for (const u of removed) this.recent.delete(u);
      this.state = await this.snapshotPaced(data);
      this.stateData = data;
    }, true);
    return removed;
  }

  acknowledge(state: MailboxState): void {
    if (this.closed) return;
    this.slot.advance(state.highestModseq);
  }

  async expungedSince(since: number): Promise<ExpungedSince> {
    this.live();
    const r = this.file.changeLog(this.state.uidValidity).since(since);
    const uids = new Set<number>();
    for (const rec of r.records) if (rec.kind === CHANGE_EXPUNGE) for (const u of rec.uids) uids.add(u);
    return { uids: [...uids].sort((a, b) => a - b), complete: r.complete };
  }

  watch(onChange: () => void): () => void {
    this.live();
    const stop = watchPaths([this.file.path, this.file.modlogPath], onChange);
    // Sessions of this process: at once, through the bus (their change-log appends publish it).
    const unsub = this.file.bus?.subscribe(this.file.modlogPath, onChange);
    const done = () => { stop(); unsub?.(); this.watchers.delete(done); };
    this.watchers.add(done);
    return done;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.watchers]) w();
    // Our claim on expunged messages ends first, so the purge below may take them.
    this.slot.close();
    this.file.releaseReads();
    try {
      // Only the file this handle opened: a folder deleted or replaced meanwhile, or a drop file that
      // is gone, has nothing of ours to purge (and locking its path would make a new empty index).
      let ino = '';
      try { ino = String(lstatSync(this.file.path, { bigint: true }).ino); } catch { /* gone */ }
      const log = this.file.changeLog(this.state.uidValidity);
      if (ino && ino === this.ino && log.pendingExpunges().length) await this.file.locked('write', () => undefined, true);
    } catch { /* read-only or busy: the next writer purges */ }
    this.releaseIndex();
    // The facts file last: its entries are then the most recently used of this mailbox's idle ones, so a
    // budget too small for all drops the index (a 100k one decodes in ~5 ms) before the SORT/THREAD keys
    // (~250 ms to read again).
    this.factsFile?.close();
    this.onClose?.();
    this.onClose = null;
  }
}
