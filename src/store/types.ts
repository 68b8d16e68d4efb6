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

/**
 * What `Mailbox.facts()` is asked to produce for each message. Every member is optional; ask only for
 * what the command needs (a fact not asked for may still be present, callers must not rely on it).
 */
export interface FactsRequest {
  /** `MessageFacts.envelope`: the IMAP ENVELOPE. */
  readonly envelope?: boolean;
  /** `MessageFacts.body`: the non-extensible BODY form of the body structure. */
  readonly body?: boolean;
  /** `MessageFacts.bodyStructure`: the extensible BODYSTRUCTURE form. */
  readonly bodyStructure?: boolean;
  /** `MessageFacts.sortKeys` (RFC 5256 SORT keys and SEARCH SENT*). */
  readonly sortKeys?: boolean;
  /** `MessageFacts.threading` (RFC 5256 THREAD REFERENCES: Message-ID, In-Reply-To, References). */
  readonly threading?: boolean;
  /** `MessageFacts.headerFields`: BODY[HEADER.FIELDS (names)] of the message's own (top-level) header.
   *  Field names as the client wrote them; matched case-insensitively. Must not be empty. */
  readonly headerFields?: readonly string[];
  /** `MessageFacts.headerValues`: the RFC 2047-decoded values of these top-level header fields (SEARCH
   *  HEADER / FROM / TO / CC / BCC / SUBJECT). Names matched case-insensitively. */
  readonly headerValues?: readonly string[];
  /** `MessageFacts.searchValues`: what the header SEARCH keys (HEADER, FROM, TO, CC, BCC, SUBJECT) match
   *  against for these top-level header fields, ready for a substring test. Names matched
   *  case-insensitively. */
  readonly searchValues?: readonly string[];
}

/** One address as SORT looks at it (RFC 5256 §3, RFC 5957 SORT=DISPLAY). */
export interface SortAddress {
  /** Display name (phrase), RFC 2047-decoded to Unicode; null when the address has none. */
  readonly name: string | null;
  /** Local part (addr-mailbox) as written (comments and quoting removed, as in ENVELOPE); null if none. */
  readonly mailbox: string | null;
  /** Domain (addr-host) as written; null if none. */
  readonly domain: string | null;
}

/** SORT keys of one message (RFC 5256 §3) and the sent date SEARCH SENT* compares. */
export interface SortKeys {
  /** The first `Date:` field's value as written (wire string: one char per byte), null without one. */
  readonly dateHeader: string | null;
  /** That date as UTC milliseconds since the epoch (its zone applied; RFC 5322 and obsolete forms,
   *  two-digit years as RFC 5322 §4.3 says). null when missing or unparsable: RFC 5256 SORT DATE then
   *  uses INTERNALDATE (MessageInfo.internalDate), which the caller has. */
  readonly sentDate: number | null;
  /** The calendar day of that date in the sender's own zone, as UTC midnight milliseconds: what RFC 3501
   *  SENTBEFORE / SENTON / SENTSINCE compare (time and zone disregarded). Found more leniently than
   *  `sentDate` (a date without a time still has a day); null when there is none. */
  readonly sentDay: number | null;
  /** The first `Subject:` field's value, unfolded and RFC 2047-decoded to Unicode (not yet reduced to the
   *  RFC 5256 §2.1 base subject: that is the caller's, one place for SORT SUBJECT and THREAD); null
   *  without a Subject field. */
  readonly subject: string | null;
  /** First address of the (merged, as in ENVELOPE) From / To / Cc lists; null when the list has no
   *  address (a group's start and end markers are skipped). */
  readonly from: SortAddress | null;
  readonly to: SortAddress | null;
  readonly cc: SortAddress | null;
  // RFC 5256 SIZE is MessageInfo.size and ARRIVAL is MessageInfo.internalDate: not repeated here.
}

/** The threading material of one message (RFC 5256 §2.2 REFERENCES). Message IDs are given without
 *  their angle brackets and with comments and whitespace removed, case kept (e.g. `abc@example.com`). */
