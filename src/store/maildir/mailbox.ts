// One open maildir (INBOX or a Maildir++ folder). Nothing is locked except dovecot-uidlist while UIDs
// are assigned or dropped: messages are immutable files, flags live in their names, and every rename
// or unlink that finds the file gone looks for it again by its base name (another session may have
// renamed it) before concluding it was expunged.

import { promises as fsp, renameSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Flag, Mailbox, MailboxState, MessageInfo, StoreMode } from '../types.js';
import { StoreError } from '../types.js';
import { crlfSlice, toCrlf } from './crlf.js';
import { measureFile, measureSmallSync } from './measure.js';
import { asStoreError, mapped } from './errors.js';
import { FS_PARALLEL, mapLimit } from './limit.js';
import { compareBases, fileName, flagsFromInfo, infoForFlags, parseName, renewBase, type ParsedName } from './filename.js';
import { ensureKeywords, KEYWORDS, letterFor, readKeywords, type KeywordTable } from './keywords.js';
import { extValue, UIDLIST, type UidList } from './uidlist.js';
import type { MaildirEnv } from './env.js';
import { lockedUidList, loadUidList } from './uidlist-sync.js';
import { scanMaildir, locate, type ScanEntry } from './scan.js';
import { factsOf, readIndex, writeIndex, type MailboxIndex, type MessageFacts } from './facts-cache.js';

type Sub = 'new' | 'cur';

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

const CANONICAL = new Map(['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'].map((f) => [f.toLowerCase(), f]));

