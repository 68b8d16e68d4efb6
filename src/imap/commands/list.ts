// LIST and LSUB with '%' and '*' (RFC 3501 §6.3.8-9), CHILDREN (RFC 3348) and SPECIAL-USE (RFC 6154)
// attributes, LIST-EXTENDED (RFC 5258: selection options SUBSCRIBED, REMOTE, RECURSIVEMATCH,
// SPECIAL-USE; return options SUBSCRIBED, CHILDREN, SPECIAL-USE; several patterns; CHILDINFO) and
// LIST-STATUS (RFC 5819: RETURN (STATUS (...))). Parents that exist only implicitly (a/b exists, a does
// not) are listed as \NonExistent in the extended syntax, \Noselect in the basic one.
import { StoreError, type FolderEntry } from '../../store/types.js';
import type { Command, ImapSession } from '../session.js';
import { canonicalPattern, specialUse, unicodePattern } from '../mailbox-name.js';
import { mailboxOut, unicodeName, utf8Names } from '../rev2.js';
import { bad, ok, type Result } from '../result.js';
import { ParseError, type Args } from '../args.js';
import { beforeStatus, parseStatusItems, statusResponse, type StatusItem } from './status.js';

/** LIST wildcard match ('*' anything, '%' anything but '/') as an NFA walk: O(name x pattern), with
 *  no regular-expression backtracking for a hostile pattern like "*%*%*%...x" to blow up on. */
export function wildcardMatch(pattern: string, name: string): boolean {
  // The patterns clients send most ("*", or a name without wildcards) need no walk.
  if (pattern === '*') return true;
  if (!pattern.includes('*') && !pattern.includes('%')) return pattern === name;
  const m = pattern.length;
  let states = new Uint8Array(m + 1);
  let spare = new Uint8Array(m + 1);
  const close = (st: Uint8Array) => {
    // A wildcard may match nothing: being before it means being after it too.
    for (let i = 0; i < m; i++) if (st[i] && (pattern[i] === '*' || pattern[i] === '%')) st[i + 1] = 1;
  };
  states[0] = 1;
  close(states);
  // By UTF-16 code unit, as the pattern is indexed: a UTF-8 session's names may hold surrogate pairs.
  for (let k = 0; k < name.length; k++) {
    const ch = name[k];
    const next = spare;
    next.fill(0);
    let any = false;
    for (let i = 0; i < m; i++) {
      if (!states[i]) continue;
      const p = pattern[i];
      if (p === '*' || (p === '%' && ch !== '/')) {
        next[i] = 1;
        any = true;
      } else if (p === ch) {
        next[i + 1] = 1;
        any = true;
      }
    }
    if (!any) return false;
    close(next);
    spare = states;
    states = next;
  }
  return states[m] === 1;
}

const MAX_PATTERN = 1024;
const MAX_PATTERNS = 100;
const STATUS_WINDOW = 128;

/** Every folder plus INBOX plus implicit parents, by name. */
async function allFolders(s: ImapSession): Promise<Map<string, FolderEntry>> {
  const map = new Map<string, FolderEntry>();
  for (const f of await s.store.list()) map.set(f.name, f);
  if (!map.has('INBOX')) map.set('INBOX', { name: 'INBOX', noselect: false, noinferiors: true, hasChildren: false });
  for (const name of [...map.keys()]) {
    for (const parent of ancestors(name)) {
      const p = map.get(parent);
      if (!p) map.set(parent, { name: parent, noselect: true, noinferiors: false, hasChildren: true, nonexistent: true });
      else if (!p.hasChildren) map.set(parent, { ...p, hasChildren: true });
    }
  }
  return map;
}

/** "a/b/c" → "a", "a/b". */
function ancestors(name: string): string[] {
  const parts = name.split('/');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join('/'));
  return out;
}

const canonicalInbox = (n: string) => (n.toUpperCase() === 'INBOX' ? 'INBOX' : n);

/** RFC 6154 attributes: the ones the mailbox was given at CREATE, else those its name suggests. */
function uses(f: FolderEntry): readonly string[] {
  if (f.nonexistent || f.noselect) return [];
  if (f.specialUse?.length) return f.specialUse;
  const su = specialUse(f.name);
  return su ? [su] : [];
}

function attributes(f: FolderEntry, extended: boolean): string[] {
  const attrs: string[] = [];
  if (f.nonexistent && extended) attrs.push('\\NonExistent');
  else if (f.noselect || f.nonexistent) attrs.push('\\Noselect');
  if (f.noinferiors) attrs.push('\\NoInferiors');
  // CHILDREN (RFC 3348) on every entry, even where \NoInferiors already implies it: clients that
  // only look for \HasNoChildren then need not know the implication.
  attrs.push(f.hasChildren ? '\\HasChildren' : '\\HasNoChildren');
  attrs.push(...uses(f));
  return attrs;
}

