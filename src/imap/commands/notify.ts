// RFC 5465 NOTIFY: the client names mailboxes (selected, selected-delayed, inboxes, personal, subscribed,
// subtree, mailboxes) and the events it wants pushed for them; the server then sends, between commands
// and during IDLE, untagged updates for the selected mailbox (EXISTS/EXPUNGE/FETCH, and FETCH of the
// attributes given with MessageNew) and STATUS / LIST responses for the others.
//
// What changed is learnt only from the store: Mailbox.watch() for the selected mailbox,
// MailStore.watchMailbox() for the others (no handle is opened on them, so nothing holds back their
// deferred expunges and no lock is taken), MailStore.watchFolders() for the folder list and the
// subscriptions. Each hint leads to a status() (or a refresh of the selected mailbox) compared with what
// the client was last told. AnnotationChange, MailboxMetadataChange and ServerMetadataChange are not
// supported (no ANNOTATE/METADATA here): asking for them gets NO [BADEVENT ...] as the RFC says.
import type { Command, ImapSession, SessionNotifier } from '../session.js';
import { Args, ParseError } from '../args.js';
import { parseFetchItems } from '../fetch-items.js';
import { mailboxOut } from '../rev2.js';
import { no, ok, type Result } from '../result.js';
import { StoreError, type MailboxStatus } from '../../store/types.js';
import { mailboxArg } from './helpers.js';
import { fetch } from './fetch.js';

export const SUPPORTED_EVENTS = ['MessageNew', 'MessageExpunge', 'FlagChange', 'MailboxName', 'SubscriptionChange'] as const;
const UNSUPPORTED_EVENTS = ['AnnotationChange', 'MailboxMetadataChange', 'ServerMetadataChange'];
type EventName = (typeof SUPPORTED_EVENTS)[number];

/** More mailboxes than this in one NOTIFY SET is refused ([LIMIT]): each is watched. */
export const MAX_WATCHED = 1000;

type FilterKind = 'selected' | 'selected-delayed' | 'inboxes' | 'personal' | 'subscribed' | 'subtree' | 'mailboxes';

interface Filter {
  kind: FilterKind;
  names: string[];
  events: Set<EventName>;
  /** FETCH attributes for MessageNew on the selected mailbox, as the client wrote them. */
  fetchAtts?: string;
}

const KINDS: FilterKind[] = ['selected', 'selected-delayed', 'inboxes', 'personal', 'subscribed', 'subtree', 'mailboxes'];

class BadEvent extends Error {}

function parseFilter(a: Args): Filter {
  a.expect('(');
  const kindWord = a.atom().toLowerCase() as FilterKind;
  if (!KINDS.includes(kindWord)) throw new ParseError(`Unknown NOTIFY filter ${kindWord.slice(0, 40)}`);
  const names: string[] = [];
  if (kindWord === 'subtree' || kindWord === 'mailboxes') {
    a.sp();
    if (a.peek() === '(') a.list(() => names.push(mailboxArg(a)));
    else names.push(mailboxArg(a));
    if (!names.length) throw new ParseError('Empty mailbox list');
  }
  a.sp();
  const events = new Set<EventName>();
  let fetchAtts: string | undefined;
  if (a.peek() === '(') {
    a.list(() => {
      const name = a.atom();
      const known = SUPPORTED_EVENTS.find((e) => e.toLowerCase() === name.toLowerCase());
      // Unknown and unsupported (UNSUPPORTED_EVENTS) events alike: NO [BADEVENT] (RFC 5465 §3.1).
      if (!known) throw new BadEvent(name);
      events.add(known);
      if (known === 'MessageNew' && a.peek() === ' ' && a.text[a.pos + 1] === '(') {
        a.sp();
        const start = a.pos;
        parseFetchItems(a); // validated now; run again for each new message
        fetchAtts = a.text.slice(start, a.pos);
        if (fetchAtts.includes('\0')) throw new ParseError('Literals are not allowed in NOTIFY fetch attributes');
      }
    });
    if (!events.size) throw new ParseError('Empty event list');
  } else {
    if (a.atom().toUpperCase() !== 'NONE') throw new ParseError('Expected an event list or NONE');
  }
  a.expect(')');
  // RFC 5465 §5: MessageNew and MessageExpunge go together; FlagChange needs both.
  if (events.has('MessageNew') !== events.has('MessageExpunge')) throw new ParseError('MessageNew and MessageExpunge must be requested together');
  if (events.has('FlagChange') && !events.has('MessageNew')) throw new ParseError('FlagChange requires MessageNew and MessageExpunge');
  if (fetchAtts !== undefined && kindWord !== 'selected' && kindWord !== 'selected-delayed') {
    throw new ParseError('Fetch attributes are only allowed for the selected mailbox');
  }
  return { kind: kindWord, names, events, fetchAtts };
}

