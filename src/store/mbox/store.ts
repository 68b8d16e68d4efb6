// One user's mbox mail: INBOX is the drop file, folders are mbox files (and directories of folders) in
// the folder directory (reference §6.2): a folder holds messages or folders, never both.

import {
  lstatSync, mkdirSync, readdirSync, rmdirSync, unlinkSync, renameSync, openSync, closeSync, writeFileSync,
  readFileSync, constants, statSync, fsyncSync, rmSync,
} from 'node:fs';
import type { Dirent, Stats } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import type { Settings } from '../../config/settings.js';
import type { Logger } from '../../log/types.js';
import type {
  MailStore, Mailbox, MailboxStatus, OpenOptions, AppendItem, AppendManyResult, AppendResult, CopyResult, FolderEntry, Flag, UserPaths, CreateOptions,
} from '../types.js';
import { StoreError } from '../types.js';
import { replaceFileSync, UnsafePathError } from '../safe-file.js';
import { MboxFile, isRegularFile, type FileOptions, type NewMessage } from './file.js';
import { MboxMailbox, encodeFlags } from './mailbox.js';
import { layoutOf, restamp, statusOf } from './format.js';
import { fsyncDir, readIndexHead, indexStatusCounts } from './index-file.js';
import { quickStatus, quickStatusMany, type QuickFiles, type QuickItem } from './quick-status.js';
import { afterCreate, afterDelete, afterRename, formatUses, normalUses, parseUses, type UseMap } from '../special-use.js';
import { watchPaths, WATCH_MAILBOX_POLL_MS } from '../watch.js';
import { resetUrlauthKeys, urlauthKey } from '../urlauth-keys.js';
import type { MailboxBus } from '../bus.js';

const SUBSCRIPTIONS = '.mailboxlist';
/** RFC 6154 special uses given at CREATE (special-use.ts), beside the subscriptions; never listed. */
const SPECIAL_USE = '.specialuse';

/** Validate a folder name and return its path components. Refuses anything that could leave the area. */
export function folderComponents(name: string): string[] {
  if (!name || name.includes('\0') || name.startsWith('/') || name.length > 1024) {
    throw new StoreError('CANNOT', `invalid mailbox name ${JSON.stringify(name)}`);
  }
  const parts = name.replace(/\/+$/, '').split('/');
  for (const p of parts) {
    // Leading dots would reach our own state (.imapd-index, .mailboxlist) or leave the directory.
    if (!p || p.startsWith('.') || p.endsWith('.lock') || /[\x00-\x1f\x7f]/.test(p)) {
      throw new StoreError('CANNOT', `invalid mailbox name ${JSON.stringify(name)}`);
    }
  }
  return parts;
}