interface ListRequest {
  /** RFC 5258 syntax used: selection options, a pattern list or RETURN. */
  extended: boolean;
  /** The reference as sent. */
  ref: Buffer;
  patterns: Buffer[];
  selectSubscribed: boolean;
  selectSpecialUse: boolean;
  recursiveMatch: boolean;
  returnSubscribed: boolean;
  status: StatusItem[] | null;
}

/** RFC 5258 §6 (with RFC 5819 and RFC 6154): unknown options are BAD, as is RECURSIVEMATCH without a
 *  base option (SUBSCRIBED): REMOTE and SPECIAL-USE are independent options. */
function parseList(a: Args, lsub: boolean): ListRequest {
  const r: ListRequest = {
    extended: false, ref: Buffer.alloc(0), patterns: [], selectSubscribed: false, selectSpecialUse: false, recursiveMatch: false,
    returnSubscribed: false, status: null,
  };
  a.sp();
  if (!lsub && a.peek() === '(') {
    r.extended = true;
    a.list(() => {
      const o = a.atom().toUpperCase();
      if (o === 'SUBSCRIBED') r.selectSubscribed = true;
      else if (o === 'SPECIAL-USE') r.selectSpecialUse = true;
      else if (o === 'RECURSIVEMATCH') r.recursiveMatch = true;
      else if (o !== 'REMOTE') throw new ParseError(`Unknown LIST selection option ${o.slice(0, 40)}`);
    });
    if (r.recursiveMatch && !r.selectSubscribed) throw new ParseError('RECURSIVEMATCH must be used together with SUBSCRIBED');
    a.sp();
  }
  r.ref = a.listMailbox();
  a.sp();
  if (!lsub && a.peek() === '(') {
    r.extended = true;
    a.list(() => {
      if (r.patterns.length >= MAX_PATTERNS) throw new ParseError('Too many patterns');
      r.patterns.push(a.listMailbox());
    });
    if (!r.patterns.length) throw new ParseError('Empty pattern list');
  } else {
    r.patterns.push(a.listMailbox());
  }
  if (!lsub && !a.atEnd) {
    r.extended = true;
    a.sp();
    if (a.atom().toUpperCase() !== 'RETURN') throw new ParseError('Expected RETURN');
    a.sp();
    a.list(() => {
      const o = a.atom().toUpperCase();
      if (o === 'SUBSCRIBED') r.returnSubscribed = true;
      else if (o === 'STATUS') {
        if (r.status) throw new ParseError('STATUS given twice');
        a.sp();
        r.status = parseStatusItems(a);
      } else if (o !== 'CHILDREN' && o !== 'SPECIAL-USE') {
        // CHILDREN and SPECIAL-USE attributes are on every LIST response anyway.
        throw new ParseError(`Unknown LIST return option ${o.slice(0, 40)}`);
      }
    });
  }
  a.end();
  // SUBSCRIBED as a selection option implies it as a return option (RFC 5258 §3.1).
  if (r.selectSubscribed) r.returnSubscribed = true;
  return r;
}