export async function notify(s: ImapSession, c: Command): Promise<Result> {
  const a = c.args;
  a.sp();
  const verb = a.atom().toUpperCase();
  if (verb === 'NONE') {
    a.end();
    s.notifier?.close();
    s.notifier = null;
    return ok('NOTIFY completed');
  }
  if (verb !== 'SET') throw new ParseError('Expected SET or NONE');
  a.sp();
  let sendStatus = false;
  if (a.peek() !== '(') {
    if (a.atom().toUpperCase() !== 'STATUS') throw new ParseError('Expected STATUS or a filter');
    sendStatus = true;
    a.sp();
  }
  const filters: Filter[] = [];
  try {
    for (;;) {
      filters.push(parseFilter(a));
      if (a.atEnd) break;
      a.sp();
    }
  } catch (e) {
    if (e instanceof BadEvent) return no(`[BADEVENT (${SUPPORTED_EVENTS.join(' ')})] Unsupported event ${e.message.slice(0, 40)}`);
    throw e;
  }
  if (filters.filter((f) => f.kind === 'selected' || f.kind === 'selected-delayed').length > 1) {
    throw new ParseError('Only one selected or selected-delayed filter is allowed');
  }
  const n = new Notifier(s, filters);
  try {
    await n.start(sendStatus);
  } catch (e) {
    n.close();
    throw e;
  }
  s.notifier?.close();
  s.notifier = n;
  return ok('NOTIFY completed');
}

interface Known {
  status: MailboxStatus | null;
  stop: () => void;
}

/** The live NOTIFY state of one session. */
class Notifier implements SessionNotifier {
  private closed = false;
  /** A command is running (no unsolicited output then). NOTIFY SET itself runs paused. */
  private paused = true;
  private running: Promise<void> | null = null;
  private dirtyNames = new Set<string>();
  private foldersDirty = false;
  private selectedDirty = false;
  private readonly watched = new Map<string, Known>();
  private folders: Set<string> = new Set();
  private subs: Set<string> = new Set();
  private stopFolders: (() => void) | null = null;
  private selWatch: { mailbox: unknown; stop: () => void } | null = null;
  readonly selectedFilter: Filter | undefined;

  constructor(private readonly s: ImapSession, private readonly filters: Filter[]) {
    this.selectedFilter = filters.find((f) => f.kind === 'selected' || f.kind === 'selected-delayed');
  }

  get handlesSelected(): boolean {
    return !this.closed && this.selectedFilter !== undefined && this.selectedFilter.events.size > 0;
  }

  get writing(): boolean {
    return this.running !== null;
  }

  /** The filter whose events apply to a mailbox other than the selected one (the first that names it). */
  private filterOf(name: string): Filter | undefined {
    for (const f of this.filters) {
      switch (f.kind) {
        case 'selected': case 'selected-delayed': continue;
        case 'inboxes': if (name === 'INBOX') return f; break;
        case 'personal': return f;
        case 'subscribed': if (this.subs.has(name)) return f; break;
        case 'subtree': if (f.names.some((r) => name === r || name.startsWith(r + '/'))) return f; break;
        case 'mailboxes': if (f.names.includes(name)) return f; break;
      }
    }
    return undefined;
  }

  /** The selected mailbox never gets STATUS: what it changes reaches the client as EXISTS, EXPUNGE
   *  and FETCH (pushed with a selected filter, else at the end of its commands). */
  private isSelectedName(name: string): boolean {
    return this.s.selected?.name === name;
  }

  /** Names whose messages are watched: existing folders and explicitly named mailboxes matched by a
   *  filter with message events. */
  private wantedNames(): Set<string> {
    const out = new Set<string>();
    const cands = new Set<string>([...this.folders, ...this.filters.flatMap((f) => f.names)]);
    for (const name of cands) {
      const f = this.filterOf(name);
      if (f && f.events.has('MessageNew')) out.add(name);
    }
    return out;
  }

  private async loadFolders(): Promise<void> {
    const list = await this.s.store.list();
    this.folders = new Set(['INBOX', ...list.filter((f) => !f.noselect).map((f) => f.name)]);
    this.subs = new Set(await this.s.store.subscriptions());
  }

