// The maildir implementation of MailStore: INBOX is the user's maildir root, folders are Maildir++
// sub-directories (".Sent", ".Archive.2024"), and every index file is in Dovecot's format so that a
// site can move between this server and Dovecot in either direction.

import { promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import type { Settings } from '../../config/settings.js';
import type { Logger } from '../../log/types.js';
import {
  StoreError,
  type AppendItem, type AppendManyResult, type AppendResult, type CopyResult, type Flag, type FolderEntry, type Mailbox, type MailboxState, type MailboxStatus,
  type MailStore, type OpenOptions, type UserPaths, type CreateOptions,
} from '../types.js';
import { crlfSize, toLf } from './crlf.js';
import { DOVECOT_UIDLIST_STALE } from './dotlock.js';
import type { MaildirEnv } from './env.js';
import { canonicalSystemFlag, fileName, infoForFlags, newBaseName, parseName } from './filename.js';
import { ensureKeywords, KEYWORDS, letterFor, type KeywordTable } from './keywords.js';
import { MaildirMailbox } from './mailbox.js';
import { INBOX, mailboxDir, nameOfEntry, validateName } from './names.js';
import { readSubscriptions, SUBSCRIPTIONS, updateSubscriptions } from './subscriptions.js';
import { addRecent } from './recent.js';
import { watchPaths, WATCH_MAILBOX_POLL_MS } from '../watch.js';
import { resetUrlauthKeys, urlauthKey } from '../urlauth-keys.js';
import { loadUidList, lockedUidList } from './uidlist-sync.js';
import { UIDLIST, uidListValidity } from './uidlist.js';
import { locate, scanMaildir } from './scan.js';
import { headerUidl } from './measure.js';
import { mapLimit } from './limit.js';
import { mapped } from '../errors.js';
import { CHANGE_APPEND } from '../changelog.js';
import { basesOf, changeLogOf, MODLOG, pendingUids, purgeLocked } from './changes.js';
import { withDotlock } from './dotlock.js';
import { afterCreate, afterDelete, afterRename, formatUses, normalUses, parseUses, type UseMap } from '../special-use.js';

/** RFC 6154 special uses given at CREATE (special-use.ts), at the root beside `subscriptions`. Not a
 *  Maildir++ folder name (no leading '.'), so neither we nor Dovecot list it. */
const SPECIAL_USE = 'dmail-special-use';
import { clearIntent, hasIntent, writeIntent } from './deliver-intent.js';
import { killPoint } from '../killpoint.js';
import type { MailboxBus } from '../bus.js';


const isInbox = (name: string) => name.toUpperCase() === INBOX;

async function isDir(path: string): Promise<boolean> {
  try {
    return (await fsp.stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function makeMaildir(dir: string, folder: boolean): Promise<void> {
  for (const sub of ['cur', 'new', 'tmp']) await fsp.mkdir(join(dir, sub), { recursive: true, mode: 0o700 });
  // Dovecot and Courier mark Maildir++ sub-folders with an empty `maildirfolder` file.
  if (folder) await fsp.writeFile(join(dir, 'maildirfolder'), '', { flag: 'a' });
}

function storableFlags(flags: readonly Flag[] | ReadonlySet<Flag>): { system: string[]; keywords: string[] } {
  const system: string[] = [];
  const keywords: string[] = [];
  for (const f of flags) {
    if (f.startsWith('\\')) {
      const c = canonicalSystemFlag(f);
      if (c) system.push(c);
    } else {
      keywords.push(f);
    }
  }
  return { system, keywords };
}

function infoFor(flags: readonly Flag[] | ReadonlySet<Flag>, table: KeywordTable): string | undefined {
  const { system, keywords } = storableFlags(flags);
  if (system.length === 0 && keywords.length === 0) return undefined;
  return infoForFlags(undefined, new Set([...system, ...keywords]), (k) => letterFor(table, k), () => true);
}

/** Read-only views kept for STATUS; each holds one folder's message list. */
const STATUS_VIEWS_MAX = 16;

export class MaildirStore implements MailStore {
  private readonly env: MaildirEnv;
  private readonly statusViews = new Map<string, MaildirMailbox>();

  constructor(readonly paths: UserPaths, settings: Settings, log: Logger, bus?: MailboxBus) {
    this.env = {
      root: paths.inbox,
      settings,
      log,
      lock: { timeoutSeconds: settings.lock_timeout ?? 30, staleSeconds: DOVECOT_UIDLIST_STALE },
      changeLogs: new Map(),
      ...(bus ? { bus } : {}),
    };
  }

  // The MailStore interface: every method maps file-system errors to StoreErrors (errors.ts).
  open(name: string, options: OpenOptions = {}): Promise<Mailbox> {
    return mapped(() => this.openImpl(name, options));
  }

  status(name: string): Promise<MailboxStatus> {
    return mapped(() => this.statusImpl(name));
  }

  async statusMany(names: readonly string[]): Promise<(MailboxStatus | StoreError)[]> {
    const out: (MailboxStatus | StoreError)[] = [];
    for (const name of names) {
      try {
        out.push(await this.status(name));
      } catch (e) {
        if (!(e instanceof StoreError)) throw e;
        out.push(e);
      }
    }
    return out;
  }

  append(name: string, message: Buffer, flags: readonly Flag[] = [], date?: Date): Promise<AppendResult> {
    return mapped(() => this.appendImpl(name, message, flags, date));
  }

  appendMany(name: string, items: readonly AppendItem[]): Promise<AppendManyResult> {
    return mapped(() => this.appendManyImpl(name, items));
  }

  copy(from: Mailbox, uids: readonly number[], to: string): Promise<CopyResult> {
    return mapped(() => this.copyImpl(from, uids, to));
  }

  list(): Promise<FolderEntry[]> {
    return mapped(() => this.listImpl());
  }

  create(name: string, options: CreateOptions = {}): Promise<void> {
    return mapped(() => this.createImpl(name, options));
  }

  delete(name: string): Promise<void> {
    return mapped(() => this.deleteImpl(name));
  }

  rename(from: string, to: string): Promise<void> {
    return mapped(() => this.renameImpl(from, to));
  }

  subscriptions(): Promise<string[]> {
    return mapped(() => this.subscriptionsImpl());
  }

  subscribe(name: string): Promise<void> {
    return mapped(() => this.subscribeImpl(name));
  }

  unsubscribe(name: string): Promise<void> {
    return mapped(() => this.unsubscribeImpl(name));
  }

  usage(): Promise<number> {
    return mapped(() => this.usageImpl());
  }

  async urlauthKey(name: string, create: boolean): Promise<Buffer | null> {
    return urlauthKey(this.paths.indexDir, name, create);
  }

  async resetUrlauthKeys(name?: string): Promise<void> {
    resetUrlauthKeys(this.paths.indexDir, name);
  }

  watchMailbox(name: string, onChange: () => void): () => void {
    let dir: string;
    try { dir = mailboxDir(this.root, name); } catch { return () => {}; }
    return watchPaths([dir, ...['new', 'cur', UIDLIST, MODLOG].map((p) => join(dir, p))], onChange, WATCH_MAILBOX_POLL_MS);
  }

  watchFolders(onChange: () => void): () => void {
    // Maildir++ folders are directories directly under the root (`.a.b`): the root and the
    // subscriptions file say everything.
    return watchPaths([this.root, join(this.root, SUBSCRIPTIONS)], onChange);
  }

  private get root(): string {
    return this.env.root;
  }

  /** Directory of an existing mailbox (INBOX is created on first use, as an MDA would). */
  private async existingDir(name: string): Promise<string> {
    const dir = mailboxDir(this.root, name);
    if (isInbox(name)) {
      await makeMaildir(dir, false);
      return dir;
    }
    if (!(await isDir(dir))) throw new StoreError('NONEXISTENT', `Mailbox doesn't exist: ${name}`);
    return dir;
  }

  private async openImpl(name: string, options: OpenOptions = {}): Promise<Mailbox> {
    const dir = await this.existingDir(name);
    const readOnly = options.readOnly ?? false;
    // A folder half-created by a crash lacks some of cur/new/tmp: complete it instead of failing.
    if (!readOnly) {
      await makeMaildir(dir, !isInbox(name)).catch(() => undefined);
      // A multi-message append a killed process committed to is completed (under the uidlist lock)
      // before cleanTmp could take its files for abandoned ones.
      if (await hasIntent(dir)) await lockedUidList(dir, this.env, async () => false);
      await cleanTmp(dir, this.env.log);
    }
    const box = new MaildirMailbox(isInbox(name) ? INBOX : name, dir, readOnly, { claimRecent: options.claimRecent ?? false, live: true }, this.env);
    await box.open();
    box.holdCaches();
    return box;
  }

  private async statusImpl(name: string): Promise<MailboxStatus> {
    const dir = await this.existingDir(name);
    // Clients poll STATUS on every folder; a kept read-only view makes a repeat cost a few stats.
    let box = this.statusViews.get(dir);
    if (box) this.statusViews.delete(dir);
    else box = new MaildirMailbox(isInbox(name) ? INBOX : name, dir, true, {}, this.env);
    // Most recently used last; the oldest view goes when there are too many (bounded memory).
    this.statusViews.set(dir, box);
    while (this.statusViews.size > STATUS_VIEWS_MAX) this.statusViews.delete(this.statusViews.keys().next().value!);
    let s: MailboxState;
    try {
      s = await box.refresh();
    } catch (e) {
      // The folder we had a view of was deleted (and maybe created again): look at it afresh.
      if (!(e instanceof StoreError) || e.code !== 'NONEXISTENT') throw e;
      this.statusViews.delete(dir);
      return this.statusImpl(name);
    }
    let size = 0;
    let recent = 0;
    let unseen = 0;
    let deleted = 0;
    for (const m of s.messages) {
      size += m.size;
      if (m.recent) recent++;
      if (!m.flags.has('\\Seen')) unseen++;
      if (m.flags.has('\\Deleted')) deleted++;
    }
    return { messages: s.messages.length, recent, unseen, deleted, uidNext: s.uidNext, uidValidity: s.uidValidity, size, highestModseq: s.highestModseq };
  }

  private async appendImpl(name: string, message: Buffer, flags: readonly Flag[] = [], date?: Date): Promise<AppendResult> {
    const r = await this.appendManyImpl(name, [{ message, flags, date }]);
    return { uidValidity: r.uidValidity, uid: r.uids[0]! };
  }

  /** Every file written and fsynced in tmp/ first (a failure removes them all); then deliver(), which
   *  moves them all or none (deliver-intent.ts). */
  private async appendManyImpl(name: string, items: readonly AppendItem[]): Promise<AppendManyResult> {
    if (items.length === 0) throw new StoreError('CANNOT', 'Nothing to append');
    const dir = await this.existingDir(name);
    const keywords = [...new Set(items.flatMap((it) => storableFlags(it.flags ?? []).keywords))];
    const table = await ensureKeywords(dir, keywords, this.env.lock);
    const prepared: { tmp: string; base: string; info: string | undefined; uidl?: string }[] = [];
    try {
      for (const it of items) {
        const body = toLf(it.message);
        const base = newBaseName(body.length, crlfSize(body));
        const tmp = join(dir, 'tmp', base);
        await writeDurably(tmp, body, it.date);
        const uidl = headerUidl(body);
        prepared.push({ tmp, base, info: infoFor(it.flags ?? [], table), ...(uidl ? { uidl } : {}) });
        if (prepared.length === 1 && items.length > 1) killPoint('multiappend-tmp');
      }
    } catch (e) {
      for (const f of prepared) await fsp.unlink(f.tmp).catch(() => undefined);
      throw e;
    }
    return this.deliver(dir, prepared);
  }

  /** Move prepared tmp/ files into the mailbox and give them UIDs, all under one uidlist lock so no
   *  other session can number them first. A file without flags goes to new/ (it is \Recent). */
  private async deliver(dir: string, files: { tmp: string; base: string; info: string | undefined; uidl?: string }[]): Promise<{ uidValidity: number; uids: number[] }> {
    const uids: number[] = [];
    let committed = false;
    try {
      const list = await lockedUidList(dir, this.env, async (l) => {
        const dests = files.map((f) => (f.info === undefined ? `new/${f.base}` : `cur/${fileName(f.base, f.info)}`));
        // Several files: commit to moving them all first (a kill in between is completed by the next
        // writer, deliver-intent.ts). One rename alone is atomic.
        if (files.length > 1) {
          await writeIntent(dir, files.map((f, i) => ({ tmp: basename(f.tmp), dest: dests[i]! })));
          committed = true;
          killPoint('multiappend-committed');
        }
        for (const [i, f] of files.entries()) {
          await fsp.rename(f.tmp, join(dir, dests[i]!));
          if (i === 0 && files.length > 1) killPoint('multiappend-moving');
          const rec = { uid: l.nextUid++, base: f.base, ext: f.uidl ? [`P${f.uidl}`] : [] };
          l.records.push(rec);
          l.byBase.set(f.base, rec);
          uids.push(rec.uid);
        }
        if (files.length === 0) return false;
        await addRecent(dir, files.filter((f) => f.info !== undefined).map((f) => f.base));
        // Logged before the uidlist is written: a kill in between gives the same UIDs again.
        const log = changeLogOf(dir, l.uidValidity, this.env);
        log.add(CHANGE_APPEND, uids);
        if (committed) {
          killPoint('multiappend-moved');
          await clearIntent(dir);
        }
        // A writer purges what no live handle needs any more ("the next writer that finds none"); a
        // purge that fails never fails the append.
        await purgeLocked(dir, l, log, this.env.log).catch((err) => {
          this.env.log.warn({ err: String(err), dir }, 'maildir: purge of expunged messages failed');
        });
        return true;
      });
      return { uidValidity: list.uidValidity, uids };
    } catch (e) {
      // Once committed, the moves are completed (by the next writer), never undone half-way.
      if (!committed) for (const f of files) await fsp.unlink(f.tmp).catch(() => undefined);
      throw e;
    }
  }

  private async copyImpl(from: Mailbox, uids: readonly number[], to: string): Promise<CopyResult> {
    const dir = await this.existingDir(to);
    const sourceUids: number[] = [];
    const prepared: { tmp: string; base: string; info: string | undefined; uidl?: string }[] = [];
    const wanted = new Set(uids);
    const messages = from.state.messages.filter((m) => wanted.has(m.uid));
    const allKeywords = [...new Set(messages.flatMap((m) => storableFlags(m.flags).keywords))];
    const table = await ensureKeywords(dir, allKeywords, this.env.lock);
    try {
      for (const m of messages) {
        const info = infoFor(m.flags, table);
        let prepared1: { tmp: string; base: string } | undefined;
        if (from instanceof MaildirMailbox) prepared1 = await this.linkCopy(from, m.uid, dir);
        if (!prepared1) {
          // Another store, or a link is impossible: copy the bytes.
          let body: Buffer;
          try {
            body = toLf(await from.read(m.uid));
          } catch (e) {
            if (e instanceof StoreError && e.code === 'NONEXISTENT') continue; // expunged meanwhile
            throw e;
          }
          const base = newBaseName(body.length, crlfSize(body));
          const tmp = join(dir, 'tmp', base);
          await writeDurably(tmp, body, m.internalDate);
          prepared1 = { tmp, base };
        }
        prepared.push({ ...prepared1, info, ...(m.uidl ? { uidl: m.uidl } : {}) });
        sourceUids.push(m.uid);
      }
    } catch (e) {
      for (const f of prepared) await fsp.unlink(f.tmp).catch(() => undefined);
      throw e;
    }
    const res = await this.deliver(dir, prepared);
    return { uidValidity: res.uidValidity, sourceUids, destUids: res.uids };
  }

  /** Hard-link a message file into dir/tmp (Dovecot copies the same way); undefined if not possible. */
  private async linkCopy(from: MaildirMailbox, uid: number, dir: string): Promise<{ tmp: string; base: string } | undefined> {
    const src = await from.source(uid);
    if (!src) return undefined;
    const p = parseName(src.base);
    let size = p.size;
    if (size === undefined) {
      try { size = (await fsp.stat(src.path)).size; } catch { return undefined; }
    }
    const base = newBaseName(size, p.vsize ?? src.entry.size);
    const tmp = join(dir, 'tmp', base);
    try {
      await fsp.link(src.path, tmp);
      return { tmp, base };
    } catch {
      return undefined;
    }
  }

  private async listImpl(): Promise<FolderEntry[]> {
    const names = new Set<string>();
    let ents: import('node:fs').Dirent[] = [];
    try {
      ents = await fsp.readdir(this.root, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    for (const d of ents) {
      const n = nameOfEntry(d.name);
      if (!n || isInbox(n)) continue;
      if (d.isDirectory() || (d.isSymbolicLink() && (await isDir(join(this.root, d.name))))) names.add(n);
    }
    // Maildir++ needs no parent directory: "Archive/2024" alone still shows "Archive", as \Noselect.
    const all = new Map<string, boolean>();
    all.set(INBOX, false);
    for (const n of names) {
      all.set(n, false);
      const parts = n.split('/');
      for (let i = 1; i < parts.length; i++) {
        const parent = parts.slice(0, i).join('/');
        if (!names.has(parent) && !isInbox(parent)) all.set(parent, true);
      }
    }
    const keys = [...all.keys()];
    const uses = await this.readUses();
    return keys.map((name) => {
      const su = all.get(name) ? undefined : uses.get(name);
      return {
        name,
        noselect: all.get(name) ?? false,
        noinferiors: false,
        hasChildren: keys.some((k) => k.startsWith(`${name}/`)),
        ...(all.get(name) ? { nonexistent: true } : {}),
        ...(su ? { specialUse: su } : {}),
      };
    });
  }

  private async readUses(): Promise<UseMap> {
    try {
      return parseUses(await fsp.readFile(join(this.root, SPECIAL_USE), 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw e;
    }
  }

  /** Read, change and replace the file under its dot-lock (as `subscriptions`); no lock is taken
   *  when the change would change nothing. */
  private async updateUses(change: (m: UseMap) => UseMap | null): Promise<void> {
    if (!change(await this.readUses())) return;
    await withDotlock(join(this.root, SPECIAL_USE), this.env.lock, async (dl) => {
      const next = change(await this.readUses());
      if (next) await dl.replaceWith(formatUses(next));
    });
  }

  private async createImpl(name: string, options: CreateOptions = {}): Promise<void> {
    const clean = name.endsWith('/') ? name.slice(0, -1) : name;
    if (isInbox(clean)) throw new StoreError('ALREADYEXISTS', 'Mailbox already exists');
    validateName(clean);
    const uses = normalUses(options.specialUse ?? []);
    if (clean !== name && uses.length) throw new StoreError('CANNOT', 'a folder that holds folders cannot have a special use');
    await this.createFolder(clean);
    // Made first, then its uses recorded (special-use.ts): a CREATE that found the name taken has
    // thrown above and records nothing. Uses that cannot be recorded undo the new, still empty folder.
    try {
      await this.updateUses((m) => afterCreate(m, clean, uses));
    } catch (e) {
      if (uses.length) await this.undoCreate(clean);
      throw e;
    }
  }

  private async undoCreate(name: string): Promise<void> {
    const dir = mailboxDir(this.root, name);
    for (const sub of ['cur', 'new']) {
      const files = await fsp.readdir(join(dir, sub)).catch(() => [] as string[]);
      if (files.length) return; // someone delivered meanwhile: it stays
    }
    await fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }

  private async createFolder(clean: string): Promise<void> {
    const dir = mailboxDir(this.root, clean);
    await makeMaildir(this.root, false);
    try {
      await fsp.mkdir(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new StoreError('ALREADYEXISTS', 'Mailbox already exists');
      throw e;
    }
    await makeMaildir(dir, true);
    // Fix the UIDVALIDITY now, so a folder deleted and re-created gets a new one.
    await lockedUidList(dir, this.env, async () => false);
  }

  private async deleteImpl(name: string): Promise<void> {
    if (isInbox(name)) throw new StoreError('CANNOT', "INBOX can't be deleted.");
    const dir = mailboxDir(this.root, name);
    if (!(await isDir(dir))) throw new StoreError('NONEXISTENT', `Mailbox doesn't exist: ${name}`);
    // Rename first (atomic), then remove: a crash leaves a hidden directory, never half a folder.
    // The "..name" form is not a Maildir++ folder name, so neither we nor Dovecot list it.
    this.statusViews.clear();
    const trash = join(this.root, `..dmail-deleted.${process.pid}.${Date.now()}`);
    await fsp.rename(dir, trash);
    await fsp.rm(trash, { recursive: true, force: true });
    await this.updateUses((m) => afterDelete(m, name));
  }

  private async renameImpl(from: string, to: string): Promise<void> {
    const target = to.endsWith('/') ? to.slice(0, -1) : to;
    if (isInbox(target)) throw new StoreError('ALREADYEXISTS', 'Mailbox already exists');
    validateName(target);
    this.statusViews.clear();
    if (isInbox(from)) return this.renameInbox(target);
    validateName(from);
    const src = mailboxDir(this.root, from);
    const dst = mailboxDir(this.root, target);
    const srcEntry = src.slice(this.root.length + 1);
    const dstEntry = dst.slice(this.root.length + 1);
    const children = (await fsp.readdir(this.root).catch(() => [] as string[])).filter((e) => e.startsWith(`${srcEntry}.`));
    const srcExists = await isDir(src);
    // A \Noselect parent (children only, no directory of its own) can be renamed too: its children move.
    if (!srcExists && children.length === 0) throw new StoreError('NONEXISTENT', `Mailbox doesn't exist: ${from}`);
    if (await isDir(dst)) throw new StoreError('ALREADYEXISTS', 'Target mailbox already exists');
    if (target.startsWith(`${from}/`)) throw new StoreError('CANNOT', "Can't rename mailbox under itself.");
    for (const c of children) {
      if (await isDir(join(this.root, dstEntry + c.slice(srcEntry.length)))) {
        throw new StoreError('ALREADYEXISTS', 'Target mailbox already exists');
      }
    }
    if (srcExists) await fsp.rename(src, dst);
    for (const c of children) await fsp.rename(join(this.root, c), join(this.root, dstEntry + c.slice(srcEntry.length)));
    await this.updateUses((m) => afterRename(m, from, target));
  }

  /** RFC 3501: renaming INBOX moves its messages to the new folder and leaves INBOX empty. Each file
   *  is renamed (never copied), so a crash leaves every message in exactly one of the two. */
  private async renameInbox(to: string): Promise<void> {
    await this.createImpl(to);
    const dst = mailboxDir(this.root, to);
    await fsp.copyFile(join(this.root, KEYWORDS), join(dst, KEYWORDS)).catch(() => undefined);
    // Expunged messages still kept for other sessions stay behind (they are purged from INBOX).
    const kept = await this.expungedBases(this.root);
    for (const sub of ['cur', 'new']) {
      let files: string[] = [];
      try { files = await fsp.readdir(join(this.root, sub)); } catch { continue; }
      for (const f of files) {
        if (f.startsWith('.')) continue;
        if (kept.has(parseName(f).base)) continue;
        await fsp.rename(join(this.root, sub, f), join(dst, sub, f)).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'ENOENT') throw e;
        });
      }
    }
  }

  private async subscriptionsImpl(): Promise<string[]> {
    return readSubscriptions(this.root);
  }

  private async subscribeImpl(name: string): Promise<void> {
    await updateSubscriptions(this.root, this.env.lock, (names) => (names.includes(name) ? names : [...names, name]));
  }

  private async unsubscribeImpl(name: string): Promise<void> {
    await updateSubscriptions(this.root, this.env.lock, (names) => names.filter((n) => n !== name));
  }

  /** Bytes on disk of INBOX and all folders (S= from the name when present: no stat needed), without
   *  expunged messages whose files are still kept for sessions that may reference them. */
  private async usageImpl(): Promise<number> {
    const dirs = [this.root];
    try {
      for (const e of await fsp.readdir(this.root)) if (nameOfEntry(e)) dirs.push(join(this.root, e));
    } catch {
      return 0;
    }
    let total = 0;
    for (const dir of dirs) {
      const kept = await this.expungedBases(dir);
      for (const sub of ['cur', 'new']) {
        let files: string[] = [];
        try { files = await fsp.readdir(join(dir, sub)); } catch { continue; }
        for (const f of files) {
          if (f.startsWith('.')) continue;
          if (kept.size > 0 && kept.has(parseName(f).base)) continue;
          const size = parseName(f).size;
          if (size !== undefined) { total += size; continue; }
          try { total += (await fsp.stat(join(dir, sub, f))).size; } catch { /* expunged meanwhile */ }
        }
      }
    }
    return total;
  }

  /** Base names of a mailbox's messages that are expunged but whose files are kept (deferred removal). */
  private async expungedBases(dir: string): Promise<Set<string>> {
    const uv = await uidListValidity(join(dir, UIDLIST));
    if (uv === undefined) return new Set();
    const pending = pendingUids(changeLogOf(dir, uv, this.env));
    if (pending.size === 0) return new Set(); // the common case: no uidlist to parse
    const list = (await loadUidList(dir).catch(() => undefined))?.list;
    return list?.uidValidity === uv ? basesOf(list, pending) : new Set();
  }

  /** For `dmailctl convert`: append keeping a given UID, which must be above every UID in the list.
   *  The uidlist record is written before the file appears: a crash in between leaves a record
   *  without a file (harmless, and replaced on retry), never a file that would get another UID. */
  async appendWithUid(name: string, message: Buffer, flags: readonly Flag[], date: Date, uid: number): Promise<void> {
    await this.appendBatchWithUids(name, [{ message, flags, date, uid }]);
  }

  /** appendWithUid for many messages at once: files written (and fsynced) in parallel, one uidlist
   *  update for the batch. UIDs must ascend and be above every UID already listed. */
  async appendBatchWithUids(name: string, items: readonly { message: Buffer; flags: readonly Flag[]; date: Date; uid: number }[]): Promise<void> {
    if (items.length === 0) return;
    const dir = await this.existingDir(name);
    const keywords = [...new Set(items.flatMap((it) => storableFlags(it.flags).keywords))];
    const table = await ensureKeywords(dir, keywords, this.env.lock);
    const prepared: { tmp: string; base: string; info: string | undefined; uid: number; uidl?: string }[] = [];
    try {
      await mapLimit(items, 8, async (it) => {
        const body = toLf(it.message);
        const base = newBaseName(body.length, crlfSize(body));
        const tmp = join(dir, 'tmp', base);
        prepared.push({ tmp, base, info: infoFor(it.flags, table), uid: it.uid, uidl: headerUidl(body) });
        await writeDurably(tmp, body, it.date);
      });
      prepared.sort((a, b) => a.uid - b.uid);
      await lockedUidList(dir, this.env, async (l) => {
        for (const p of prepared) {
          const old = l.records.find((r) => r.uid === p.uid);
          if (old) {
            if (await locate(dir, old.base)) throw new StoreError('ALREADYEXISTS', `UID ${p.uid} already exists`);
            l.records = l.records.filter((r) => r !== old);
            l.byBase.delete(old.base);
          }
          const last = l.records[l.records.length - 1]?.uid ?? 0;
          if (p.uid <= last) throw new StoreError('CANNOT', `UID ${p.uid} is not above the last UID ${last}`);
          const rec = { uid: p.uid, base: p.base, ext: p.uidl ? [`P${p.uidl}`] : [] };
          l.records.push(rec);
          l.byBase.set(p.base, rec);
          l.nextUid = Math.max(l.nextUid, p.uid + 1);
        }
        // Before the files appear (below): a session never lists one without its logged append.
        changeLogOf(dir, l.uidValidity, this.env).add(CHANGE_APPEND, prepared.map((p) => p.uid));
        return true;
      });
      for (const p of prepared) await fsp.rename(p.tmp, join(dir, 'cur', fileName(p.base, p.info ?? '')));
    } finally {
      for (const p of prepared) await fsp.unlink(p.tmp).catch(() => undefined);
    }
  }

  /** For `dmailctl convert`: give an empty mailbox the source's UIDVALIDITY, or raise UIDNEXT of one
   *  that already has it. Refused (CANNOT) for a mailbox holding other mail. */
  async setUidState(name: string, uidValidity: number, uidNext: number): Promise<void> {
    const dir = await this.existingDir(name);
    await lockedUidList(dir, this.env, async (l) => {
      if (l.uidValidity === uidValidity) {
        if (uidNext <= l.nextUid) return false;
        l.nextUid = uidNext;
        return true;
      }
      const scan = await scanMaildir(dir);
      if (l.records.length > 0 || scan.files.size > 0) throw new StoreError('CANNOT', 'Mailbox is not empty');
      l.uidValidity = uidValidity;
      l.nextUid = Math.max(uidNext, 1);
      return true;
    });
  }
}

/** Like Dovecot, drop tmp/ files older than 36 hours: deliveries or appends that died half-way; and
 *  the temporary files of index updates killed half-way (dotlock.ts names, a change-log compaction),
 *  after an hour. */
const TMP_MAX_AGE_MS = 36 * 3600 * 1000;
const INDEX_TEMP_MAX_AGE_MS = 3600 * 1000;
const INDEX_TEMP = /^(?:(?:dovecot-uidlist|dovecot-keywords|subscriptions|dmail-special-use)\.(?:lock\.tmp|lock\.stale|new)\.|dovecot-uidvalidity\.\d+\.tmp$|\.dmail-modlog\.[0-9a-f]+\.tmp$)/;

async function removeOld(dir: string, names: string[], maxAge: number, log: Logger): Promise<void> {
  const now = Date.now();
  for (const n of names) {
    const p = join(dir, n);
    try {
      const st = await fsp.lstat(p);
      if (st.isFile() && now - Math.max(st.mtimeMs, st.ctimeMs) > maxAge) {
        await fsp.unlink(p);
        log.info({ path: p }, 'maildir: removed stale temporary file');
      }
    } catch {
      // raced with its owner: fine
    }
  }
}

async function cleanTmp(dir: string, log: Logger): Promise<void> {
  const tmp = await fsp.readdir(join(dir, 'tmp')).catch(() => [] as string[]);
  await removeOld(join(dir, 'tmp'), tmp, TMP_MAX_AGE_MS, log);
  const own = (await fsp.readdir(dir).catch(() => [] as string[])).filter((n) => INDEX_TEMP.test(n));
  await removeOld(dir, own, INDEX_TEMP_MAX_AGE_MS, log);
}

/** Write a new message file so that it is complete on disk before it becomes visible (tmp → new). */
async function writeDurably(path: string, body: Buffer, date?: Date): Promise<void> {
  const fh = await fsp.open(path, 'wx', 0o600);
  try {
    await fh.writeFile(body);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fsp.unlink(path).catch(() => undefined);
    throw e;
  }
  await fh.close();
  if (date && !Number.isNaN(date.getTime())) await fsp.utimes(path, date, date);
}

export function createMaildirStore(paths: UserPaths, settings: Settings, log: Logger, bus?: MailboxBus): MailStore {
  return new MaildirStore(paths, settings, log, bus);
}