function fileKey(name: string): string {
  if (name === 'INBOX') return 'INBOX';
  // (A name of at most 66 UTF-16 units is at most 198 UTF-8 bytes: no need to count them.)
  if (name.length <= 66 && !name.includes('%') && !name.includes('/')) return 'F.' + name;
  const key = 'F.' + name.replace(/%/g, '%25').replace(/\//g, '%2F');
  // File names are limited to 255 bytes; long folder names get a hashed key.
  return Buffer.byteLength(key) <= 200 ? key : 'H.' + createHash('sha1').update(name).digest('hex');
}

/** A mailbox's files in the index directory, by suffix after its key: the index, the redo journal,
 *  the change log, the live-handle slots and the facts cache. They follow the folder through RENAME. */
const MOVED_WITH_FOLDER = ['.idx', '.journal', '.modlog', '.views', '.facts', '.facts.sk'];
/** Dropped with the folder at DELETE. The change log stays: a folder created again under the name
 *  continues its HIGHESTMODSEQ (changelog.ts restarts it above the old one for the new UIDVALIDITY).
 *  `.inuse` is the lock file of earlier versions (DELETE/RENAME were refused for a folder in use). */
const DROPPED_WITH_FOLDER = ['.idx', '.journal', '.views', '.inuse', '.facts', '.facts.sk'];

export class MboxStore implements MailStore {
  private readonly fileOpts: FileOptions;
  /** paths.folders and paths.indexDir normalised without a trailing '/', for building paths. */
  private readonly foldersDir: string;
  private readonly indexDir: string;

  constructor(readonly paths: UserPaths, private readonly settings: Settings, private readonly log: Logger, bus?: MailboxBus) {
    this.foldersDir = resolve(paths.folders);
    this.indexDir = resolve(paths.indexDir);
    this.fileOpts = {
      ...(bus ? { bus } : {}),
      lock: { timeoutSec: settings.lock_timeout ?? 30, staleSec: settings.lock_stale ?? 300, lockId: settings.lock_id, flock: settings.use_flock ?? false, log },
      log,
      minSpaceMb: settings.min_space ?? 0,
    };
  }

  /** Path of a mailbox, with every existing component checked not to be a symlink. `dirs`: directories
   *  found to be real directories earlier in the same batch (statusMany), each looked at once; `last`
   *  false leaves the mailbox's own entry to the caller (who looks at it anyway). */
  private pathOf(name: string, dirs?: Set<string>, last = true): string {
    if (name === 'INBOX') return this.paths.inbox;
    if (/^inbox(\/|$)/i.test(name)) throw new StoreError('CANNOT', 'INBOX cannot hold folders');
    const parts = folderComponents(name);
    let p = this.foldersDir;
    const check = (path: string, what: string, isDir: boolean) => {
      if (isDir && dirs?.has(path)) return;
      let st;
      try { st = lstatSync(path); } catch { return; }
      if (st.isSymbolicLink()) throw new StoreError('NOPERM', what);
      if (isDir && st.isDirectory()) dirs?.add(path);
    };
    check(p, 'folder directory is a symbolic link', true);
    for (let i = 0; i < parts.length; i++) {
      // Components are checked (no '.', '..', '/' or empty ones): plain concatenation is join().
      p = `${p}/${parts[i]!}`;
      const end = i === parts.length - 1;
      if (!end || last) check(p, `${name}: symbolic links are not followed`, !end);
    }
    return p;
  }

  private file(name: string, path = this.pathOf(name)): MboxFile {
    const key = fileKey(name);
    const stem = `${this.indexDir}/${key}`;
    return new MboxFile(path, this.paths.indexDir, stem + '.idx', stem + '.journal', this.fileOpts);
  }

  /** Kind of an existing mailbox path (no symlink following). */
  private kind(path: string): 'file' | 'dir' | 'none' {
    try {
      const st = lstatSync(path);
      if (st.isDirectory()) return 'dir';
      if (st.isFile()) return 'file';
      throw new StoreError('NOPERM', 'not a mailbox');
    } catch (e) {
      if (e instanceof StoreError) throw e;
      return 'none';
    }
  }

  private requireFolder(name: string): MboxFile {
    const f = this.file(name);
    if (name === 'INBOX') return f;
    const k = this.kind(f.path);
    if (k === 'none') throw new StoreError('NONEXISTENT', `mailbox ${name} does not exist`);
    if (k === 'dir') throw new StoreError('CANNOT', `${name} holds folders, not messages`);
    return f;
  }

  async open(name: string, options: OpenOptions = {}): Promise<Mailbox> {
    const f = this.requireFolder(name);
    return MboxMailbox.open(name, f, options.readOnly ?? false, options.claimRecent ?? false);
  }

  /** Wire names of the message folders in a folder directory (recursively). */
  private foldersUnder(dir: string, prefix: string, depth = 0): string[] {
    if (depth > 20) return [];
    let names: string[];
    try { names = readdirSync(dir); } catch { return []; }
    const out: string[] = [];
    for (const n of names) {
      if (n.startsWith('.') || n.endsWith('.lock')) continue;
      let st;
      try { st = lstatSync(join(dir, n)); } catch { continue; }
      if (st.isDirectory()) out.push(...this.foldersUnder(join(dir, n), `${prefix}${n}/`, depth + 1));
      else if (st.isFile()) out.push(prefix + n);
    }
    return out;
  }

  async status(name: string): Promise<MailboxStatus> {
    return this.statusIn(name);
  }

  /** LIST-STATUS: every directory on the way is looked at once for the batch, not once per folder, and
   *  the index directory once (quick-status.ts); only mailboxes the index cannot answer take a lock. */
  async statusMany(names: readonly string[]): Promise<(MailboxStatus | StoreError)[]> {
    const dirs = new Set<string>();
    const out: (MailboxStatus | StoreError | null)[] = new Array(names.length);
    const items: QuickItem[] = [];
    const at: number[] = [];
    for (let i = 0; i < names.length; i++) {
      try {
        items.push(this.statusTarget(names[i]!, dirs));
        at.push(i);
      } catch (e) {
        if (!(e instanceof StoreError)) throw e;
        out[i] = e;
      }
    }
    const quick = quickStatusMany(this.indexDir, items, true);
    for (let k = 0; k < items.length; k++) {
      const q = quick[k];
      if (q) { out[at[k]!] = q; continue; }
      try {
        out[at[k]!] = await this.lockedStatus(this.file(names[at[k]!]!, items[k]!.f.path));
      } catch (e) {
        if (!(e instanceof StoreError)) throw e;
        out[at[k]!] = e;
      }
    }
    return out as (MailboxStatus | StoreError)[];
  }

  private async statusIn(name: string): Promise<MailboxStatus> {
    const t = this.statusTarget(name);
    // Unlocked from the index when it is valid for the spool as it is (quick-status.ts), else locked.
    return quickStatus(t.f, t.spool) ?? this.lockedStatus(this.file(name, t.f.path));
  }

  /** A mailbox's files for STATUS: requireFolder's checks, with the one lstat of the mailbox's own entry
   *  kept for its stamp. `dirs`: as pathOf's. */
  private statusTarget(name: string, dirs?: Set<string>): QuickItem {
    if (name === 'INBOX') return { f: this.files(name, this.paths.inbox) };
    const path = this.pathOf(name, dirs, false);
    let st: Stats | undefined;
    try { st = lstatSync(path, { throwIfNoEntry: false }); } catch { /* cannot be looked at */ }
    if (!st) throw new StoreError('NONEXISTENT', `mailbox ${name} does not exist`);
    if (st.isSymbolicLink()) throw new StoreError('NOPERM', `${name}: symbolic links are not followed`);
    if (st.isDirectory()) throw new StoreError('CANNOT', `${name} holds folders, not messages`);
    if (!st.isFile()) throw new StoreError('NOPERM', 'not a mailbox');
    return { f: this.files(name, path), spool: st };
  }

  /** The file names file() would give an MboxFile (no object of that class: a batch of STATUS needs
   *  only the names, and the locked path makes the MboxFile). */
  private files(name: string, path: string): QuickFiles {
    const stem = `${this.indexDir}/${fileKey(name)}`;
    return { path, indexPath: stem + '.idx', journalPath: stem + '.journal', modlogPath: stem + '.modlog' };
  }

  private lockedStatus(f: MboxFile): Promise<MailboxStatus> {
    return f.readLocked((_fd, d) => {
      const highestModseq = Math.max(d.logSeen, f.changeLog(d.uidValidity).highestModseq());
      return { ...indexStatusCounts(d), uidNext: d.uidNext, uidValidity: d.uidValidity, highestModseq };
    });
  }

  private async appendItems(name: string, items: NewMessage[]): Promise<{ uidValidity: number; uids: number[] }> {
    const f = this.requireFolder(name);
    if (name === 'INBOX') mkdirSync(dirname(f.path), { recursive: true, mode: 0o755 });
    return f.locked('create', (fd, d) => {
      if (fd < 0) throw new StoreError('CANNOT', 'cannot create the mailbox file');
      const r = f.appendMessages(fd, d, items);
      return { uidValidity: r.data.uidValidity, uids: r.uids };
    });
  }

  async append(name: string, message: Buffer, flags: readonly Flag[] = [], date: Date = new Date()): Promise<AppendResult> {
    const enc = encodeFlags(flags);
    // New to the mailbox, so \Recent for the first session that selects it (UW: no `Status: O` yet).
    const r = await this.appendItems(name, [{ raw: message, flags: enc.bits, keywords: enc.keywords, date }]);
    return { uidValidity: r.uidValidity, uid: r.uids[0]! };
  }

  /** One journalled tail write holds every message (journal.ts: the journal's commit is the commit
   *  point; before it the spool is untouched, after it a replay finishes the write), logged as one
   *  change, then one index save. */
  async appendMany(name: string, items: readonly AppendItem[]): Promise<AppendManyResult> {
    if (items.length === 0) throw new StoreError('CANNOT', 'Nothing to append');
    const r = await this.appendItems(name, items.map((it) => {
      const enc = encodeFlags(it.flags ?? []);
      return { raw: it.message, flags: enc.bits, keywords: enc.keywords, date: it.date ?? new Date() };
    }));
    return { uidValidity: r.uidValidity, uids: r.uids };
  }

  async copy(from: Mailbox, uids: readonly number[], to: string): Promise<CopyResult> {
    this.requireFolder(to);
    const want = new Set(uids);
    const items: NewMessage[] = [];
    const sourceUids: number[] = [];
    for (const m of from.state.messages) {
      if (!want.has(m.uid)) continue;
      let raw: Buffer;
      try { raw = await from.read(m.uid); } catch (e) {
        if (e instanceof StoreError && e.code === 'NONEXISTENT') continue;
        throw e;
      }
      const enc = encodeFlags([...m.flags]);
      items.push({ raw, flags: enc.bits, keywords: enc.keywords, date: m.internalDate });
      sourceUids.push(m.uid);
    }
    if (!items.length) {
      const st = await this.status(to);
      return { uidValidity: st.uidValidity, sourceUids: [], destUids: [] };
    }
    const r = await this.appendItems(to, items);
    return { uidValidity: r.uidValidity, sourceUids, destUids: r.uids };
  }

  async list(): Promise<FolderEntry[]> {
    const uses = this.readUses();
    const out: FolderEntry[] = [{ name: 'INBOX', noselect: false, noinferiors: true, hasChildren: false }];
    const visible = (n: string) => !n.startsWith('.') && !n.endsWith('.lock');
    // One readdir per directory, with the entry types it gives (an lstat only where the file system
    // does not say); a directory's own listing also tells whether it has children.
    const walk = (dir: string, prefix: string, depth: number, ents: Dirent[]) => {
      for (const d of ents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
        const n = d.name;
        if (!visible(n)) continue;
        if (!prefix && n.toUpperCase() === 'INBOX') continue;
        // readdir names hold no '/', and the walk starts at the normalised folder directory.
        const p = `${dir}/${n}`;
        let isDir = d.isDirectory();
        let isFile = d.isFile();
        if (!isDir && !isFile && !d.isSymbolicLink()) {
          try { const st = lstatSync(p); isDir = st.isDirectory(); isFile = st.isFile(); } catch { continue; }
        }
        const name = prefix + n;
        if (isDir) {
          let kids: Dirent[] = [];
          try { kids = readdirSync(p, { withFileTypes: true }); } catch { /* unreadable */ }
          out.push({ name, noselect: true, noinferiors: false, hasChildren: kids.some((k) => visible(k.name)) });
          if (depth < 20) walk(p, name + '/', depth + 1, kids);
        } else if (isFile) {
          const su = uses.get(name);
          out.push({ name, noselect: false, noinferiors: true, hasChildren: false, ...(su ? { specialUse: su } : {}) });
        }
      }
    };
    let top: Dirent[] = [];
    try { top = readdirSync(this.foldersDir, { withFileTypes: true }); } catch { /* no folders yet */ }
    walk(this.foldersDir, '', 0, top);
    return out;
  }

  async create(name: string, options: CreateOptions = {}): Promise<void> {
    if (name.toUpperCase() === 'INBOX') throw new StoreError('ALREADYEXISTS', 'INBOX always exists');
    const asDir = name.endsWith('/');
    const uses = normalUses(options.specialUse ?? []);
    if (asDir && uses.length) throw new StoreError('CANNOT', 'a folder that holds folders cannot have a special use');
    this.createFolder(name, asDir);
    // Made first, then its uses recorded (special-use.ts): a CREATE that found the name taken has
    // thrown above and records nothing. Uses that cannot be recorded undo the new, still empty folder.
    const bare = name.replace(/\/+$/, '');
    try {
      this.updateUses((m) => afterCreate(m, bare, uses));
    } catch (e) {
      if (uses.length) this.undoCreate(bare, asDir);
      throw e;
    }
  }

  private undoCreate(name: string, asDir: boolean): void {
    const path = this.pathOf(name);
    try {
      if (asDir) rmdirSync(path);
      else if (lstatSync(path).size === 0) unlinkSync(path);
    } catch { /* someone else's by now */ }
  }

  private createFolder(name: string, asDir: boolean): void {
    const path = this.pathOf(name);
    const parts = folderComponents(name);
    // Every parent must be (or become) a directory: a folder holding messages cannot hold folders.
    let p = this.paths.folders;
    for (const c of parts.slice(0, -1)) {
      p = join(p, c);
      if (this.kind(p) === 'file') throw new StoreError('CANNOT', `${c} holds messages, so it cannot hold folders`);
    }
    if (this.kind(path) !== 'none') throw new StoreError('ALREADYEXISTS', `mailbox ${name} already exists`);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    if (asDir) { mkdirSync(path, { mode: 0o700 }); return; }
    // Nothing of an earlier folder of this name may describe the new one (its UIDVALIDITY comes fresh
    // from the user's counter at the first open).
    this.dropIndex(name);
    try {
      closeSync(openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new StoreError('ALREADYEXISTS', `mailbox ${name} already exists`);
      throw e;
    }
  }

  private dropIndex(name: string): void {
    const key = fileKey(name);
    for (const suffix of DROPPED_WITH_FOLDER) {
      try { rmSync(join(this.paths.indexDir, key + suffix), { recursive: true, force: true }); } catch { /* none */ }
    }
  }

  async delete(name: string): Promise<void> {
    if (name.toUpperCase() === 'INBOX') throw new StoreError('CANNOT', 'INBOX cannot be deleted');
    const f = this.file(name);
    const k = this.kind(f.path);
    if (k === 'none') throw new StoreError('NONEXISTENT', `mailbox ${name} does not exist`);
    if (k === 'dir') {
      try { rmdirSync(f.path); } catch { throw new StoreError('CANNOT', `${name} still has folders in it`); }
      return;
    }
    // Never refused because another session has the folder open: under the write lock no one is half
    // way through a write; the other sessions' handles then find it gone (refresh: NONEXISTENT).
    await f.locked('write', () => { unlinkSync(f.path); });
    this.dropIndex(name);
    this.updateUses((m) => afterDelete(m, name));
  }

  async rename(from: string, to: string): Promise<void> {
    if (to.toUpperCase() === 'INBOX') throw new StoreError('ALREADYEXISTS', 'INBOX already exists');
    const dest = this.pathOf(to);
    if (this.kind(dest) !== 'none') throw new StoreError('ALREADYEXISTS', `mailbox ${to} already exists`);
    let p = this.paths.folders;
    for (const c of folderComponents(to).slice(0, -1)) {
      p = join(p, c);
      if (this.kind(p) === 'file') throw new StoreError('CANNOT', `${c} holds messages, so it cannot hold folders`);
    }
    if (from === 'INBOX') {
      const inbox = this.file('INBOX');
      mkdirSync(dirname(dest), { recursive: true, mode: 0o700 });
      this.dropIndex(to);
      await inbox.locked('write', (fd, d) => {
        const bytes = fd >= 0 ? withoutMailboxState(inbox.rawMessages(fd, d), d.messages) : Buffer.alloc(0);
        // New folder first (durably), then empty INBOX: a crash in between duplicates, never loses.
        const nfd = openSync(dest, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        try { writeFileSync(nfd, bytes); fsyncSync(nfd); } finally { closeSync(nfd); }
        fsyncDir(dirname(dest));
        if (fd >= 0) inbox.clear(fd, d);
      });
      return;
    }
    const src = this.file(from);
    const kind = this.kind(src.path);
    if (kind === 'none') throw new StoreError('NONEXISTENT', `mailbox ${from} does not exist`);
    // Every message folder that moves (the folder, or all folders under a directory) keeps its index,
    // journal, change log and UIDs under its new name. Never refused because another session has one
    // open: that session's handle finds its mailbox gone at its next refresh (NONEXISTENT).
    const base = from.replace(/\/+$/, '');
    const moved = kind === 'dir' ? this.foldersUnder(src.path, base + '/') : [base];
    mkdirSync(dirname(dest), { recursive: true, mode: 0o700 });
    const newName = (n: string) => to.replace(/\/+$/, '') + n.slice(base.length);
    for (const n of moved) this.dropIndex(newName(n));
    if (kind === 'file') {
      // Under the spool's write lock: no other session is half way through writing it.
      await src.locked('write', () => {
        renameSync(src.path, dest);
        this.moveIndex(from, to);
      });
    } else {
      renameSync(src.path, dest);
      for (const n of moved) this.moveIndex(n, newName(n));
    }
    this.updateUses((m) => afterRename(m, base, to.replace(/\/+$/, '')));
  }

  /** A renamed folder's index files follow it (its inode, so its index stamp, is unchanged). */
  private moveIndex(from: string, to: string): void {
    const a = fileKey(from);
    const b = fileKey(to);
    for (const suffix of MOVED_WITH_FOLDER) {
      const target = join(this.paths.indexDir, b + suffix);
      if (suffix === '.views' || suffix === '.modlog') rmSync(target, { recursive: true, force: true });
      try { renameSync(join(this.paths.indexDir, a + suffix), target); } catch { /* none */ }
    }
    try { unlinkSync(join(this.paths.indexDir, a + '.inuse')); } catch { /* none */ }
  }

  private readUses(): UseMap {
    const path = join(this.paths.folders, SPECIAL_USE);
    try {
      // Most users have none: a stat that says so costs less than the error a failed read throws.
      if (!statSync(path, { throwIfNoEntry: false })) return new Map();
      return parseUses(readFileSync(path, 'utf8'));
    } catch { return new Map(); }
  }

  /** Read, change, replace atomically (as `.mailboxlist`); nothing written when nothing changes. */
  private updateUses(change: (m: UseMap) => UseMap | null): void {
    const next = change(this.readUses());
    if (!next) return;
    try {
      replaceFileSync(this.paths.folders, SPECIAL_USE, formatUses(next), { mkdirMode: 0o700 });
    } catch (e) {
      if (e instanceof UnsafePathError) throw new StoreError('NOPERM', e.message);
      throw e;
    }
  }

  async urlauthKey(name: string, create: boolean): Promise<Buffer | null> {
    return urlauthKey(this.paths.indexDir, name, create);
  }

  async resetUrlauthKeys(name?: string): Promise<void> {
    resetUrlauthKeys(this.paths.indexDir, name);
  }

  watchMailbox(name: string, onChange: () => void): () => void {
    let f: MboxFile;
    try { f = this.file(name); } catch { return () => {}; }
    return watchPaths([f.path, f.modlogPath], onChange, WATCH_MAILBOX_POLL_MS);
  }

  watchFolders(onChange: () => void): () => void {
    // The folder directory, the subscriptions file and every directory below (a folder created in a
    // subdirectory changes only that directory); the set is taken again after each change.
    let stopped = false;
    let stop = () => {};
    const arm = () => {
      stop();
      if (stopped) return;
      stop = watchPaths([this.paths.folders, this.subsPath(), this.paths.inbox, ...this.dirsUnder(this.paths.folders, 0)], () => {
        arm();
        onChange();
      });
    };
    arm();
    return () => { stopped = true; stop(); };
  }

  private dirsUnder(dir: string, depth: number): string[] {
    if (depth > 20) return [];
    let names: string[];
    try { names = readdirSync(dir); } catch { return []; }
    const out: string[] = [];
    for (const n of names) {
      if (n.startsWith('.')) continue;
      const p = join(dir, n);
      try { if (!lstatSync(p).isDirectory()) continue; } catch { continue; }
      out.push(p, ...this.dirsUnder(p, depth + 1));
    }
    return out;
  }

  private subsPath(): string {
    return join(this.paths.folders, SUBSCRIPTIONS);
  }

  async subscriptions(): Promise<string[]> {
    try {
      return readFileSync(this.subsPath(), 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
    } catch { return []; }
  }

  private writeSubs(list: string[]): void {
    try {
      replaceFileSync(this.paths.folders, SUBSCRIPTIONS, list.map((l) => l + '\n').join(''), { mkdirMode: 0o700 });
    } catch (e) {
      if (e instanceof UnsafePathError) throw new StoreError('NOPERM', e.message);
      throw e;
    }
  }

  async subscribe(name: string): Promise<void> {
    if (name !== 'INBOX') folderComponents(name);
    const list = await this.subscriptions();
    if (!list.includes(name)) { list.push(name); this.writeSubs(list); }
  }

  async unsubscribe(name: string): Promise<void> {
    const list = await this.subscriptions();
    if (list.includes(name)) this.writeSubs(list.filter((n) => n !== name));
  }

  async usage(): Promise<number> {
    let total = 0;
    // What users see: a spool's size less the expunged messages it still keeps for other sessions
    // (from the index head, when the index describes the file as it is).
    const visible = (name: string, st: { size: bigint; ino: bigint }): number => {
      const head = readIndexHead(join(this.paths.indexDir, fileKey(name) + '.idx'));
      const size = Number(st.size);
      if (!head || head.stamp.ino !== String(st.ino) || head.stamp.size !== size) return size;
      return Math.max(0, size - head.hiddenBytes);
    };
    try { total += visible('INBOX', statSync(this.paths.inbox, { bigint: true })); } catch { /* empty INBOX */ }
    const walk = (dir: string, prefix: string, depth: number) => {
      if (depth > 20) return;
      let names: string[];
      try { names = readdirSync(dir); } catch { return; }
      for (const n of names) {
        if (n.startsWith('.')) continue;
        try {
          const st = lstatSync(join(dir, n), { bigint: true });
          if (st.isDirectory()) walk(join(dir, n), `${prefix}${n}/`, depth + 1);
          else if (st.isFile()) total += visible(prefix + n, st);
        } catch { /* vanished */ }
      }
    };
    walk(this.paths.folders, '', 0);
    return total;
  }
}

/**
 * The messages of a RENAMEd INBOX, for the new folder: without the first message's X-IMAPbase (INBOX's
 * UIDVALIDITY and UIDNEXT), so the new folder gets a UIDVALIDITY of its own from the user's counter — a
 * name must never see a UIDVALIDITY again with other messages under it. X-UIDs stay (ascending).
 */
function withoutMailboxState(bytes: Buffer, messages: readonly { offset: number; end: number }[]): Buffer {
  const m0 = messages[0];
  if (!m0 || !bytes.length) return bytes;
  const first = bytes.subarray(0, m0.end - m0.offset);
  const layout = layoutOf(first);
  if (!layout.headers.some((h) => h.name === 'x-imapbase')) return bytes;
  const st = statusOf(first, layout);
  return Buffer.concat([restamp(first, { flags: st.flags, keywords: st.keywords, uid: st.uid }, null, layout), bytes.subarray(first.length)]);
}

export { isRegularFile };
