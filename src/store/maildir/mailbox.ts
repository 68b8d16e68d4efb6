// One open maildir (INBOX or a Maildir++ folder). Messages are immutable files and flags live in their
// names; every change (UIDs given to new files, flag renames, expunges, purges) is made under the
// dovecot-uidlist dot-lock and logged in dmail-modlog with its mod-sequence (changes.ts). Reading takes
// no lock: a refresh reads the log first, then lists new/ and cur/, so a change it finds logged is one
// its listing shows. A change it finds on disk but not in the log (Dovecot, mutt, a writer killed
// between its rename and its log record) is logged by the first session that notices it, under the
// lock. Expunged messages are hidden at once but their files stay (readable by this handle until it
// acknowledges a state without them) until no live handle (dmail-views/) can reference them.

import { promises as fsp, renameSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ExpungedSince, FactsRequest, Flag, KeyColumns, KeyColumnsRequest, Mailbox, MailboxState, MessageFacts, MessageInfo, StoreMode } from '../types.js';
import { mailboxFacts, mailboxFactsAll, mailboxKeyColumns, type FactsSource } from '../facts.js';
import { FactsFile } from '../facts-file.js';
import { StoreError } from '../types.js';
import { CHANGE_APPEND, CHANGE_EXPUNGE, CHANGE_FLAGS, CHANGE_PURGE, type ChangeLog, type ChangeRecord } from '../changelog.js';
import { killPoint } from '../killpoint.js';
import { minAcknowledged, openViewSlot, type ViewSlot } from '../views.js';
import { watchPaths } from '../watch.js';
import { changeLogOf, MODLOG, pendingUids, purgeLocked, viewsDir, withDeletedFlag } from './changes.js';
import { crlfSlice, toCrlf } from './crlf.js';
import { measureFile, measureSmallSync } from './measure.js';
import { asStoreError, mapped } from '../errors.js';
import { FS_PARALLEL, mapLimit } from './limit.js';
import { Pacer } from '../pace.js';
import { baseTokens, canonicalSystemFlag, compareBaseTokens, fileName, flagsFromInfo, infoForFlags, parseName, renewBase, type ParsedName } from './filename.js';
import { ensureKeywords, KEYWORDS, letterFor, readKeywords, type KeywordTable } from './keywords.js';
import { extValue, UIDLIST, type SharedUidList, type UidList } from './uidlist.js';
import type { MaildirEnv } from './env.js';
import { holdUidList, lockedUidList, loadUidList } from './uidlist-sync.js';
import { hasIntent } from './deliver-intent.js';
import { scanMaildir, locate, type ScanEntry } from './scan.js';
import { claimRecentBases, pendingRecent, RECENT_FILE } from './recent.js';
import { factsOf, holdIndex, readIndex, writeIndex, type KnownFacts, type MailboxIndex } from './facts-cache.js';

type Sub = 'new' | 'cur';

/** The facts cache (store/facts-file.ts) in the folder, beside dmail-index. */
export const FACTS_CACHE = 'dmail-facts';

async function dirExists(path: string): Promise<boolean> {
  try {
    return (await fsp.stat(path)).isDirectory();
  } catch {
    return false;
  }
}

interface Entry extends MessageInfo {
  readonly base: string;
  readonly sub: Sub;
  readonly file: string;
  readonly info: string | undefined;
}

/** What an unreadable file is shown as: never saved, so the next session looks at the file again. */
const isPlaceholder = (e: Entry) => e.internalDate.getTime() === 0 && e.size === 0;


/** What the change log said after a given point, as a refresh or a write applies it. */
interface LogRead {
  log: ChangeLog;
  /** The point it was read from (records are after it). */
  from: number;
  records: ChangeRecord[];
  /** False when records after `from` were compacted away: known mod-sequences are then raised to base. */
  complete: boolean;
  base: number;
  /** The log's HIGHESTMODSEQ as far as these records go. */
  highest: number;
}

function readLog(log: ChangeLog, from: number): LogRead {
  const base = log.baseModseq();
  const { records, complete } = log.since(from);
  const last = records.length > 0 ? records[records.length - 1]!.modseq : 0;
  return { log, from, records, complete, base, highest: Math.max(from, last, base, 1) };
}

/** An info part as a comparable flag string (no info and an empty one are the same flags). */
const infoKey = (info: string | undefined) => [...(info ?? '')].sort().join('');

export interface MaildirMailboxOptions {
  claimRecent?: boolean;
  /** Register as a live handle (dmail-views/) so expunged messages stay readable until acknowledged.
   *  Off for the store's internal STATUS views, which never read messages. */
  live?: boolean;
}

export class MaildirMailbox implements Mailbox {
  private entries = new Map<number, Entry>();
  private current: MailboxState = { uidValidity: 0, uidNext: 1, keywords: [], messages: [], highestModseq: 1 };
  private keywordTable: KeywordTable = [];
  /** Base names this session moved out of new/: its \Recent messages. */
  private readonly recentBases = new Set<string>();
  /** For a view that does not claim \Recent: bases delivered to cur/ that nobody has claimed yet. */
  private pendingRecent = new Set<string>();
  /** vsize of files whose name carries no W=, computed once. */
  private readonly vsizeCache = new Map<string, number>();
  /** mtimes learnt while numbering new files, so they are not stat'ed twice. */
  private readonly measuredDates = new Map<string, number>();
  /** dmail-index as read at the first refresh; dropped once its facts are in `entries`. */
  private savedIndex: MailboxIndex | undefined;
  private savedFacts: Map<string, KnownFacts> | undefined;
  private factsLoaded = false;
  /** `entries` are exactly the mailbox as it was at `lastStamp`: every listed file has an entry with
   *  real facts, and nothing (not even we) changed it after the stamp was taken. Only then may
   *  dmail-index carry the stamp and stand in for the listing. */
  private exactAtStamp = false;
  /** The stamp dmail-index on disk carries, as far as this session knows. */
  private indexStamp = '';
  /** The last rebuild was the session's first look at the mailbox. */
  private justLoaded = false;
  /** Entries whose facts came from the files, not from dmail-index: worth saving. */
  private unsavedFacts = 0;
  /** A long session rewrites dmail-index only after this many new messages (or at close). */
  private static readonly SAVE_AFTER = 64;
  private lastStamp = '';
  private closed = false;
  private readonly claimRecent: boolean;
  private readonly live: boolean;