  private async statusOf(name: string): Promise<MailboxStatus | null> {
    try {
      return await this.s.store.status(name);
    } catch (e) {
      if (e instanceof StoreError) return null; // absent, not a mailbox, unreadable: nothing to say
      throw e;
    }
  }

  private statusLine(name: string, st: MailboxStatus): string {
    const modseq = this.s.enabled.condstore ? ` HIGHESTMODSEQ ${st.highestModseq}` : '';
    return `STATUS ${mailboxOut(this.s, name)} (MESSAGES ${st.messages} UIDNEXT ${st.uidNext} UIDVALIDITY ${st.uidValidity} UNSEEN ${st.unseen}${modseq})`;
  }

  /** Watch what the filters name; with STATUS, tell the current state of each (RFC 5465 §3). */
  async start(sendStatus: boolean): Promise<void> {
    await this.loadFolders();
    const wanted = this.wantedNames();
    if (wanted.size > MAX_WATCHED) throw new StoreError('LIMIT', `NOTIFY would watch ${wanted.size} mailboxes (limit ${MAX_WATCHED})`);
    this.stopFolders = this.s.store.watchFolders(() => this.hint(() => { this.foldersDirty = true; }));
    await this.syncWatched(wanted);
    if (sendStatus) {
      for (const [name, k] of this.watched) {
        if (this.isSelectedName(name) || !k.status) continue;
        this.s.untagged(this.statusLine(name, k.status));
      }
    }
    this.watchSelected();
  }

  /** Start/stop per-mailbox watches to match `wanted`, taking a baseline status of each new one. */
  private async syncWatched(wanted: Set<string>): Promise<void> {
    for (const [name, k] of this.watched) {
      if (!wanted.has(name)) {
        k.stop();
        this.watched.delete(name);
      }
    }
    for (const name of wanted) {
      if (this.watched.has(name)) continue;
      const k: Known = { status: null, stop: () => {} };
      this.watched.set(name, k);
      k.stop = this.s.store.watchMailbox(name, () => this.hint(() => { this.dirtyNames.add(name); }));
      k.status = await this.statusOf(name);
    }
  }

  /** Follow the selected mailbox (a new handle after each SELECT). */
  private watchSelected(): void {
    const mb = this.s.selected?.mailbox ?? null;
    if (this.selWatch && this.selWatch.mailbox === mb) return;
    this.selWatch?.stop();
    this.selWatch = null;
    if (!mb || !this.handlesSelected) return;
    this.selWatch = { mailbox: mb, stop: mb.watch(() => this.hint(() => { this.selectedDirty = true; })) };
  }

  private hint(mark: () => void): void {
    if (this.closed) return;
    mark();
    this.kick();
  }

  private kick(): void {
    if (this.paused || this.closed || this.running || this.s.dead) return;
    if (!this.foldersDirty && !this.selectedDirty && !this.dirtyNames.size) return;
    this.running = this.run()
      .catch((e: unknown) => this.s.log.warn({ err: String(e) }, 'NOTIFY update failed'))
      .finally(() => {
        this.running = null;
        this.kick();
      });
  }

