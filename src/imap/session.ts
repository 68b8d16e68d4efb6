// Per-connection IMAP state shared by the command handlers: the protocol state, the logged-in user, the
// selected mailbox, and the output helpers. One object per connection (a process may serve many).

import type { ServerContext } from '../session/context.js';
import type { Connection } from '../transport/types.js';
import type { Logger } from '../log/types.js';
import { StoreError, type MailStore } from '../store/types.js';
import type { UserSession } from '../session/login.js';
import type { InputQueue } from './input.js';
import type { Args } from './args.js';
import type { Selected, TrackerMode } from './selected.js';
import { contextExpunges, sendContextUpdates } from './context-updates.js';
import type { ServeOptions } from '../session/handoff.js';

export type ImapState = 'notauth' | 'auth' | 'selected' | 'logout';

/** The logged-in user as the login pipeline (src/session/login.ts) hands it over. */
export type LoggedInUser = UserSession;

export interface Command {
  tag: string;
  /** Upper-case command name, without a UID prefix. */
  name: string;
  uid: boolean;
  args: Args;
}

/** RFC 5465 NOTIFY while set (commands/notify.ts). Unsolicited output goes out only between commands
 *  and during IDLE: the command loop pauses it before running a command and resumes it after. */
export interface SessionNotifier {
  /** Stop sending; resolves once output in progress is complete. */
  pause(): Promise<void>;
  resume(): void;
  /** Pushes the selected mailbox's updates itself (IDLE then leaves them to it). */
  readonly handlesSelected: boolean;
  /** An update is being written. */
  readonly writing: boolean;
  close(): void;
}

export class ImapSession {
  state: ImapState = 'notauth';
  user: LoggedInUser | null = null;
  selected: Selected | null = null;
  authFailures = 0;
  commandCount = 0;
  /** Output refused (client stopped reading) or connection gone: stop working. */
  dead = false;
  /** Set when the connection must end after the current tagged response (e.g. too many failures). */
  byeAfter: string | null = null;
  /** The login was handed over (ServeOptions.stopAtLogin): the connection is no longer ours. */
  handedOff = false;
  log: Logger;
  /** Extensions the client enabled, explicitly (ENABLE) or implicitly (RFC 7162 §3.1: the first
   *  CONDSTORE-enabling command). Shared with the selected-mailbox tracker. */
  readonly enabled: TrackerMode = { condstore: false, qresync: false, imap4rev2: false };
  /** RFC 6855 ENABLE UTF8=ACCEPT: UTF-8 mailbox names and APPEND's UTF8 data item (src/imap/rev2.ts). */
  utf8Accept = false;
  /** NOTIFY SET state; null without NOTIFY or after NOTIFY NONE. */
  notifier: SessionNotifier | null = null;

  constructor(
    readonly conn: Connection,
    readonly ctx: ServerContext,
    readonly input: InputQueue,
    readonly serve: ServeOptions = {},
  ) {
    this.log = ctx.log;
  }

  get store(): MailStore {
    if (!this.user) throw new Error('not logged in');
    return this.user.store;
  }

  /** Output waiting to be sent. Responses are coalesced into one write per command: many small writes
   *  on a socket meet Nagle's algorithm and the client's delayed ACK (40 ms per response line). */
  private pending: (string | Buffer)[] = [];
  private pendingBytes = 0;

  /** Queue raw bytes or text (text is sent byte-for-byte as latin1: our responses are ASCII or carry
   *  message bytes that were decoded as latin1, one byte a char). Text stays text until flush() puts
   *  everything queued into one buffer (no buffer per piece: a FETCH 1:* of 10k messages made 4 MB of
   *  them, fresh memory, a page fault per 4 KB). */
  write(data: string | Buffer): void {
    if (this.dead) return;
    this.pending.push(data);
    this.pendingBytes += data.length;
    if (this.pendingBytes >= 64 * 1024) this.flush();
  }

  private sinceDrain = 0;

  hasPending(): boolean {
    return this.pendingBytes > 0;
  }

  /** Backpressure for long responses: after about a megabyte handed to the socket, wait until the
   *  client has read it, so FETCH 1:* of a big mailbox does not pile up in memory. */
  async drainIfBusy(): Promise<void> {
    if (this.sinceDrain + this.pendingBytes < 1 << 20) return;
    this.flush();
    this.sinceDrain = 0;
    await this.conn.drain();
  }