export class MaildirMailbox implements Mailbox {
  private entries = new Map<number, Entry>();
  private current: MailboxState = { uidValidity: 0, uidNext: 1, keywords: [], messages: [] };
  private keywordTable: KeywordTable = [];
  /** Base names this session moved out of new/: its \Recent messages. */
  private readonly recentBases = new Set<string>();
  /** vsize of files whose name carries no W=, computed once. */
  private readonly vsizeCache = new Map<string, number>();
  /** mtimes learnt while numbering new files, so they are not stat'ed twice. */
  private readonly measuredDates = new Map<string, number>();
  /** dmail-index as read at the first refresh; dropped once its facts are in `entries`. */
  private savedIndex: MailboxIndex | undefined;
  private savedFacts: Map<string, MessageFacts> | undefined;
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

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly readOnly: boolean,
    private readonly claimRecent: boolean,
    private readonly env: MaildirEnv,
  ) {}

  get state(): MailboxState {
    return this.current;
  }

  refresh(): Promise<MailboxState> {
    return mapped(() => this.refreshImpl());
  }

  private async refreshImpl(): Promise<MailboxState> {
    if (this.closed) throw new StoreError('CANNOT', 'Mailbox is closed');
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
    this.keywordTable = await readKeywords(this.dir);
    const next = new Map<number, Entry>();
    for (const r of index.records) {
      const p = parseName(r.file);
      next.set(r.uid, this.entryOf(r.uid, p.base, { sub: r.sub, file: r.file }, p, r.vsize, new Date(r.date), r.uidl));
    }
    this.entries = next;
    this.current = {
      uidValidity: index.uidValidity,
      uidNext: index.uidNext,
      keywords: this.keywordTable.filter((k): k is string => k !== undefined),
      messages: [...next.values()],
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
   *  the same tick as our look would leave mtime unchanged (Dovecot has the same rule). */
  private async stamp(): Promise<string | undefined> {
    const now = BigInt(Date.now()) * 1_000_000n;
    let fresh = false;
    const parts = await Promise.all(['new', 'cur', UIDLIST, KEYWORDS].map(async (p) => {
      try {
        const st = await fsp.stat(join(this.dir, p), { bigint: true });
        if (now - st.mtimeNs < 2_000_000_000n) fresh = true;
        return `${st.ino}:${st.size}:${st.mtimeNs}`;
      } catch {
        return '-';
      }
    }));
    return fresh ? undefined : parts.join('|');
  }

  /** Re-read the maildir. Returns false when a file moved under us and a re-scan is needed. */
  private async rebuild(lastTry: boolean): Promise<boolean> {
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
        // thread pool 10 000 of them took twice as long (this process serves a single client).
        for (const e of fresh) {
          const p = parseName(e.file);
          try {
            renameSync(join(this.dir, 'new', e.file), join(this.dir, 'cur', fileName(p.base, p.info ?? '')));
            this.recentBases.add(p.base);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          }
        }
        if (fresh.length > 0) rescan = true;
      }
    }
    if (rescan) scan = await scanMaildir(this.dir);

    let list = (await loadUidList(this.dir)).list;
    if (!list && !(await dirExists(this.dir))) {
      // The folder was deleted (or renamed) under us: every message is gone, nothing to create.
      this.entries.clear();
      this.exactAtStamp = false;
      this.republish();
      return true;
    }
    const unknown = [...scan.files.keys()].filter((b) => !list?.byBase.has(b));
    const numbering = !list || unknown.length > 0;
    if (!list || numbering) list = await this.assignUids(scan.files, list);
    const firstLoad = !this.factsLoaded;
    if (firstLoad) {
      this.savedFacts = factsOf(this.savedIndex, list.uidValidity);
      this.indexStamp = this.savedIndex?.stamp ?? '';
      this.savedIndex = undefined;
      this.factsLoaded = true;
    }

    this.keywordTable = await readKeywords(this.dir);
    const next = new Map<number, Entry>();
    const todo: { uid: number; base: string; se: ScanEntry; old: Entry | undefined; w?: string; p?: string }[] = [];
    for (const [base, se] of scan.files) {
      const rec = list.byBase.get(base);
      if (!rec) continue; // appeared after we locked: next refresh
      const old = this.entries.get(rec.uid);
      if (old && old.file === se.file && old.sub === se.sub) next.set(rec.uid, old);
      else todo.push({ uid: rec.uid, base, se, old, w: extValue(rec, 'W'), p: extValue(rec, 'P') });
    }
    // Most entries need no file access (known from the last refresh, dmail-index or numbering): only
    // the rest go through the bounded asynchronous path, which costs far more per message.
    const made: (Entry | undefined)[] = todo.map((t) => this.quickEntry(t.uid, t.base, t.se, t.old, t.w, t.p));
    const slow = todo.flatMap((_, i) => (made[i] === undefined ? [i] : []));
    const slowMade = await mapLimit(slow, FS_PARALLEL, (i) => { const t = todo[i]!; return this.makeEntry(t.uid, t.base, t.se, t.old, t.w, t.p); });
    slow.forEach((i, k) => { made[i] = slowMade[k]; });
    for (let i = 0; i < todo.length; i++) {
      const entry = made[i];
      if (!entry) {
        if (!lastTry) return false; // renamed or expunged between listing and stat: look again
        continue;
      }
      next.set(todo[i]!.uid, entry);
    }
    this.entries = next;
    // Forget what belonged to expunged messages: a long session must not grow without bound.
    for (const b of this.recentBases) if (!scan.files.has(b)) this.recentBases.delete(b);
    for (const b of this.vsizeCache.keys()) if (!scan.files.has(b)) this.vsizeCache.delete(b);
    this.measuredDates.clear();
    this.savedFacts = undefined;
    // Renaming, numbering or a file left out means the listing is not the mailbox at the stamp.
    this.exactAtStamp = !rescan && !numbering && scan.duplicates.length === 0 && next.size === scan.files.size
      && ![...next.values()].some(isPlaceholder);
    this.publish(list);
    this.justLoaded = firstLoad;
    return true;
  }

  /** Our entries would make a snapshot that dmail-index does not have yet. */
  private snapshotIsNews(): boolean {
    return this.exactAtStamp && this.lastStamp !== '' && this.indexStamp !== this.lastStamp;
  }

  /** Write dmail-index from `entries`, as a snapshot when they are exactly the mailbox at lastStamp. */
  private async saveFacts(): Promise<void> {
    const stamp = this.exactAtStamp ? this.lastStamp : '';
    const records = [...this.entries.values()].filter((e) => !isPlaceholder(e)).map((e) => ({
      uid: e.uid, date: e.internalDate.getTime(), vsize: e.size, sub: e.sub, file: e.file, ...(e.uidl !== undefined ? { uidl: e.uidl } : {}),
    }));
    const index = { stamp, uidValidity: this.current.uidValidity, uidNext: this.current.uidNext, records };
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

  private quickEntry(uid: number, base: string, se: ScanEntry, old: Entry | undefined, recordW: string | undefined, uidl: string | undefined): Entry | undefined {
    const p = parseName(se.file);
    const k = this.knownFacts(uid, base, old, p, recordW);
    if (k.date === undefined || k.size === undefined) return undefined;
    if (!k.fromCache) this.unsavedFacts += 1;
    return this.entryOf(uid, base, se, p, k.size, k.date, uidl);
  }

  private entryOf(uid: number, base: string, se: ScanEntry, p: ParsedName, size: number, date: Date, uidl: string | undefined): Entry {
    const recent = this.claimRecent ? this.recentBases.has(base) : se.sub === 'new';
    return {
      uid, base, sub: se.sub, file: se.file, info: p.info, size, internalDate: date, recent,
      flags: flagsFromInfo(p.info, this.keywordTable),
      ...(uidl ? { uidl } : {}),
    };
  }

  private async makeEntry(uid: number, base: string, se: ScanEntry, old: Entry | undefined, recordW: string | undefined, uidl: string | undefined): Promise<Entry | undefined> {
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
    return this.entryOf(uid, base, se, p, size, date, uidl);
  }

  /** Give every listed file without a UID the next one. Files are measured before taking the
   *  uidlist lock, so a big first delivery batch does not hold up other sessions' appends. */
  private async assignUids(files: ReadonlyMap<string, ScanEntry>, known: UidList | undefined): Promise<UidList> {
    const fresh = [...files.entries()].filter(([b]) => !known?.byBase.has(b)).sort(([a], [b]) => compareBases(a, b));
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
      let changed = false;
      for (let i = 0; i < fresh.length; i++) {
        const ext = facts[i];
        const base = fresh[i]![0];
        if (!ext || list.byBase.has(base)) continue; // another session numbered it meanwhile
        const rec = { uid: list.nextUid++, base, ext };
        list.records.push(rec);
        list.byBase.set(base, rec);
        changed = true;
      }
      return changed;
    });
  }

  private publish(list: UidList): void {
    const messages = [...this.entries.values()].sort((a, b) => a.uid - b.uid);
    this.current = {
      uidValidity: list.uidValidity,
      uidNext: list.nextUid,
      keywords: this.keywordTable.filter((k): k is string => k !== undefined),
      messages,
    };
  }

  private republish(): void {
    this.current = { ...this.current, messages: [...this.entries.values()].sort((a, b) => a.uid - b.uid) };
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

  private entry(uid: number): Entry {
    const e = this.entries.get(uid);
    if (!e) throw new StoreError('NONEXISTENT', `No message with UID ${uid}`);
    return e;
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

  setFlags(uids: readonly number[], mode: StoreMode, flags: readonly Flag[]): Promise<MailboxState> {
    return mapped(() => this.setFlagsImpl(uids, mode, flags));
  }

  private async setFlagsImpl(uids: readonly number[], mode: StoreMode, flags: readonly Flag[]): Promise<MailboxState> {
    if (this.readOnly) throw new StoreError('CANNOT', 'Mailbox is read-only');
    this.exactAtStamp = false; // the files change after lastStamp
    const wanted = flags.filter((f) => f.toLowerCase() !== '\\recent' && (!f.startsWith('\\') || CANONICAL.has(f.toLowerCase())));
    const keywords = wanted.filter((f) => !f.startsWith('\\'));
    this.keywordTable = mode === 'remove' ? await readKeywords(this.dir)
      : await ensureKeywords(this.dir, keywords, this.env.lock);
    const table = this.keywordTable;
    const canonical = (f: string) => CANONICAL.get(f.toLowerCase())
      ?? table.find((k) => k !== undefined && k.toLowerCase() === f.toLowerCase()) ?? f;
    const change = wanted.map(canonical);
    const known = (ch: string) => table[ch.charCodeAt(0) - 97] !== undefined;
    const letterOf = (k: string) => letterFor(table, k);

    for (const uid of uids) {
      let e = this.entries.get(uid);
      if (!e) continue;
      for (let attempt = 0; attempt < 3 && e; attempt++) {
        // Start from what is on disk now: another session may have changed flags meanwhile.
        const cur: ScanEntry | undefined = attempt === 0 ? { sub: e.sub, file: e.file } : await locate(this.dir, e.base);
        if (!cur) { this.entries.delete(uid); break; }
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
          }
          e = { ...e, sub: 'cur', file: newFile, info: newInfo, flags: flagsFromInfo(newInfo, table) };
          this.entries.set(uid, e);
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
    }
    this.republish();
    return this.current;
  }

  expunge(uids?: readonly number[]): Promise<number[]> {
    return mapped(() => this.expungeImpl(uids));
  }

  private async expungeImpl(uids?: readonly number[]): Promise<number[]> {
    if (this.readOnly) throw new StoreError('CANNOT', 'Mailbox is read-only');
    this.exactAtStamp = false; // the files change after lastStamp
    const targets = uids
      ? uids.map((u) => this.entries.get(u)).filter((e): e is Entry => e !== undefined)
      : [...this.entries.values()].filter((e) => e.flags.has('\\Deleted'));
    const removed: number[] = [];
    for (const e of targets) {
      for (let attempt = 0; attempt < 3; attempt++) {
        const cur: ScanEntry | undefined = attempt === 0 ? { sub: e.sub, file: e.file } : await locate(this.dir, e.base);
        if (!cur) { removed.push(e.uid); break; } // someone else expunged it: gone all the same
        // Without explicit UIDs only still-\Deleted messages go: another session may have undeleted it.
        if (!uids && attempt > 0 && !parseName(cur.file).info?.includes('T')) break;
        try {
          await fsp.unlink(join(this.dir, cur.sub, cur.file));
          removed.push(e.uid);
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
    }
    for (const uid of removed) this.entries.delete(uid);
    if (removed.length > 0) {
      const gone = new Set(removed);
      // Dropping the records keeps the uidlist small; losing this race (lock timeout) is harmless.
      await lockedUidList(this.dir, this.env, async (list) => {
        const before = list.records.length;
        list.records = list.records.filter((r) => !gone.has(r.uid));
        list.byBase = new Map(list.records.map((r) => [r.base, r]));
        return list.records.length !== before;
      }).catch((err) => this.env.log.warn({ err: String(err), dir: this.dir }, 'maildir: uidlist cleanup failed'));
    }
    this.republish();
    return removed.sort((a, b) => a - b);
  }

  /** The on-disk location and parsed name of a message, for copy. */
  async source(uid: number): Promise<{ path: string; entry: MessageInfo; base: string } | undefined> {
    const e = this.entries.get(uid);
    if (!e) return undefined;
    const where = await this.pathOf(e);
    return where ? { path: join(this.dir, where.sub, where.file), entry: e, base: e.base } : undefined;
  }

  async close(): Promise<void> {
    // Not a refresh here: it could claim \Recent for mail that arrives while we log out.
    if (!this.closed && (this.unsavedFacts > 0 || this.snapshotIsNews())) await this.saveFacts().catch(() => undefined);
    this.closed = true;
  }
}