  /** One pass over what changed; output goes out whole at the end of each part. */
  private async run(): Promise<void> {
    const s = this.s;
    if (this.foldersDirty) {
      this.foldersDirty = false;
      const oldFolders = this.folders;
      const oldSubs = this.subs;
      await this.loadFolders();
      const lines: string[] = [];
      const gone = [...oldFolders].filter((n) => !this.folders.has(n));
      const made = [...this.folders].filter((n) => !oldFolders.has(n));
      // A rename is a name gone and a name made with the same UIDVALIDITY (a renamed
      // folder keeps its UIDVALIDITY, and none is ever given twice): LIST with OLDNAME (RFC 5465 §5.4).
      const renamedFrom = new Map<string, string>();
      for (const name of made) {
        const st = gone.length ? await this.statusOf(name) : null;
        const from = st && gone.find((g) => {
          const k = this.watched.get(g)?.status;
          return k && k.uidValidity === st.uidValidity && ![...renamedFrom.values()].includes(g);
        });
        if (from) renamedFrom.set(name, from);
      }
      for (const name of gone) {
        if ([...renamedFrom.values()].includes(name)) continue;
        if (this.eventsFor(name).has('MailboxName')) lines.push(`LIST (\\NonExistent) "/" ${mailboxOut(this.s, name)}`);
      }
      for (const name of made) {
        if (!this.eventsFor(name).has('MailboxName')) continue;
        const from = renamedFrom.get(name);
        lines.push(`LIST () "/" ${mailboxOut(this.s, name)}${from ? ` ("OLDNAME" (${mailboxOut(this.s, from)}))` : ''}`);
      }
      for (const name of this.subs) {
        if (!oldSubs.has(name) && this.eventsFor(name, true).has('SubscriptionChange')) lines.push(`LIST (\\Subscribed) "/" ${mailboxOut(this.s, name)}`);
      }
      for (const name of oldSubs) {
        if (!this.subs.has(name) && this.eventsFor(name, true).has('SubscriptionChange')) lines.push(`LIST () "/" ${mailboxOut(this.s, name)}`);
      }
      const wanted = this.wantedNames();
      if (wanted.size <= MAX_WATCHED) await this.syncWatched(wanted);
      for (const name of wanted) this.dirtyNames.add(name); // a created or renamed-in mailbox: its STATUS
      if (this.closed || s.dead) return;
      for (const l of lines) s.untagged(l);
      s.flush();
    }
    if (this.dirtyNames.size) {
      const names = [...this.dirtyNames];
      this.dirtyNames.clear();
      const lines: string[] = [];
      for (const name of names) {
        const k = this.watched.get(name);
        if (!k || this.isSelectedName(name)) continue;
        const st = await this.statusOf(name);
        // Gone (deleted, or renamed away: the folder pass may still need its last state to see that).
        if (!st) continue;
        const before = k.status;
        k.status = st;
        const events = this.eventsFor(name);
        const messagesChanged = !before || before.messages !== st.messages || before.uidNext !== st.uidNext || before.uidValidity !== st.uidValidity;
        const flagsChanged = !!before && (before.unseen !== st.unseen || before.highestModseq !== st.highestModseq);
        if ((messagesChanged && events.has('MessageNew')) || (flagsChanged && !messagesChanged && events.has('FlagChange'))) {
          lines.push(this.statusLine(name, st));
        }
      }
      if (this.closed || s.dead) return;
      for (const l of lines) s.untagged(l);
      s.flush();
    }
    this.watchSelected();
    if (this.selectedDirty) {
      this.selectedDirty = false;
      const sel = s.selected;
      const f = this.selectedFilter;
      if (!sel || !f || !this.handlesSelected) return;
      const lastUid = sel.view.length ? sel.view[sel.view.length - 1]!.uid : 0;
      await s.sendUpdates({ refresh: true, allowExpunge: f.kind === 'selected' });
      if (s.dead) {
        // The mailbox was deleted or renamed away (BYE sent): end the wait for the next command.
        s.input.end();
        return;
      }
      if (this.closed || s.selected !== sel) return;
      if (f.fetchAtts && f.events.has('MessageNew')) {
        const fresh = sel.view.filter((v) => v.uid > lastUid).map((v) => v.uid);
        if (fresh.length) {
          const cmd = { tag: '*', name: 'FETCH', uid: true, args: new Args(` ${fresh.join(',')} ${f.fetchAtts}`, []) };
          await fetch(s, cmd);
        }
      }
      s.flush();
    }
  }

  /** Events that apply to `name` (another mailbox than the selected one, or any for names). */
  private eventsFor(name: string, forSubscription = false): Set<EventName> {
    if (forSubscription) {
      // A subscription change concerns a name that may not exist: a filter that names it, or personal.
      for (const f of this.filters) {
        if (f.kind === 'selected' || f.kind === 'selected-delayed') continue;
        if (f.kind === 'personal' || f.kind === 'subscribed') return f.events;
        if (f.kind === 'inboxes' && name === 'INBOX') return f.events;
        if (f.kind === 'subtree' && f.names.some((r) => name === r || name.startsWith(r + '/'))) return f.events;
        if (f.kind === 'mailboxes' && f.names.includes(name)) return f.events;
      }
      return new Set();
    }
    if (this.s.selected?.name === name && this.selectedFilter) return this.selectedFilter.events;
    return this.filterOf(name)?.events ?? new Set();
  }

  async pause(): Promise<void> {
    this.paused = true;
    while (this.running) await this.running;
  }

  resume(): void {
    this.paused = false;
    this.watchSelected();
    this.kick();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopFolders?.();
    this.selWatch?.stop();
    for (const k of this.watched.values()) k.stop();
    this.watched.clear();
  }
}