  /** Hand queued output to the connection. */
  flush(): void {
    if (!this.pendingBytes) return;
    this.sinceDrain += this.pendingBytes;
    let out: Buffer;
    if (this.pending.length === 1) {
      const p = this.pending[0]!;
      out = typeof p === 'string' ? Buffer.from(p, 'latin1') : p;
    } else {
      out = Buffer.allocUnsafe(this.pendingBytes);
      let at = 0;
      for (const p of this.pending) at += typeof p === 'string' ? out.write(p, at, 'latin1') : p.copy(out, at);
    }
    this.pending = [];
    this.pendingBytes = 0;
    if (this.dead) return;
    if (!this.conn.write(out)) this.dead = true;
  }

  line(text: string): void {
    this.write(text + '\r\n');
  }

  untagged(text: string): void {
    this.line(`* ${text}`);
  }

  tagged(tag: string, status: 'OK' | 'NO' | 'BAD', text: string): void {
    this.line(`${tag} ${status} ${text}`);
    this.flush();
  }

  /** A continuation request: the client waits for it, so it goes out at once. */
  continuation(text: string): void {
    this.line(`+ ${text}`);
    this.flush();
  }

  /** Idle timeout: DMail's autologout text, then the transport closes the connection. */
  autologout(text = 'Autologout; idle for too long'): void {
    this.untagged(`BYE ${text}`);
    this.flush();
    this.dead = true;
  }

  /** RFC 7162 §3.1: a CONDSTORE-enabling command (ENABLE, SELECT (CONDSTORE), FETCH MODSEQ or
   *  CHANGEDSINCE, STORE UNCHANGEDSINCE, SEARCH MODSEQ, STATUS HIGHESTMODSEQ). The first one issued
   *  while a mailbox is selected tells the client that mailbox's HIGHESTMODSEQ, as Dovecot does.
   *  Returns whether CONDSTORE was newly enabled. */
  enableCondstore(): boolean {
    if (this.enabled.condstore) return false;
    this.enabled.condstore = true;
    if (this.selected) this.untagged(highestModseqCode(this.selected.inStepModseq, 'Highest'));
    return true;
  }

  /** Send the untagged updates for the selected mailbox (re-reading the store first when asked). */
  async sendUpdates(opts: { refresh: boolean; allowExpunge: boolean }): Promise<void> {
    const sel = this.selected;
    if (!sel) return;
    if (sel.removedHere) {
      sel.removedHere = false;
      return;
    }
    if (opts.refresh) {
      try {
        await sel.mailbox.refresh();
      } catch (e) {
        if (e instanceof StoreError && e.code === 'NONEXISTENT') return this.mailboxVanished(e);
        throw e;
      }
    }
    if (sel.mailbox.state.uidValidity !== sel.uidValidity) {
      this.untagged('BYE [UIDVALIDITY] Mailbox UIDVALIDITY changed, please reconnect');
      this.flush();
      this.dead = true;
      return;
    }
    for (const l of contextExpunges(sel, opts.allowExpunge)) this.line(l); // RFC 5267: REMOVEFROM before EXPUNGE
    for (const l of sel.updates(opts.allowExpunge)) this.line(l);
    await sendContextUpdates(this); // CONTEXT=SEARCH/SORT: how live results changed
    if (sel.inStep) sel.acknowledge();
    else if (sel.modseqSent) {
      // RFC 7162 §3.2: MODSEQs may have been sent while an expunge is still held back: give the
      // client a resync point below that expunge's mod-sequence.
      this.untagged(highestModseqCode(sel.inStepModseq, 'Highest'));
    }
    sel.modseqSent = false;
  }

  /** The selected mailbox was deleted or renamed (by another session, or by this one: refresh rejects
   *  NONEXISTENT):
   *  the view cannot go on, so say so in Dovecot's words and end the connection. */
  private mailboxVanished(e: StoreError): void {
    // "renamed" only when the store knows that is what happened (its message says so and no more).
    const how = /\brenamed\b/i.test(e.message) && !/\bdeleted\b/i.test(e.message) ? 'renamed' : 'deleted';
    this.untagged(`BYE Selected mailbox was ${how}, have to disconnect.`);
    this.flush();
    this.dead = true;
    this.log.info({ mailbox: this.selected?.name }, `selected mailbox ${how}: session ends`);
  }

  async closeSelected(): Promise<void> {
    const sel = this.selected;
    this.selected = null;
    if (this.state === 'selected') this.state = 'auth';
    if (sel) await sel.mailbox.close().catch((e: unknown) => this.log.warn({ err: String(e) }, 'mailbox close failed'));
  }
}

/** `* OK [HIGHESTMODSEQ n] text`, or NOMODSEQ for a mailbox without mod-sequences (RFC 7162 §3.1.2). */
export function highestModseqCode(modseq: number, text: string): string {
  return modseq >= 1 ? `OK [HIGHESTMODSEQ ${modseq}] ${text}` : 'OK [NOMODSEQ] Sorry, modsequences have not been enabled on this mailbox';
}
