// The storage interface. IMAP and POP3 talk only to this; mbox (drop files + .mbx folders) and maildir
// implement it. Mailbox names here are IMAP wire names: modified UTF-7, '/' as the hierarchy delimiter,
// and exactly 'INBOX' for the inbox (the protocol layer canonicalises case before calling).

import type { Readable } from 'node:stream';

/** System flags are stored with their backslash: '\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'.
 *  Anything else is a keyword. '\\Recent' is never stored: see MessageInfo.recent. */
export type Flag = string;

/** The IMAP system flags a store keeps, in the order FLAGS and PERMANENTFLAGS list them: the one list
 *  (back ends map them to their own encodings: mbox status letters/bits, maildir info letters). */
export const SYSTEM_FLAGS: readonly Flag[] = ['\\Answered', '\\Flagged', '\\Deleted', '\\Draft', '\\Seen'];

const CANONICAL_SYSTEM_FLAG = new Map(SYSTEM_FLAGS.map((f) => [f.toLowerCase(), f]));

/** The stored spelling of a system flag given in any case ('\\seen' → '\\Seen'); undefined for \\Recent,
 *  unknown system flags and keywords. */
export function canonicalSystemFlag(flag: string): Flag | undefined {
  return CANONICAL_SYSTEM_FLAG.get(flag.toLowerCase());
}

/** RFC 6154 special uses a mailbox can be given at CREATE (CREATE-SPECIAL-USE) and keep, in their
 *  stored spelling. \\All and \\Flagged name virtual mailboxes (every message, every flagged one),
 *  which no store here has, so they cannot be given. */
export const SPECIAL_USES: readonly string[] = ['\\Archive', '\\Drafts', '\\Junk', '\\Sent', '\\Trash'];

const CANONICAL_SPECIAL_USE = new Map(SPECIAL_USES.map((u) => [u.toLowerCase(), u]));

/** The stored spelling of a special use given in any case ('\\drafts' → '\\Drafts'); undefined for
 *  anything a store cannot keep. */
export function canonicalSpecialUse(use: string): string | undefined {
  return CANONICAL_SPECIAL_USE.get(use.toLowerCase());
}

export interface MessageInfo {
  readonly uid: number;
  /** Permanent flags and keywords. Treat as immutable: the store replaces the set on change. */
  readonly flags: ReadonlySet<Flag>;
  /** RFC822.SIZE: size with every line ending counted as CRLF, after mboxrd unquoting. */
  readonly size: number;
  /** INTERNALDATE (from the mbox `From ` line, or the maildir file's mtime / APPEND date). */
  readonly internalDate: Date;
  /** True for the one session that first saw this message (UW's rule: no `Status: O` yet). */
  readonly recent: boolean;
  /** A stored POP3 UIDL (the message's own `X-UIDL:` header) if there is one. */
  readonly uidl?: string;
  /** RFC 7162 mod-sequence of the message's last change (its append or its last flag change).
   *  Always >= 1 and <= the state's highestModseq. After an index rebuild a backend may report the
   *  mailbox's highestModseq for messages whose own value it lost (clients then re-fetch flags). */
  readonly modseq: number;
}

export interface MailboxState {
  readonly uidValidity: number;
  readonly uidNext: number;
  /** Keywords the mailbox defines (X-IMAP/X-IMAPbase keyword list, or dovecot-keywords). */
  readonly keywords: readonly string[];
  /** Current messages in sequence order (ascending UID). The hidden X-IMAP message is never here, nor
   *  are messages expunged (even while their bytes are kept for sessions that still see them). */
  readonly messages: readonly MessageInfo[];
  /** RFC 7162 HIGHESTMODSEQ: the mod-sequence of the mailbox's newest change (append, flag change,
   *  expunge). Strictly increases with every change; never decreases while uidValidity is the same. */
  readonly highestModseq: number;
}

/** What the change log can say about expunges (QRESYNC VANISHED (EARLIER), deferred removal). */
export interface ExpungedSince {
  /** UIDs expunged after mod-sequence `since`, ascending. */
  readonly uids: readonly number[];
  /** False when the log no longer reaches back to `since` (compacted): `uids` is then only what it
   *  still knows, and the caller must treat every UID below uidNext that is not in the state as
   *  possibly expunged (RFC 7162 §3.2.5.2 allows reporting UIDs that never existed). */
  readonly complete: boolean;
}

export interface OpenOptions {
  readOnly?: boolean;
  /** Claim \Recent for this session (SELECT does, EXAMINE and STATUS do not). */
  claimRecent?: boolean;
}

export type StoreMode = 'add' | 'remove' | 'replace';

