// The storage interface. IMAP and POP3 talk only to this; mbox (drop files + .mbx folders) and maildir
// implement it. Mailbox names here are IMAP wire names: modified UTF-7, '/' as the hierarchy delimiter,
// and exactly 'INBOX' for the inbox (the protocol layer canonicalises case before calling).

import type { Readable } from 'node:stream';

/** System flags are stored with their backslash: '\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'.
 *  Anything else is a keyword. '\\Recent' is never stored: see MessageInfo.recent. */
export type Flag = string;

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
}

export interface MailboxState {
  readonly uidValidity: number;
  readonly uidNext: number;
  /** Keywords the mailbox defines (X-IMAP/X-IMAPbase keyword list, or dovecot-keywords). */
  readonly keywords: readonly string[];
  /** Current messages in sequence order (ascending UID). The hidden X-IMAP message is never here. */
  readonly messages: readonly MessageInfo[];
}

export interface OpenOptions {
  readOnly?: boolean;
  /** Claim \Recent for this session (SELECT does, EXAMINE and STATUS do not). */
  claimRecent?: boolean;
}

export type StoreMode = 'add' | 'remove' | 'replace';

export interface Mailbox {
  readonly name: string;
  readonly readOnly: boolean;
  /** Snapshot as of the last open/refresh. A new object after every refresh or write. */
  readonly state: MailboxState;
  /** Re-read the mailbox (cheap when unchanged: index + stat). Picks up other sessions' and MDA changes.
   *  The caller diffs old and new `state` to produce EXISTS/EXPUNGE/FETCH updates. */
  refresh(): Promise<MailboxState>;
  /** Whole message, line endings normalised to CRLF, mboxrd-unquoted. For MIME parsing and SEARCH. */
  read(uid: number): Promise<Buffer>;
  /** Stream message bytes [start, end) of the CRLF-normalised message without loading it whole. */
  stream(uid: number, start?: number, end?: number): Readable;
  /** Change flags of the given UIDs; returns the new state. Unknown UIDs are ignored. */
  setFlags(uids: readonly number[], mode: StoreMode, flags: readonly Flag[]): Promise<MailboxState>;
  /** Remove messages. With `uids`, only those (POP3 DELE, UID EXPUNGE); without, every \Deleted message.
   *  Returns the UIDs actually removed. Crash-safe: a kill at any instant loses no other message. */
  expunge(uids?: readonly number[]): Promise<number[]>;
  close(): Promise<void>;
}

export interface MailboxStatus {
  messages: number;
  recent: number;
  unseen: number;
  uidNext: number;
  uidValidity: number;
  /** Total RFC822 size of the messages (for STATUS SIZE and quota). */
  size: number;
}

export interface FolderEntry {
  /** Wire name ('INBOX', 'Sent', 'Archive/2024'). */
  name: string;
  /** Holds folders, not messages (UW: a directory): \Noselect. */
  noselect: boolean;
  /** Holds messages, so cannot hold folders (UW: an mbox file): \NoInferiors. */
  noinferiors: boolean;
  hasChildren: boolean;
}

export interface AppendResult {
  uidValidity: number;
  uid: number;
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
  /** Copy messages from an open mailbox into another folder. */
  copy(from: Mailbox, uids: readonly number[], to: string): Promise<CopyResult>;
  list(): Promise<FolderEntry[]>;
  create(name: string): Promise<void>;
  delete(name: string): Promise<void>;
  /** Renaming INBOX moves its messages into the new folder and leaves INBOX empty (RFC 3501). */
  rename(from: string, to: string): Promise<void>;
  subscriptions(): Promise<string[]>;
  subscribe(name: string): Promise<void>;
  unsubscribe(name: string): Promise<void>;
  /** Bytes used by INBOX and all folders, for user_quota. */
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