export async function list(s: ImapSession, c: Command): Promise<Result> {
  const lsub = c.name === 'LSUB';
  const req = parseList(c.args, lsub);
  const patterns = req.patterns.filter((p) => p.length > 0);
  if (!patterns.length) {
    // The hierarchy delimiter and root (RFC 3501 §6.3.8); LSUB "" "" answers nothing.
    if (!lsub) s.untagged('LIST (\\Noselect) "/" ""');
    return ok(`${c.name} completed`);
  }
  // A UTF-8 session's patterns match the names as Unicode (RFC 9051 §5.1, RFC 6855 §3); otherwise
  // the modified UTF-7 forms are matched.
  const utf8 = utf8Names(s);
  const ref = utf8 ? req.ref : Buffer.from(canonicalPattern(req.ref), 'latin1');
  const fulls = patterns.map((p) => (utf8 ? unicodePattern : canonicalPattern)(Buffer.concat([ref, p])));
  if (fulls.some((f) => f.length > MAX_PATTERN)) return bad('Pattern too long');
  const matches = utf8 ? (n: string) => fulls.some((f) => wildcardMatch(f, unicodeName(n))) : (n: string) => fulls.some((f) => wildcardMatch(f, n));
  if (req.status) beforeStatus(s, req.status);
  const folders = await allFolders(s);
  if (lsub) return lsubReply(s, folders, matches);

  const subscribed = req.returnSubscribed ? new Set((await s.store.subscriptions()).map(canonicalInbox)) : new Set<string>();
  // A subscribed name no mailbox has (RFC 5258 §3.1: \NonExistent) has no children either: every
  // parent of a mailbox is in `folders` (allFolders adds the implicit ones).
  const entryOf = (n: string): FolderEntry =>
    folders.get(n) ?? { name: n, noselect: true, noinferiors: false, hasChildren: false, nonexistent: true };
  // Names with a subscribed descendant: their CHILDINFO (RFC 5258 §3.5), with RECURSIVEMATCH only.
  const subscribedBelow = new Set<string>();
  if (req.recursiveMatch) for (const n of subscribed) for (const p of ancestors(n)) subscribedBelow.add(p);

  let names: string[];
  if (req.selectSubscribed) {
    names = [...new Set([...subscribed, ...subscribedBelow])];
  } else {
    names = [...folders.keys()];
  }
  names = names.filter(matches);
  if (req.selectSpecialUse) names = names.filter((n) => uses(entryOf(n)).length > 0);
  names.sort(byName);

  // STATUS for selectable mailboxes that meet the selection criteria, not for a parent listed only
  // for its CHILDINFO (RFC 5819 §2).
  const wantsStatus = (f: FolderEntry) => req.status !== null && !f.noselect && !f.nonexistent && (!req.selectSubscribed || subscribed.has(f.name));
  // The store is asked for a window of mailboxes at once (statusMany: work shared within the batch),
  // then the window is answered in order, as one piece of output: bounded memory, and output flows
  // while the rest is read.
  const rev2 = req.extended || s.enabled.imap4rev2 === true;
  for (let at = 0; at < names.length; at += STATUS_WINDOW) {
    const window = names.slice(at, at + STATUS_WINDOW).map(entryOf);
    const asked = req.status ? window.filter(wantsStatus) : [];
    const got = asked.length ? await s.store.statusMany(asked.map((f) => f.name)) : [];
    let out = '';
    let k = 0;
    for (const f of window) {
      // IMAP4rev2 has LIST-EXTENDED's attributes in its base syntax (RFC 9051 §7.3.1: \NonExistent).
      const attrs = attributes(f, rev2);
      if (subscribed.has(f.name)) attrs.push('\\Subscribed');
      const childInfo = subscribedBelow.has(f.name) ? ' ("CHILDINFO" ("SUBSCRIBED"))' : '';
      const name = mailboxOut(s, f.name);
      out += `* LIST (${attrs.join(' ')}) "/" ${name}${childInfo}\r\n`;
      if (asked[k] !== f) continue;
      const st = got[k++];
      if (st instanceof StoreError) {
        // Gone or unreadable since it was listed: its STATUS is left out (RFC 5819 §2 allows it).
        s.log.info({ mailbox: f.name, err: st.message }, 'LIST-STATUS: no STATUS for a listed mailbox');
      } else if (st) {
        out += `* ${statusResponse(s, f.name, st, req.status!, name)}\r\n`;
      }
    }
    s.write(out);
    await s.drainIfBusy();
  }
  return ok('LIST completed');
}

/** The LIST response SELECT and EXAMINE send under IMAP4rev2 (RFC 9051 §6.3.2), with the mailbox's
 *  attributes as LIST gives them. */
export async function listLineOf(s: ImapSession, name: string): Promise<string> {
  // The mailbox is open already: a listing that fails now costs its attributes, not the SELECT.
  const folders = await allFolders(s).catch((e: unknown) => {
    if (!(e instanceof StoreError)) throw e;
    return new Map<string, FolderEntry>();
  });
  const f = folders.get(name) ?? { name, noselect: false, noinferiors: false, hasChildren: false };
  return `LIST (${attributes(f, true).join(' ')}) "/" ${mailboxOut(s, name)}`;
}

function lsubReply(s: ImapSession, folders: Map<string, FolderEntry>, matches: (n: string) => boolean): Promise<Result> {
  return s.store.subscriptions().then((all) => {
    const subs = new Set(all.map(canonicalInbox));
    const out = new Map<string, string[]>();
    for (const n of subs) {
      if (matches(n)) {
        const f = folders.get(n);
        out.set(n, f ? attributes(f, false).filter((x) => x !== '\\HasChildren' && x !== '\\HasNoChildren') : []);
        continue;
      }
      // '%' stops at '/': an unsubscribed parent of a subscribed child is shown as \Noselect.
      for (const parent of ancestors(n).reverse()) {
        if (matches(parent) && !subs.has(parent)) out.set(parent, ['\\Noselect']);
      }
    }
    for (const n of [...out.keys()].sort(byName)) s.untagged(`LSUB (${out.get(n)!.join(' ')}) "/" ${mailboxOut(s, n)}`);
    return ok('LSUB completed');
  });
}

function byName(a: string, b: string): number {
  if (a === 'INBOX') return -1;
  if (b === 'INBOX') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