/**
 * One session's handle on one mailbox. Several handles (in this process and in others, on this host and
 * on others sharing the storage) may be open on one mailbox at once; the store keeps them coherent:
 *
 * - Every change (append, flag change, expunge) gets a mod-sequence from the mailbox's change log.
 * - Expunge is deferred removal: `expunge()` hides the messages from every `state` at once, but their
 *   bytes stay readable through `read`/`stream` by every handle that may still reference them, i.e.
 *   every handle whose `acknowledged` point is below the expunge's mod-sequence. They leave the storage
 *   (through the same crash-safe path as any rewrite) once no open handle can reference them: when the
 *   last such handle acknowledges or closes (or dies: liveness is by fcntl lock, never by memory), at
 *   the latest at the next write to the mailbox that finds none.
 * - A handle's view is its own: other sessions' changes appear only in the `state` a `refresh()` or
 *   one of its own writes returns.
 */
export interface Mailbox {
  readonly name: string;
  readonly readOnly: boolean;
  /** Snapshot as of the last open/refresh/write. A new object whenever anything in it changed; the very
   *  same object when nothing did (callers may compare by identity). */
  readonly state: MailboxState;
  /** Re-read the mailbox (cheap when unchanged). Picks up other sessions', POP3's and the MDA's changes.
   *  Rejects with StoreError('NONEXISTENT') once the mailbox was deleted or renamed away by someone
   *  else: the handle is then useless except for close() (the session says BYE or deselects). */
  refresh(): Promise<MailboxState>;
  /** Whole message, line endings normalised to CRLF, mboxrd-unquoted. For MIME parsing and SEARCH.
   *  Works for every UID this handle was ever given in a state until it acknowledged a state without
   *  it (deferred removal); StoreError('NONEXISTENT') after that, or when a foreign program removed it. */
  read(uid: number): Promise<Buffer>;
  /** Stream message bytes [start, end) of the CRLF-normalised message without loading it whole.
   *  Same lifetime rule as read(). */
  stream(uid: number, start?: number, end?: number): Readable;
  /**
   * Like stream(), for a consumer that is done with each chunk (written and drained) before it reads
   * the next one: the store may reuse a few buffers for the pieces of a big message instead of leaving
   * one buffer of garbage per piece. Not for consumers that collect chunks.
   */
  streamTransient(uid: number, start?: number, end?: number): Readable;
  /** Change flags of the given UIDs; returns the new state. UIDs that are unknown or already expunged
   *  (by anyone) are ignored: a silent no-op, as RFC 2180 §4.2.1 lets a server do. Changed messages get
   *  a new mod-sequence. With `unchangedSince` (RFC 7162 UNCHANGEDSINCE), messages whose mod-sequence
   *  is above it are not changed and their UIDs are returned in `modified`. */
  setFlags(uids: readonly number[], mode: StoreMode, flags: readonly Flag[], unchangedSince?: number): Promise<MailboxState & { readonly modified?: readonly number[] }>;
  /** Expunge messages. With `uids`, only those (POP3 DELE, UID EXPUNGE); without, every \Deleted message.
   *  Returns the UIDs this call expunged (ones already expunged by someone else are not repeated and
   *  are no error). Durable when it returns; crash-safe: a kill at any instant loses no other message
   *  and never brings an expunged one back. */
  expunge(uids?: readonly number[]): Promise<number[]>;
  /** The session has told its client everything up to `state` (EXPUNGE/VANISHED sent): expunged
   *  messages not in it need no longer be readable through this handle. A POP3 session never calls it
   *  (its listing holds until QUIT). Cheap; may be called after every command. */
  acknowledge(state: MailboxState): void;
  /** UIDs expunged after mod-sequence `since` (QRESYNC). */
  expungedSince(since: number): Promise<ExpungedSince>;
  /** Call `onChange` soon (target: within 100 ms; bounded by a poll when the filesystem gives no
   *  events, e.g. another host on shared storage) after the mailbox may have changed by anyone else's
   *  hand. A hint only: the callee then calls refresh(). Returns a function that stops watching. */
  watch(onChange: () => void): () => void;
  /** Let go of the mailbox: ends this handle's claim on expunged messages (they may be removed now). */
  close(): Promise<void>;
}

export interface MailboxStatus {
  messages: number;
  recent: number;
  unseen: number;
  uidNext: number;
  uidValidity: number;
  /** Total RFC822 size of the messages (for STATUS SIZE and quota); expunged messages not counted. */
  size: number;
  /** RFC 7162 STATUS HIGHESTMODSEQ. */
  highestModseq: number;
}

export interface FolderEntry {
  /** Wire name ('INBOX', 'Sent', 'Archive/2024'). */
  name: string;
  /** Holds folders, not messages (UW: a directory): \Noselect. */
  noselect: boolean;
  /** Holds messages, so cannot hold folders (UW: an mbox file): \NoInferiors. */
  noinferiors: boolean;
  hasChildren: boolean;
  /** No mailbox of this name: listed only because folders exist below it (a Maildir++ "a.b" without
   *  "a"). IMAP shows it as \\NonExistent (LIST-EXTENDED) or \\Noselect. Implies `noselect`. */
  nonexistent?: boolean;
  /** RFC 6154 special uses given to the mailbox at CREATE (SPECIAL_USES spellings), when any. */
  specialUse?: readonly string[];
}