export interface ThreadingKeys {
  /** The first valid message ID of `Message-ID:`; null when there is none. */
  readonly messageId: string | null;
  /** The valid message IDs of `In-Reply-To:`, in order (empty when none). */
  readonly inReplyTo: readonly string[];
  /** The valid message IDs of `References:` (all such fields, in order; empty when none). */
  readonly references: readonly string[];
}

export interface KeyColumnsRequest {
  /** Fill messageId, inReplyTo, refStart and refs too. */
  readonly threading?: boolean;
  /** Fill subject and replyOrForward too. */
  readonly subjects?: boolean;
}

/** Mailbox.keyColumns(): entry i is the message of the i-th UID asked for. */
export interface KeyColumns {
  /** 1: known (the other columns hold its keys); 0: its bytes are gone (MessageFacts.exists false). */
  readonly exists: Uint8Array;
  /** SortKeys.sentDate; NaN for null. */
  readonly sentDate: Float64Array;
  /** ThreadingKeys.messageId as a number; -1 for null. (Threading columns: empty unless asked for.) */
  readonly messageId: Int32Array;
  /** The first of ThreadingKeys.inReplyTo as a number; -1 when there is none. */
  readonly inReplyTo: Int32Array;
  /** ThreadingKeys.references of message i: refs[refStart[i]] up to refs[refStart[i + 1]] (n + 1 entries). */
  readonly refStart: Uint32Array;
  readonly refs: Int32Array;
  /** One more than the largest ID number (numbers are 0 up to this, not all of them used). */
  readonly idLimit: number;
  /** The base subject (RFC 5256 §2.1) of SortKeys.subject as a number: equal numbers exactly for equal
   *  i;unicode-casemap keys (mime/base-subject.ts subjectKey); -1 for an empty one. (Subject columns:
   *  empty unless asked for.) */
  readonly subject: Int32Array;
  /** 1 when that subject was a reply or forward. */
  readonly replyOrForward: Uint8Array;
}

/**
 * Parsed facts of one message, as `Mailbox.facts()` yields them. Only what the request asked for is
 * certain to be set. The IMAP strings ("wire strings") are what Dovecot 2.3 sends, byte for byte, with
 * one JS char per byte (latin1): send them with Buffer.from(s, 'latin1').
 */