  // Mod-sequences and deferred removal.
  /** The change log's mod-sequence `entries` and `hidden` reflect (the state's HIGHESTMODSEQ). */
  private syncedTo = 0;
  /** UIDs whose expunge is logged and not yet purged: their files may still be listed. */
  private hidden = new Set<number>();
  /** Messages this handle had in a state, expunged since: readable until it acknowledges. */
  private readonly ghosts = new Map<number, { entry: Entry; modseq: number }>();
  private slot: ViewSlot | undefined;
  private acked = 0;
  /** An acknowledgement may have let expunged files go: the next refresh purges. */
  private purgeDue = false;
  /** Mod-sequences of logged appends/flag changes whose message this handle has not listed yet (the
   *  log is read before the listing): kept for the refresh that lists it. Bounded. */
  private unlisted = new Map<number, number>();
  private static readonly UNLISTED_MAX = 10_000;
  /** Identity of the mailbox directory when opened: another one under the name means deleted. */
  private dirIno: bigint | undefined;
  /** Lets go of this mailbox's parsed uidlist in the process cache (held while the handle is open). */
  private releaseUidList: (() => void) | undefined;
  private releaseIndex: (() => void) | undefined;
  /** Opened at the first facts() call. */
  private factsFile: FactsFile | null = null;

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly readOnly: boolean,
    options: MaildirMailboxOptions,
    private readonly env: MaildirEnv,
  ) {
    this.claimRecent = options.claimRecent ?? false;
    this.live = options.live ?? false;
  }

  get state(): MailboxState {
    return this.current;
  }

  /** First look, for a live handle: the slot exists (acknowledging nothing) before the first listing, so
   *  no purge can take what the first state shows; then it acknowledges that state. */
  async open(): Promise<void> {
    if (this.live) {
      try {
        this.slot = await openViewSlot(viewsDir(this.dir), 0, this.env.log);
      } catch (e) {
        // A mailbox we cannot write to: nobody can purge there either.
        this.env.log.warn({ dir: this.dir, err: String(e) }, 'maildir: no view slot; expunged messages may vanish under this session');
      }
    }
    try {
      await this.refresh();
    } catch (e) {
      this.slot?.close();
      this.slot = undefined;
      throw e;
    }
    this.acked = this.current.highestModseq;
    this.slot?.advance(this.acked);
  }

  refresh(): Promise<MailboxState> {
    return mapped(() => this.refreshImpl());
  }

  private async refreshImpl(): Promise<MailboxState> {
    if (this.closed) throw new StoreError('CANNOT', 'Mailbox is closed');
    if (this.purgeDue) {
      this.purgeDue = false;
      await this.purgeNow();
    }
    // Taken before reading: a change during the rebuild then shows as a different stamp next time.
    const stamp = await this.stamp();
    if (stamp !== undefined && stamp === this.lastStamp) return this.current;
    if (!this.factsLoaded) {
      this.savedIndex = await readIndex(this.dir);
      if (stamp !== undefined && (await this.openFromIndex(stamp))) return this.current;
    }
    for (let attempt = 0; ; attempt++) {
      const ok = await this.rebuild(attempt >= 2);
      if (ok) break;
    }
    this.lastStamp = stamp ?? '';
    if (stamp === undefined) this.exactAtStamp = false;
    if (this.unsavedFacts >= MaildirMailbox.SAVE_AFTER || (this.justLoaded && (this.unsavedFacts > 0 || this.snapshotIsNews()))) {
      await this.saveFacts();
    }
    this.justLoaded = false;
    return this.current;
  }

  /** First refresh of a mailbox nobody changed since dmail-index was written: take the messages from
   *  it, without listing new/ and cur/ or parsing dovecot-uidlist. */
  private async openFromIndex(stamp: string): Promise<boolean> {
    const index = this.savedIndex;
    if (!index || index.stamp === '' || index.stamp !== stamp) return false;
    // Messages in new/ must move to cur/ and become \Recent: that is the full path's work.
    if (!this.readOnly && this.claimRecent && index.records.some((r) => r.sub === 'new')) return false;
    // So must \Recent messages delivered to cur/ (recent.ts), for every view.
    if (await fsp.lstat(join(this.dir, RECENT_FILE)).then(() => true, () => false)) return false;
    // The stamp covers dmail-modlog, so the log is as the writer read it; check anyway (cheap).
    const log = changeLogOf(this.dir, index.uidValidity, this.env);
    if (log.highestModseq() !== index.modseq) return false;
    this.keywordTable = await readKeywords(this.dir);
    const next = new Map<number, Entry>();
    for (const r of index.records) {
      const p = parseName(r.file);
      next.set(r.uid, this.entryOf(r.uid, p.base, { sub: r.sub, file: r.file }, p, r.vsize, new Date(r.date), r.uidl, r.modseq));
    }
    this.entries = next;
    this.hidden = pendingUids(log);
    this.syncedTo = index.modseq;
    this.current = {
      uidValidity: index.uidValidity,
      uidNext: index.uidNext,
      keywords: this.keywordTable.filter((k): k is string => k !== undefined),
      messages: [...next.values()],
      highestModseq: index.modseq,
    };
    this.factsLoaded = true;
    this.savedIndex = undefined;
    this.lastStamp = stamp;
    this.exactAtStamp = true;
    this.indexStamp = stamp;
    return true;
  }

  /** Directory and index identities: an unchanged stamp means nothing to re-read. Undefined when a
   *  time stamp is too recent to trust: file systems keep mtimes in coarse ticks, so a delivery in
   *  the same tick as our look would leave mtime unchanged (Dovecot has the same rule). Rejects with
   *  NONEXISTENT once the mailbox directory is gone or another one has its name. */
  private async stamp(): Promise<string | undefined> {
    const now = BigInt(Date.now()) * 1_000_000n;
    let fresh = false;
    const [self, ...parts] = await Promise.all(['.', 'new', 'cur', UIDLIST, KEYWORDS, MODLOG, RECENT_FILE].map(async (p) => {
      try {
        const st = await fsp.stat(join(this.dir, p), { bigint: true });
        if (p === '.') return String(st.ino);
        if (now - st.mtimeNs < 2_000_000_000n) fresh = true;
        return `${st.ino}:${st.size}:${st.mtimeNs}`;
      } catch {
        return '-';
      }
    }));
    if (self === '-' || (this.dirIno !== undefined && String(this.dirIno) !== self)) {
      throw new StoreError('NONEXISTENT', `Mailbox was deleted or renamed: ${this.name}`);
    }
    this.dirIno ??= BigInt(self!);
    return fresh ? undefined : parts.join('|');
  }

  /** Re-read the maildir. Returns false when a file moved under us and a re-scan is needed. */
  private async rebuild(lastTry: boolean): Promise<boolean> {
    // A multi-message append killed half-way is completed before we list (deliver-intent.ts), so no
    // reader ever numbers only part of it. A read-only place we cannot lock: the next writer will.
    if (await hasIntent(this.dir)) await lockedUidList(this.dir, this.env, async () => false).catch(() => undefined);
    const firstLoad = !this.factsLoaded;
    // The log before the listing: a change logged before we read it was made before we list, so the
    // listing shows it. (The other way round a listing could show old flags under a new mod-sequence.)
    const indexUsable = firstLoad && this.savedIndex !== undefined;
    const uv0 = this.current.uidValidity || this.savedIndex?.uidValidity || (await loadUidList(this.dir)).list?.uidValidity;
    const from = () => (firstLoad ? (indexUsable ? this.savedIndex!.modseq : 0) : this.syncedTo);
    let read = uv0 ? readLog(changeLogOf(this.dir, uv0, this.env), from()) : undefined;

    let scan = await scanMaildir(this.dir);
    let rescan = false;
    if (!this.readOnly) {
      // Duplicate base names (a copied file, a restored backup) and names with line breaks: give the
      // file a fresh identity so that every message stays visible with its own UID.
      for (const dup of scan.duplicates) {
        const p = parseName(dup.file);
        const info = p.info !== undefined && /^[A-Za-z]*$/.test(p.info) ? p.info : undefined;
        const fresh = fileName(renewBase(dup.raw ? '' : p.base), info);
        const from = dup.raw ? Buffer.concat([Buffer.from(`${join(this.dir, dup.sub)}/`), dup.raw]) : join(this.dir, dup.sub, dup.file);
        await fsp.rename(from, join(this.dir, dup.sub, fresh)).catch(() => undefined);
        rescan = true;
      }
      if (this.claimRecent) {
        const fresh = [...scan.files.values()].filter((e) => e.sub === 'new');
        // Synchronous: renames within one directory serialise in the kernel anyway, and through the
        // thread pool 10 000 of them took twice as long. Paced, for the other sessions of the process.
        const pace = new Pacer();
        for (const e of fresh) {
          if (pace.due()) await pace.pause();
          const p = parseName(e.file);
          try {
            renameSync(join(this.dir, 'new', e.file), join(this.dir, 'cur', fileName(p.base, p.info ?? '')));
            this.recentBases.add(p.base);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          }
        }
        if (fresh.length > 0) rescan = true;
        for (const b of await claimRecentBases(this.dir, this.env)) this.recentBases.add(b);
      }
    }
    if (rescan) scan = await scanMaildir(this.dir);
    if (!this.claimRecent) this.pendingRecent = await pendingRecent(this.dir);

    let list = (await loadUidList(this.dir)).list;
    if (!list && !(await dirExists(this.dir))) {
      throw new StoreError('NONEXISTENT', `Mailbox was deleted or renamed: ${this.name}`);
    }
    const unknown = [...scan.files.keys()].filter((b) => !list?.byBase.has(b));
    const numbering = !list || unknown.length > 0;
    if (!list || numbering) list = await this.assignUids(scan.files, list);
    // Numbering logged appends after our read (and others may have logged meanwhile): read again.
    if (!read || numbering || read.log.uidValidity !== list.uidValidity) {
      if (read && read.log.uidValidity !== list.uidValidity && !firstLoad) {
        this.env.log.warn({ dir: this.dir }, 'maildir: UIDVALIDITY changed under an open session');
      }
      read = readLog(changeLogOf(this.dir, list.uidValidity, this.env), read?.log.uidValidity === list.uidValidity ? from() : 0);
    }
    if (firstLoad) {
      this.savedFacts = factsOf(this.savedIndex, list.uidValidity);
      if (this.savedIndex?.uidValidity !== list.uidValidity && read.from !== 0) {
        read = readLog(read.log, 0);
      }
    }
    // HIGHESTMODSEQ never goes back: a log deleted or damaged by hand is raised to what we (or
    // dmail-index) already knew before anyone logs below it.
    const knew = firstLoad ? (this.savedIndex?.uidValidity === list.uidValidity ? this.savedIndex.modseq : 0)
      : this.current.uidValidity === list.uidValidity ? this.syncedTo : 0;
    if (read.log.highestModseq() < knew) {
      const log = read.log;
      await lockedUidList(this.dir, this.env, async (l) => {
        if (l.uidValidity === log.uidValidity) log.raiseTo(knew);
        return false;
      });
      this.env.log.warn({ dir: this.dir, modseq: knew }, 'maildir: change log went back (deleted or damaged); raised');
      read = readLog(log, from());
    }
    const sameValidity = !firstLoad && this.current.uidValidity === list.uidValidity;

    // What the log says happened after `read.from`.
    const bump = new Map<number, number>(sameValidity ? this.unlisted : []);
    const expungedAt = new Map<number, number>();
    const hidden = firstLoad || !read.complete || !sameValidity ? pendingUids(read.log) : new Set(this.hidden);
    if (firstLoad || !read.complete || !sameValidity) for (const p of read.log.pendingExpunges()) for (const u of p.uids) expungedAt.set(u, p.modseq);
    const purged = new Set<number>();
    for (const r of read.records) {
      if (r.kind === CHANGE_APPEND || r.kind === CHANGE_FLAGS) for (const u of r.uids) bump.set(u, r.modseq);
      else if (r.kind === CHANGE_EXPUNGE) for (const u of r.uids) { hidden.add(u); expungedAt.set(u, r.modseq); }
      else if (r.kind === CHANGE_PURGE) for (const u of r.uids) { hidden.delete(u); purged.add(u); }
    }
    const floor = read.complete ? 0 : read.base;
    const known = (uid: number, k: number | undefined) => (k === undefined ? undefined : Math.max(k, floor, bump.get(uid) ?? 0));

    this.keywordTable = await readKeywords(this.dir);
    const next = new Map<number, Entry>();
    const todo: { uid: number; base: string; se: ScanEntry; old: Entry | undefined; w?: string; p?: string; modseq: number }[] = [];
    /** Changes seen on disk that the log does not explain (see adopt()). */
    const unexplained = { appends: [] as number[], flags: [] as number[], expunges: [] as number[] };
    const priorUidNext = firstLoad ? ((this.savedFacts?.size ?? 0) > 0 ? this.savedIndex!.uidNext : Infinity) : sameValidity ? this.current.uidNext : Infinity;
    let hiddenListed = 0;
    const pace = new Pacer();
    for (const [base, se] of scan.files) {
      if (pace.due()) await pace.pause();
      const rec = list.byBase.get(base);
      if (!rec) continue; // appeared after we locked: next refresh
      if (hidden.has(rec.uid)) { hiddenListed++; continue; } // expunged; kept for sessions that still see it
      const old = sameValidity ? this.entries.get(rec.uid) : undefined;
      const saved = old ? undefined : this.savedFacts?.get(base);
      const facts = saved?.uid === rec.uid ? saved : undefined;
      let modseq = known(rec.uid, old?.modseq ?? facts?.modseq);
      const wasFile = old ? old.file : facts?.file;
      if (modseq === undefined) {
        modseq = bump.get(rec.uid);
        if (modseq === undefined) {
          // Never logged: numbered by Dovecot, or by a writer killed before its log record. Before the
          // log's base (or on a first look without an index) that is simply an old message.
          if (read.complete && rec.uid >= priorUidNext) unexplained.appends.push(rec.uid);
          modseq = Math.max(read.base, 1);
        }
      } else if (read.complete && wasFile !== undefined && wasFile !== se.file && !bump.has(rec.uid)
        && infoKey(parseName(wasFile).info) !== infoKey(parseName(se.file).info)) {
        unexplained.flags.push(rec.uid);
      }
      if (old && old.file === se.file && old.sub === se.sub) {
        // \Recent can change without the file: another session claimed it from dmail-recent.
        const recent = this.recentOf(base, se);
        next.set(rec.uid, old.modseq === modseq && old.recent === recent ? old : { ...old, modseq, recent });
      } else todo.push({ uid: rec.uid, base, se, old, w: extValue(rec, 'W'), p: extValue(rec, 'P'), modseq });
    }
    if (sameValidity) {
      for (const [uid, e] of this.entries) {
        if (hidden.has(uid) || scan.files.has(e.base)) continue;
        if (!expungedAt.has(uid)) unexplained.expunges.push(uid);
      }
    }
    if (!lastTry && (unexplained.appends.length > 0 || unexplained.flags.length > 0 || unexplained.expunges.length > 0)) {
      await this.adopt(read, unexplained);
      return false;
    }
    // Most entries need no file access (known from the last refresh, dmail-index or numbering): only
    // the rest go through the bounded asynchronous path, which costs far more per message.
    const made: (Entry | undefined)[] = new Array(todo.length);
    for (let i = 0; i < todo.length; i++) {
      const t = todo[i]!;
      made[i] = this.quickEntry(t.uid, t.base, t.se, t.old, t.w, t.p, t.modseq);
      if (pace.due()) await pace.pause();
    }
    const slow = todo.flatMap((_, i) => (made[i] === undefined ? [i] : []));
    const slowMade = await mapLimit(slow, FS_PARALLEL, (i) => { const t = todo[i]!; return this.makeEntry(t.uid, t.base, t.se, t.old, t.w, t.p, t.modseq); });
    slow.forEach((i, k) => { made[i] = slowMade[k]; });
    for (let i = 0; i < todo.length; i++) {
      const entry = made[i];
      if (!entry) {
        if (!lastTry) return false; // renamed or expunged between listing and stat: look again
        continue;
      }
      next.set(todo[i]!.uid, entry);
    }
    // Still unexplained after two looks under the lock: a listing that keeps missing a file a foreign
    // program is renaming. Keep showing what we had rather than report an expunge nobody made.
    if (lastTry) for (const uid of unexplained.expunges) { const e = this.entries.get(uid); if (e) next.set(uid, e); }
    // Messages of our last state that were expunged stay readable until we acknowledge.
    if (sameValidity) {
      for (const [uid, e] of this.entries) {
        if (next.has(uid)) continue;
        if (hidden.has(uid)) this.ghosts.set(uid, { entry: e, modseq: expungedAt.get(uid) ?? read.highest });
      }
    } else {
      this.ghosts.clear();
    }
    for (const uid of this.ghosts.keys()) if (!hidden.has(uid)) this.ghosts.delete(uid); // purged
    this.entries = next;
    this.hidden = hidden;
    this.syncedTo = read.highest;
    const lowest = list.records[0]?.uid ?? list.nextUid; // below it: gone for good
    this.unlisted = new Map([...bump].filter(([uid]) => !next.has(uid) && !hidden.has(uid) && !purged.has(uid) && uid >= lowest));
    if (this.unlisted.size > MaildirMailbox.UNLISTED_MAX) this.unlisted = new Map([...this.unlisted].sort((x, y) => y[0] - x[0]).slice(0, MaildirMailbox.UNLISTED_MAX));
    // Forget what belonged to expunged messages: a long session must not grow without bound.
    for (const b of this.recentBases) if (!scan.files.has(b)) this.recentBases.delete(b);
    for (const b of this.vsizeCache.keys()) if (!scan.files.has(b)) this.vsizeCache.delete(b);
    this.measuredDates.clear();
    this.savedFacts = undefined;
    if (firstLoad) {
      this.indexStamp = this.savedIndex?.stamp ?? '';
      this.savedIndex = undefined;
      this.factsLoaded = true;
    }
    // Renaming, numbering or a file left out means the listing is not the mailbox at the stamp.
    this.exactAtStamp = !rescan && !numbering && scan.duplicates.length === 0 && next.size + hiddenListed === scan.files.size
      && ![...next.values()].some(isPlaceholder);
    this.publish(list);
    this.justLoaded = firstLoad;
    return true;
  }

  /**
   * Log, under the lock, the changes a refresh found on disk without a log record: files numbered by
   * someone who does not log (Dovecot), renamed flags (Dovecot, mutt, a writer killed before logging)
   * and vanished files. What was logged meanwhile by their writer is left alone; a vanished file is
   * looked for again under the lock (our writers rename only under it).
   */
  private async adopt(read: LogRead, found: { appends: number[]; flags: number[]; expunges: number[] }): Promise<void> {
    const bases = new Map([...this.entries.values()].map((e) => [e.uid, e.base]));
    // Only bookkeeping: when it cannot be done (full disk, lock timeout) the refresh goes on without it.
    await lockedUidList(this.dir, this.env, async (list) => {
      if (list.uidValidity !== read.log.uidValidity) return false;
      const log = read.log;
      const seen = new Set<number>();
      for (const r of log.since(read.highest).records) for (const u of r.uids) seen.add(u);
      const appends = found.appends.filter((u) => !seen.has(u));
      const flags = found.flags.filter((u) => !seen.has(u));
      let expunges = found.expunges.filter((u) => !seen.has(u));
      if (expunges.length > 0) {
        const files = (await scanMaildir(this.dir)).files;
        expunges = expunges.filter((u) => {
          const b = bases.get(u);
          return b !== undefined && !files.has(b);
        });
      }
      if (appends.length > 0) log.add(CHANGE_APPEND, appends);
      if (flags.length > 0) log.add(CHANGE_FLAGS, flags);
      if (expunges.length > 0) {
        // Gone already: logged for VANISHED, and purged at once without touching any file. Were a
        // listing ever to miss a file a foreign program was renaming, it then shows up again
        // (under a new UID once its record goes) instead of being hidden and later unlinked.
        log.add(CHANGE_EXPUNGE, expunges);
        log.add(CHANGE_PURGE, expunges);
      }
      return false;
    }).catch((err) => this.env.log.warn({ err: String(err), dir: this.dir }, 'maildir: cannot log changes found on disk'));
  }

  /** Our entries would make a snapshot that dmail-index does not have yet. */
  private snapshotIsNews(): boolean {
    return this.exactAtStamp && this.lastStamp !== '' && this.indexStamp !== this.lastStamp;
  }

  /** Write dmail-index from `entries`, as a snapshot when they are exactly the mailbox at lastStamp. */
  private async saveFacts(): Promise<void> {
    const stamp = this.exactAtStamp ? this.lastStamp : '';
    const records = [...this.entries.values()].filter((e) => !isPlaceholder(e)).map((e) => ({
      uid: e.uid, modseq: e.modseq, date: e.internalDate.getTime(), vsize: e.size, sub: e.sub, file: e.file, ...(e.uidl !== undefined ? { uidl: e.uidl } : {}),
    }));
    const index = { stamp, modseq: this.syncedTo, uidValidity: this.current.uidValidity, uidNext: this.current.uidNext, records };
    if (await writeIndex(this.dir, index)) {
      this.unsavedFacts = 0;
      this.indexStamp = stamp;
    }
  }

  /** What is known about a message without touching its file (undefined fields: look at the file). */
  private knownFacts(uid: number, base: string, old: Entry | undefined, p: ParsedName, recordW: string | undefined): { date?: Date; size?: number; fromCache: boolean } {
    const saved = old ? undefined : this.savedFacts?.get(base);
    const known = saved?.uid === uid ? saved : undefined;
    const measured = this.measuredDates.get(base);
    const date = old?.internalDate ?? (known ? new Date(known.date) : measured !== undefined ? new Date(measured) : undefined);
    const size = old?.size ?? p.vsize ?? (recordW !== undefined ? Number(recordW) : this.vsizeCache.get(base) ?? known?.vsize);
    return { date, size: size === undefined || Number.isNaN(size) ? undefined : size, fromCache: old !== undefined || known !== undefined };
  }

  private quickEntry(uid: number, base: string, se: ScanEntry, old: Entry | undefined, recordW: string | undefined, uidl: string | undefined, modseq: number): Entry | undefined {
    const p = parseName(se.file);
    const k = this.knownFacts(uid, base, old, p, recordW);
    if (k.date === undefined || k.size === undefined) return undefined;
    if (!k.fromCache) this.unsavedFacts += 1;
    return this.entryOf(uid, base, se, p, k.size, k.date, uidl, modseq);
  }

  private recentOf(base: string, se: ScanEntry): boolean {
    return this.claimRecent ? this.recentBases.has(base) : se.sub === 'new' || this.pendingRecent.has(base);
  }

  private entryOf(uid: number, base: string, se: ScanEntry, p: ParsedName, size: number, date: Date, uidl: string | undefined, modseq: number): Entry {
    const recent = this.recentOf(base, se);
    return {
      uid, base, sub: se.sub, file: se.file, info: p.info, size, internalDate: date, recent, modseq,
      flags: flagsFromInfo(p.info, this.keywordTable),
      ...(uidl ? { uidl } : {}),
    };
  }

  private async makeEntry(uid: number, base: string, se: ScanEntry, old: Entry | undefined, recordW: string | undefined, uidl: string | undefined, modseq: number): Promise<Entry | undefined> {
    const p = parseName(se.file);
    const path = join(this.dir, se.sub, se.file);
    const k = this.knownFacts(uid, base, old, p, recordW);
    let date = k.date;
    let size = k.size;
    try {
      if (!date) {
        const st = await fsp.stat(path);
        if (!st.isFile()) {
          this.env.log.warn({ path }, 'maildir: not a regular file, ignored');
          return undefined;
        }
        date = st.mtime;
      }
      if (size === undefined) {
        size = (await measureFile(path, true)).vsize;
        this.vsizeCache.set(base, size);
      }
      if (!k.fromCache) this.unsavedFacts += 1;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      // Unreadable (EACCES, EIO): show it rather than hide mail; reading it later gives a clear error.
      this.env.log.warn({ path, code }, 'maildir: cannot stat/read message file');
      date ??= new Date(0);
      size ??= 0;
    }
    return this.entryOf(uid, base, se, p, size, date, uidl, modseq);
  }

  /** Give every listed file without a UID the next one, and log the appends. Files are measured
   *  before taking the uidlist lock, so a big first delivery batch does not hold up other sessions'
   *  appends. */
  private async assignUids(files: ReadonlyMap<string, ScanEntry>, known: SharedUidList | undefined): Promise<UidList> {
    const fresh = [...files.entries()].filter(([b]) => !known?.byBase.has(b)).map((e) => ({ e, t: baseTokens(e[0]) }))
      .sort((x, y) => compareBaseTokens(x.t, y.t)).map((x) => x.e);
    const facts = await mapLimit(fresh, FS_PARALLEL, async ([base, se]) => {
      const p = parseName(se.file);
      const ext: string[] = [];
      try {
        const path = join(this.dir, se.sub, se.file);
        // Like Dovecot, record what the file name lacks (sizes of MDA deliveries; P = POP3 UIDL
        // from an X-UIDL header) so that nobody has to read the file again.
        let f = measureSmallSync(path, p.vsize === undefined);
        if (f === 'not-file') return undefined;
        if (f === 'big') {
          const st = await fsp.stat(path);
          if (!st.isFile()) return undefined;
          f = { ...(await measureFile(path, p.vsize === undefined)), mtimeMs: st.mtimeMs };
        }
        this.measuredDates.set(base, f.mtimeMs);
        if (p.vsize === undefined) {
          this.vsizeCache.set(base, f.vsize);
          ext.push(`W${f.vsize}`);
          if (p.size === undefined) ext.push(`S${f.size}`);
        }
        if (f.uidl) ext.push(`P${f.uidl}`);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return undefined; // moved or expunged meanwhile: the next refresh sees it
      }
      return ext;
    });
    return lockedUidList(this.dir, this.env, async (list) => {
      const added: number[] = [];
      for (let i = 0; i < fresh.length; i++) {
        const ext = facts[i];
        const base = fresh[i]![0];
        if (!ext || list.byBase.has(base)) continue; // another session numbered it meanwhile
        const rec = { uid: list.nextUid++, base, ext };
        list.records.push(rec);
        list.byBase.set(base, rec);
        added.push(rec.uid);
      }
      // Logged before the uidlist is written: a kill in between gives the same UIDs again (harmless).
      // A log we cannot write (full disk) must not keep anyone from reading new mail: the appends are
      // then unlogged, and logged by whoever finds them once it can be written again.
      if (added.length > 0) {
        try {
          changeLogOf(this.dir, list.uidValidity, this.env).add(CHANGE_APPEND, added);
        } catch (err) {
          this.env.log.warn({ err: String(err), dir: this.dir }, 'maildir: cannot log new messages');
        }
      }
      return added.length > 0;
    });
  }

  private publish(list: SharedUidList): void {
    this.setState(list.uidValidity, list.nextUid);
  }

  private republish(): void {
    this.setState(this.current.uidValidity, this.current.uidNext);
  }

  /** A new state object only when something in it changed (callers compare states by identity). */
  private setState(uidValidity: number, uidNext: number): void {
    const messages = [...this.entries.values()].sort((a, b) => a.uid - b.uid);
    const keywords = this.keywordTable.filter((k): k is string => k !== undefined);
    const c = this.current;
    if (c.uidValidity === uidValidity && c.uidNext === uidNext && c.highestModseq === this.syncedTo
      && c.keywords.length === keywords.length && c.keywords.every((k, i) => k === keywords[i])
      && c.messages.length === messages.length && c.messages.every((m, i) => m === messages[i])) return;
    this.current = { uidValidity, uidNext, keywords, messages, highestModseq: this.syncedTo };
  }

  /** Current path of a message, following renames by other sessions; undefined when expunged. */
  private async pathOf(entry: Entry): Promise<{ sub: Sub; file: string } | undefined> {
    try {
      await fsp.access(join(this.dir, entry.sub, entry.file));
      return { sub: entry.sub, file: entry.file };
    } catch {
      return locate(this.dir, entry.base);
    }
  }

  /** A message of a state this handle was given: current, or expunged but not yet acknowledged. */
  private entry(uid: number): Entry {
    const e = this.entries.get(uid) ?? this.ghosts.get(uid)?.entry;
    if (!e) throw new StoreError('NONEXISTENT', `No message with UID ${uid}`);
    return e;
  }

  /** Parsed facts (store/facts.ts); a message's identity is its file's base name and size. */
  facts(uids: readonly number[], want: FactsRequest): AsyncIterable<MessageFacts> {
    this.factsFile ??= new FactsFile({ dir: this.dir, name: FACTS_CACHE, writable: !this.readOnly, log: this.env.log });
    return mailboxFacts(this.factsFile, this.factsSource(), uids, want);
  }

  factsAll(uids: readonly number[], want: FactsRequest): Promise<MessageFacts[]> {
    this.factsFile ??= new FactsFile({ dir: this.dir, name: FACTS_CACHE, writable: !this.readOnly, log: this.env.log });
    return mailboxFactsAll(this.factsFile, this.factsSource(), uids, want);
  }

  keyColumns(uids: readonly number[], want: KeyColumnsRequest): Promise<KeyColumns> {
    this.factsFile ??= new FactsFile({ dir: this.dir, name: FACTS_CACHE, writable: !this.readOnly, log: this.env.log });
    return mailboxKeyColumns(this.factsFile, this.factsSource(), uids, want);
  }

  private factsSource(): FactsSource {
    const ident = (e: Entry) => `${e.base}/${e.size}`;
    const self = this;
    return {
      get state() { return self.current; },
      identity: (uid) => {
        const e = this.entries.get(uid) ?? this.ghosts.get(uid)?.entry;
        return e && !isPlaceholder(e) ? ident(e) : undefined;
      },
      load: async (uid) => {
        const e = this.entry(uid);
        const bytes = await this.read(uid);
        // The base name is the file (maildir files never change); a size that does not agree with the
        // bytes (a placeholder for a file that could not be measured) is not an identity.
        return { bytes, identity: !isPlaceholder(e) && bytes.length === e.size ? ident(e) : undefined };
      },
    };
  }

  async read(uid: number): Promise<Buffer> {
    const e = this.entry(uid);
    for (let attempt = 0; attempt < 3; attempt++) {
      const where: ScanEntry | undefined = attempt === 0 ? { sub: e.sub, file: e.file } : await locate(this.dir, e.base);
      if (!where) break;
      try {
        return toCrlf(await fsp.readFile(join(this.dir, where.sub, where.file)));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') throw new StoreError('CANNOT', `Cannot read message ${uid}: ${code ?? String(err)}`);
      }
    }
    throw new StoreError('NONEXISTENT', `Message ${uid} has been expunged`);
  }

  stream(uid: number, start = 0, end = Number.MAX_SAFE_INTEGER): Readable {
    const open = async (): Promise<fsp.FileHandle> => {
      const e = this.entry(uid);
      for (let attempt = 0; attempt < 3; attempt++) {
        const where: ScanEntry | undefined = attempt === 0 ? { sub: e.sub, file: e.file } : await locate(this.dir, e.base);
        if (!where) break;
        try {
          return await fsp.open(join(this.dir, where.sub, where.file), 'r');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw asStoreError(err);
        }
      }
      throw new StoreError('NONEXISTENT', `Message ${uid} has been expunged`);
    };
    async function* chunks(): AsyncGenerator<Buffer> {
      const fh = await open();
      try {
        const buf = Buffer.allocUnsafe(64 * 1024);
        for (;;) {
          const { bytesRead } = await fh.read(buf, 0, buf.length, null);
          if (bytesRead === 0) return;
          yield Buffer.from(buf.subarray(0, bytesRead));
        }
      } finally {
        await fh.close();
      }
    }
    return Readable.from(crlfSlice(chunks(), start, end), { objectMode: false });
  }

  /** stream() already reads in 64 KB pieces and never holds a whole message: nothing to reuse. */
  streamTransient(uid: number, start?: number, end?: number): Readable {
    return this.stream(uid, start, end);
  }

  /**
   * Run a write under the uidlist lock with the change log as it is now (`since`: what others logged
   * after our state). Purges what no live handle needs any more, then brings our state up to date:
   * at once when nobody else changed anything, else by a refresh (our changes are in the log).
   */
  private async write<T>(op: (list: UidList, log: ChangeLog, since: LogRead) => Promise<T>): Promise<T> {
    let others = false;
    let result: T | undefined;
    let uidValidity = 0;
    await lockedUidList(this.dir, this.env, async (list) => {
      uidValidity = list.uidValidity;
      const log = changeLogOf(this.dir, list.uidValidity, this.env);
      if (list.uidValidity === this.current.uidValidity && log.highestModseq() < this.syncedTo) log.raiseTo(this.syncedTo);
      const since = readLog(log, this.syncedTo);
      others = since.records.length > 0 || !since.complete || list.uidValidity !== this.current.uidValidity;
      result = await op(list, log, since);
      const hints = new Map([...this.ghosts.values()].map((g) => [g.entry.base, { sub: g.entry.sub, file: g.entry.file }]));
      const before = log.highestModseq();
      // A purge that fails (a file we may not unlink, a full disk) never fails the write that ran it.
      const changed = await purgeLocked(this.dir, list, log, this.env.log, hints).catch((err) => {
        this.env.log.warn({ err: String(err), dir: this.dir }, 'maildir: purge of expunged messages failed');
        return false;
      });
      if (!others) {
        // Only our own records since syncedTo: apply them (expunges/flags were applied by `op`).
        for (const r of log.since(before).records) if (r.kind === CHANGE_PURGE) for (const u of r.uids) this.hidden.delete(u);
        this.syncedTo = log.highestModseq();
      }
      return changed;
    });
    if (others || uidValidity !== this.current.uidValidity) {
      this.lastStamp = '';
      await this.refreshImpl();
    } else {
      this.republish();
    }
    return result as T;
  }

  /** Purge what acknowledgements and closed handles let go (a refresh after acknowledge, close()). */
  private async purgeNow(): Promise<void> {
    const uv = this.current.uidValidity;
    if (!uv) return;
    const pending = changeLogOf(this.dir, uv, this.env).pendingExpunges();
    if (pending.length === 0) return;
    // Without the lock first: while some other handle still needs them, there is nothing to do.
    const min = await minAcknowledged(viewsDir(this.dir), this.env.log).catch(() => Infinity);
    if (!pending.some((p) => p.modseq <= min)) return;
    await lockedUidList(this.dir, this.env, async (list) => {
      const log = changeLogOf(this.dir, list.uidValidity, this.env);
      return purgeLocked(this.dir, list, log, this.env.log);
    }).catch((err) => this.env.log.warn({ err: String(err), dir: this.dir }, 'maildir: purge of expunged messages failed'));
  }

  setFlags(uids: readonly number[], mode: StoreMode, flags: readonly Flag[], unchangedSince?: number): Promise<MailboxState & { readonly modified?: readonly number[] }> {
    return mapped(() => this.setFlagsImpl(uids, mode, flags, unchangedSince));
  }

  private async setFlagsImpl(uids: readonly number[], mode: StoreMode, flags: readonly Flag[], unchangedSince?: number): Promise<MailboxState & { readonly modified?: readonly number[] }> {
    if (this.readOnly) throw new StoreError('CANNOT', 'Mailbox is read-only');
    this.exactAtStamp = false; // the files change after lastStamp
    const wanted = flags.filter((f) => !f.startsWith('\\') || canonicalSystemFlag(f) !== undefined);
    const keywords = wanted.filter((f) => !f.startsWith('\\'));
    this.keywordTable = mode === 'remove' ? await readKeywords(this.dir)
      : await ensureKeywords(this.dir, keywords, this.env.lock);
    const table = this.keywordTable;
    const canonical = (f: string) => canonicalSystemFlag(f)
      ?? table.find((k) => k !== undefined && k.toLowerCase() === f.toLowerCase()) ?? f;
    const change = wanted.map(canonical);
    const known = (ch: string) => table[ch.charCodeAt(0) - 97] !== undefined;
    const letterOf = (k: string) => letterFor(table, k);
    const modified: number[] = [];

    await this.write(async (_list, log, since) => {
      // Mod-sequences and expunges logged by others since our state (we hold the lock: final).
      const theirs = new Map<number, number>();
      const gone = new Set<number>();
      for (const r of since.records) {
        if (r.kind === CHANGE_EXPUNGE) for (const u of r.uids) gone.add(u);
        else if (r.kind === CHANGE_APPEND || r.kind === CHANGE_FLAGS) for (const u of r.uids) theirs.set(u, r.modseq);
      }
      const floor = since.complete ? 0 : since.base;
      const changed = new Map<number, Entry>();
      for (const uid of new Set(uids)) {
        let e = this.entries.get(uid);
        if (!e || gone.has(uid) || this.hidden.has(uid)) continue; // expunged: a silent no-op (RFC 2180)
        const modseq = Math.max(e.modseq, theirs.get(uid) ?? 0, floor);
        if (unchangedSince !== undefined && modseq > unchangedSince) { modified.push(uid); continue; }
        for (let attempt = 0; attempt < 3 && e; attempt++) {
          // Start from what is on disk now: another session may have changed flags meanwhile (then our
          // name is stale: look the file up; a foreign rename shows as ENOENT below).
          const cur: ScanEntry | undefined = attempt === 0 && !theirs.has(uid) ? { sub: e.sub, file: e.file } : await locate(this.dir, e.base);
          if (!cur) break; // gone by a foreign hand: the next refresh logs and shows it
          const info = parseName(cur.file).info;
          const next = new Set(mode === 'replace' ? [] : flagsFromInfo(info, table));
          for (const f of change) {
            if (mode === 'remove') next.delete(f);
            else next.add(f);
          }
          const newInfo = infoForFlags(info, next, letterOf, known);
          const newFile = fileName(e.base, newInfo);
          try {
            if (cur.sub !== 'cur' || cur.file !== newFile) {
              await fsp.rename(join(this.dir, cur.sub, cur.file), join(this.dir, 'cur', newFile));
            } else if (attempt === 0) {
              // Nothing to rename by our name for it: make sure that name is still the file's (a
              // program that does not log, e.g. mutt or Dovecot, may have renamed it).
              await fsp.access(join(this.dir, cur.sub, cur.file));
            }
            const updated: Entry = { ...e, sub: 'cur', file: newFile, info: newInfo, flags: flagsFromInfo(newInfo, table) };
            // Unchanged flags (also against our state) keep their mod-sequence.
            if (infoKey(newInfo) !== infoKey(e.info)) changed.set(uid, updated);
            else this.entries.set(uid, updated);
            break;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          }
        }
      }
      if (changed.size > 0) {
        killPoint('maildir-flags-renamed');
        const m = log.add(CHANGE_FLAGS, [...changed.keys()]);
        for (const [uid, e] of changed) this.entries.set(uid, { ...e, modseq: m });
      }
    });
    const state = this.current;
    return modified.length > 0 ? { ...state, modified: modified.sort((a, b) => a - b) } : state;
  }

  expunge(uids?: readonly number[]): Promise<number[]> {
    return mapped(() => this.expungeImpl(uids));
  }

  private async expungeImpl(uids?: readonly number[]): Promise<number[]> {
    if (this.readOnly) throw new StoreError('CANNOT', 'Mailbox is read-only');
    this.exactAtStamp = false; // the files change after lastStamp
    const removed: number[] = [];
    await this.write(async (_list, log, since) => {
      const gone = new Set(this.hidden);
      for (const r of since.records) if (r.kind === CHANGE_EXPUNGE) for (const u of r.uids) gone.add(u);
      const targets = (uids
        ? [...new Set(uids)].map((u) => this.entries.get(u)).filter((e): e is Entry => e !== undefined)
        : [...this.entries.values()].filter((e) => e.flags.has('\\Deleted'))).filter((e) => !gone.has(e.uid));
      const marked: { e: Entry; where: ScanEntry | undefined }[] = [];
      for (const e of targets) {
        let where: ScanEntry | undefined = { sub: e.sub, file: e.file };
        try { await fsp.access(join(this.dir, e.sub, e.file)); } catch { where = await locate(this.dir, e.base); }
        // Without explicit UIDs only still-\Deleted messages go: another session may have undeleted it.
        if (!uids && where && !parseName(where.file).info?.includes('T')) continue;
        marked.push({ e, where });
      }
      if (marked.length === 0) return;
      const m = log.add(CHANGE_EXPUNGE, marked.map((x) => x.e.uid));
      killPoint('maildir-expunge-logged');
      for (const { e, where } of marked) {
        let entry = e;
        // Kept until purged: marked \Deleted for programs that read the maildir directly.
        const renamed = where ? withDeletedFlag(where.file) : undefined;
        if (where && renamed) {
          try {
            await fsp.rename(join(this.dir, where.sub, where.file), join(this.dir, 'cur', renamed));
            entry = { ...e, sub: 'cur', file: renamed };
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          }
        } else if (where) {
          entry = { ...e, sub: where.sub, file: where.file };
        }
        this.entries.delete(e.uid);
        this.hidden.add(e.uid);
        this.ghosts.set(e.uid, { entry, modseq: m });
        removed.push(e.uid);
      }
    });
    return removed.sort((a, b) => a - b);
  }

  acknowledge(state: MailboxState): void {
    const m = state.highestModseq;
    if (!(m > this.acked)) return;
    this.acked = m;
    this.slot?.advance(m);
    for (const [uid, g] of this.ghosts) if (g.modseq <= m) this.ghosts.delete(uid);
    // Our slot may have been what kept expunged files: let them go at the next refresh.
    if (this.hidden.size > 0) this.purgeDue = true;
  }

  expungedSince(since: number): Promise<ExpungedSince> {
    return mapped(async () => {
      const uv = this.current.uidValidity;
      if (!uv || since >= this.syncedTo) return { uids: [], complete: true };
      const r = changeLogOf(this.dir, uv, this.env).since(since);
      const out = new Set<number>();
      for (const rec of r.records) {
        if (rec.modseq > this.syncedTo) break;
        if (rec.kind === CHANGE_EXPUNGE) for (const u of rec.uids) out.add(u);
      }
      return { uids: [...out].sort((a, b) => a - b), complete: r.complete };
    });
  }

  watch(onChange: () => void): () => void {
    const stop = watchPaths(['new', 'cur', UIDLIST, MODLOG].map((p) => join(this.dir, p)), onChange);
    // Sessions of this process: at once, through the bus (their change-log appends publish it).
    const unsub = this.env.bus?.subscribe(join(this.dir, MODLOG), onChange);
    return () => { stop(); unsub?.(); };
  }

  /** The on-disk location and parsed name of a message, for copy. */
  async source(uid: number): Promise<{ path: string; entry: MessageInfo; base: string } | undefined> {
    const e = this.entries.get(uid);
    if (!e) return undefined;
    const where = await this.pathOf(e);
    return where ? { path: join(this.dir, where.sub, where.file), entry: e, base: e.base } : undefined;
  }

  /** Keep the parsed uidlist in the process cache while this handle is open (store/process-cache.ts);
   *  close() lets go. Called by the store once the handle opened. */
  holdCaches(): void {
    if (!this.closed) this.releaseUidList ??= holdUidList(this.dir);
    if (!this.closed) this.releaseIndex ??= holdIndex(this.dir);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      // Not a refresh here: it could claim \Recent for mail that arrives while we log out.
      if (this.unsavedFacts > 0 || this.snapshotIsNews()) await this.saveFacts().catch(() => undefined);
      this.closed = true;
      this.factsFile?.close();
      this.ghosts.clear();
      if (this.slot) {
        this.slot.close();
        this.slot = undefined;
        // The last one out removes what only it was still keeping.
        await this.purgeNow();
      }
    } finally {
      this.closed = true;
      this.releaseUidList?.();
      this.releaseUidList = undefined;
      this.releaseIndex?.();
      this.releaseIndex = undefined;
    }
  }
}