export interface CreateOptions {
  /** RFC 6154 CREATE-SPECIAL-USE: uses from SPECIAL_USES (anything else: StoreError CANNOT, and
   *  nothing is created). Kept with the mailbox: they follow it through RENAME and go with DELETE. */
  specialUse?: readonly string[];
}

export interface AppendResult {
  uidValidity: number;
  uid: number;
}

/** One message for MailStore.appendMany. */
export interface AppendItem {
  /** The message, any line endings (stored in the store's own form, as append() does). */
  readonly message: Buffer;
  /** Permanent flags and keywords to store with it (\\Recent is never stored). Default none. */
  readonly flags?: readonly Flag[];
  /** INTERNALDATE. Default: now. */
  readonly date?: Date;
}

export interface AppendManyResult {
  uidValidity: number;
  /** The UIDs given, in the order of the items (ascending). */
  uids: number[];
}

export interface CopyResult {
  uidValidity: number;
  sourceUids: number[];
  destUids: number[];
}

export class StoreError extends Error {
  constructor(
    /** Maps to IMAP response codes: NONEXISTENT, ALREADYEXISTS, INUSE, OVERQUOTA, CANNOT, LIMIT,
     *  SERVERBUG, UNAVAILABLE (lock timeout), NOPERM. */
    readonly code:
      | 'NONEXISTENT' | 'ALREADYEXISTS' | 'INUSE' | 'OVERQUOTA' | 'CANNOT' | 'LIMIT'
      | 'SERVERBUG' | 'UNAVAILABLE' | 'NOPERM',
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

/** One authenticated user's mail: INBOX plus folders. */
export interface MailStore {
  open(name: string, options?: OpenOptions): Promise<Mailbox>;
  status(name: string): Promise<MailboxStatus>;
  /** Append a message (any line endings; stored in the store's own form). */
  append(name: string, message: Buffer, flags?: readonly Flag[], date?: Date): Promise<AppendResult>;
  /**
   * Append several messages to one mailbox as one unit (RFC 3502 MULTIAPPEND, CATENATE): all of them
   * or none. Atomic under failure (an error leaves none of them: nothing written, or the partial
   * write rolled back) and under kill -9 at any instant: a kill before the store's commit point leaves
   * none, after it all (completed at the latest by the next open of or write to the mailbox). Other
   * sessions see them with one mod-sequence and consecutive UIDs once committed. `items` must not be
   * empty (StoreError CANNOT). append(name, m, f, d) is appendMany(name, [{message: m, flags: f,
   * date: d}]) with a single UID. The caller checks quota for the whole set before calling.
   */
  appendMany(name: string, items: readonly AppendItem[]): Promise<AppendManyResult>;
  /** Copy messages from an open mailbox into another folder. */
  copy(from: Mailbox, uids: readonly number[], to: string): Promise<CopyResult>;
  list(): Promise<FolderEntry[]>;
  /** A name ending in '/' asks for a mailbox that holds folders (mbox: a directory); it cannot be
   *  given special uses. Uses left by an earlier mailbox of the name never carry over to a new one. */
  create(name: string, options?: CreateOptions): Promise<void>;
  /** Never refused because the folder is selected in another session: those sessions' handles then
   *  fail refresh() with NONEXISTENT. UIDVALIDITY of a name is strictly increasing per user: a folder
   *  created again (also by RENAME over a deleted name) never gets a UIDVALIDITY it had before. */
  delete(name: string): Promise<void>;
  /** Renaming INBOX moves its messages into the new folder and leaves INBOX empty (RFC 3501). A renamed
   *  folder keeps its UIDs and UIDVALIDITY. Never refused because the folder is selected elsewhere. */
  rename(from: string, to: string): Promise<void>;
  subscriptions(): Promise<string[]>;
  subscribe(name: string): Promise<void>;
  unsubscribe(name: string): Promise<void>;
  /** Bytes used by INBOX and all folders, for user_quota: what users see (expunged messages whose
   *  bytes are still kept for other sessions do not count). */
  usage(): Promise<number>;
}

/** Where one user's mail lives, resolved from settings + authentication (store/paths.ts). */
export interface UserPaths {
  /** INBOX: the drop file (mbox) or the maildir directory. */
  inbox: string;
  /** Folder directory: `<dropfile>.mbx`, `~/<imapd_mailbox_name>`, or the maildir root. */
  folders: string;
  /** Directory for this server's per-mailbox indexes and small state files. */
  indexDir: string;
  kind: 'mbox' | 'maildir';
}