export interface MessageFacts {
  readonly uid: number;
  /** False when the message's bytes are gone (the same case in which `read()` rejects with
   *  StoreError('NONEXISTENT')): no other member is set then. */
  readonly exists: boolean;
  /** ENVELOPE, parenthesised: `(date subject from sender reply-to to cc bcc in-reply-to message-id)`. */
  readonly envelope?: string;
  /** BODY (non-extensible body structure), parenthesised. */
  readonly body?: string;
  /** BODYSTRUCTURE (extensible: with MD5, disposition, language, location), parenthesised. */
  readonly bodyStructure?: string;
  readonly sortKeys?: SortKeys;
  readonly threading?: ThreadingKeys;
  /** Exactly the bytes of BODY[HEADER.FIELDS (requested names)]: the matching fields of the top-level
   *  header, whole (folded lines and line ends included), in header order, followed by an empty line
   *  (CRLF). */
  readonly headerFields?: Buffer;
  /** Decoded values (RFC 2047; folding removed, leading and trailing whitespace trimmed) of the requested
   *  fields, keyed by the lower-cased field name, every occurrence in header order; an empty array for
   *  a requested field the header lacks. */
  readonly headerValues?: ReadonlyMap<string, readonly string[]>;
  /** For each requested field (keyed by the lower-cased name; an empty array when the header lacks
   *  it): the strings SEARCH looks for its needle in, all folded by `foldText` (src/mime/search.ts:
   *  NFKD, lower case, whitespace runs as one space; the needle is folded the same way). First every
   *  occurrence's value as in `headerValues`, then, for the address fields (ADDRESS_SEARCH_FIELDS in
   *  src/mime/address.ts: From, To, Cc, Bcc, Sender, Reply-To), every occurrence once more in
   *  normalised address form (`addressSearchText`: comments, quoting and folding gone, so
   *  `<user (c)@ (c) domain.org>` is found by `user@domain.org`). A backend may keep these strings in
   *  memory between calls: they are what a header SEARCH reads per message. */
  readonly searchValues?: ReadonlyMap<string, readonly string[]>;
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
  /**
   * Parsed facts of messages, for FETCH ENVELOPE / BODY / BODYSTRUCTURE / BODY[HEADER.FIELDS (...)], the
   * header-based SEARCH keys, SORT and THREAD: one MessageFacts per UID, in the order given (duplicates
   * answered again). Each is what parsing the bytes `read(uid)` returns would give, never anything
   * older: a message whose bytes changed under the same UID (another file, another size) is parsed
   * afresh. Same lifetime rule as read(): a UID this handle may no longer read, or whose bytes a foreign
   * program removed, yields `{ uid, exists: false }` instead of rejecting; other errors reject.
   *
   * A backend may answer from a per-mailbox cache of the facts clients ask for again and again; the
   * shared default (`src/store/facts.ts`: `FactsSource` gives it the bytes and a per-message identity)
   * keeps one in the index directory. Lazy: consume it in step with the output (FETCH writes each
   * message before the next is parsed), so memory stays bounded for `1:*` on a big mailbox. A
   * read-only handle (EXAMINE) answers the same facts but never writes a cache.
   */
  facts(uids: readonly number[], want: FactsRequest): AsyncIterable<MessageFacts>;
  /**
   * facts() answered all at once: the same MessageFacts, in an array in the order given. For commands
   * that need every answer before they can say anything (SORT, THREAD): the store may answer what its
   * cache holds in one synchronous pass, without a promise per message, and read or parse only the
   * rest. Memory grows with the number of UIDs: FETCH and SEARCH ask in bounded batches.
   */
  factsAll(uids: readonly number[], want: FactsRequest): Promise<MessageFacts[]>;
  /**
   * Optional (SORT (DATE) and THREAD REFERENCES over many messages): the sent dates and, when asked,
   * the threading IDs of `uids` as columns, in the order given — what factsAll(uids, { sortKeys,
   * threading }) answers, without an object or a string per message. Message IDs are numbers: within one
   * answer, two are equal exactly when the IDs (ThreadingKeys' strings) are equal.
   */
  keyColumns?(uids: readonly number[], want: KeyColumnsRequest): Promise<KeyColumns>;
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
  /** Messages with the \Deleted flag (RFC 9051 STATUS DELETED). */
  deleted: number;
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
  /** status() of several mailboxes (LIST-STATUS), in the order given: each answer is what status(name)
   *  would give, or the StoreError it would throw. Lets a backend share the work of a batch (mbox: each
   *  directory on the way is checked once, not once per folder). */
  statusMany(names: readonly string[]): Promise<(MailboxStatus | StoreError)[]>;
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
  /** Call `onChange` soon after mailbox `name` may have changed by anyone's hand (append, flags,
   *  expunge, its deletion or creation), without opening it: no handle, so no lock, no \Recent claim
   *  and no claim on deferred expunges (IMAP NOTIFY watches many mailboxes this way). Same timing as
   *  Mailbox.watch(); a hint only: the caller then asks status(). A name that does not exist (yet) or
   *  is not valid is watched for nothing worse than its appearance. Returns the function that stops. */
  watchMailbox(name: string, onChange: () => void): () => void;
  /** Call `onChange` soon after the folder list or the subscriptions may have changed (CREATE, DELETE,
   *  RENAME, SUBSCRIBE, UNSUBSCRIBE by any session or program). A hint: the caller re-lists. */
  watchFolders(onChange: () => void): () => void;
  /** URLAUTH (RFC 4467): the secret access key of mailbox `name` (32 random bytes), created on first use
   *  when `create` is set, else null when there is none. Kept in the user's index directory, readable by
   *  the user alone (src/store/urlauth-keys.ts); NOPERM when that file or directory is not trustworthy. */
  urlauthKey(name: string, create: boolean): Promise<Buffer | null>;
  /** RESETKEY: a new access key for `name`, or for every mailbox when undefined: URLs issued before
   *  stop working. */
  resetUrlauthKeys(name?: string): Promise<void>;
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
