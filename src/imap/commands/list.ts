// LIST and LSUB with '%' and '*' (RFC 3501 §6.3.8-9), CHILDREN (RFC 3348) and SPECIAL-USE (RFC 6154)
// attributes. Parents that exist only implicitly (a/b exists, a does not) are listed as \Noselect.
import type { FolderEntry } from '../../store/types.js';
import type { Command, ImapSession } from '../session.js';
import { canonicalPattern, specialUse } from '../mailbox-name.js';
import { mailboxString } from '../wire.js';
import { bad, ok, type Result } from '../result.js';
import { ParseError } from '../args.js';

/** LIST wildcard match ('*' anything, '%' anything but '/') as an NFA walk: O(name x pattern), with
 *  no regular-expression backtracking for a hostile pattern like "*%*%*%...x" to blow up on. */
export function wildcardMatch(pattern: string, name: string): boolean {
  const m = pattern.length;
  let states = new Uint8Array(m + 1);
  const close = (st: Uint8Array) => {
    // A wildcard may match nothing: being before it means being after it too.
    for (let i = 0; i < m; i++) if (st[i] && (pattern[i] === '*' || pattern[i] === '%')) st[i + 1] = 1;
  };
  states[0] = 1;
  close(states);
  for (const ch of name) {
    const next = new Uint8Array(m + 1);
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
    states = next;
  }
  return states[m] === 1;
}

const MAX_PATTERN = 1024;

/** Every folder plus INBOX plus implicit parents, by name. */
async function allFolders(s: ImapSession): Promise<Map<string, FolderEntry>> {
  const map = new Map<string, FolderEntry>();
  for (const f of await s.store.list()) map.set(f.name, f);
  if (!map.has('INBOX')) map.set('INBOX', { name: 'INBOX', noselect: false, noinferiors: true, hasChildren: false });
  for (const name of [...map.keys()]) {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const p = map.get(parent);
      if (!p) map.set(parent, { name: parent, noselect: true, noinferiors: false, hasChildren: true });
      else if (!p.hasChildren) map.set(parent, { ...p, hasChildren: true });
    }
  }
  return map;
}

function attributes(f: FolderEntry): string[] {
  const attrs: string[] = [];
  if (f.noselect) attrs.push('\\Noselect');
  if (f.noinferiors) attrs.push('\\NoInferiors');
  // CHILDREN (RFC 3348) on every entry, even where \NoInferiors already implies it: clients that
  // only look for \HasNoChildren then need not know the implication.
  attrs.push(f.hasChildren ? '\\HasChildren' : '\\HasNoChildren');
  const su = specialUse(f.name);
  if (su) attrs.push(su);
  return attrs;
}

interface ListOptions {
  selectSubscribed: boolean;
  selectSpecialUse: boolean;
  returnSubscribed: boolean;
}

/** RFC 5258 syntax (selection options, several patterns, RETURN) is accepted although LIST-EXTENDED is
 *  not advertised: a client that sends it anyway gets a sensible answer instead of BAD. */
function parseList(a: Command['args'], lsub: boolean): { ref: string; patterns: Buffer[]; opts: ListOptions } {
  const opts: ListOptions = { selectSubscribed: false, selectSpecialUse: false, returnSubscribed: false };
  a.sp();
  if (!lsub && a.peek() === '(') {
    a.list(() => {
      const o = a.atom().toUpperCase();
      if (o === 'SUBSCRIBED') opts.selectSubscribed = true;
      else if (o === 'SPECIAL-USE') opts.selectSpecialUse = true;
    });
    a.sp();
  }
  const ref = canonicalPattern(a.listMailbox());
  a.sp();
  const patterns: Buffer[] = [];
  if (!lsub && a.peek() === '(') a.list(() => patterns.push(a.listMailbox()));
  else patterns.push(a.listMailbox());
  if (!lsub && !a.atEnd) {
    a.sp();
    if (a.atom().toUpperCase() !== 'RETURN') throw new ParseError('Expected RETURN');
    a.sp();
    a.list(() => {
      const o = a.atom().toUpperCase();
      if (o === 'SUBSCRIBED') opts.returnSubscribed = true;
      else if (o === 'STATUS') {
        a.sp();
        a.list(() => a.atom());
      }
    });
  }
  a.end();
  return { ref, patterns, opts };
}

export async function list(s: ImapSession, c: Command): Promise<Result> {
  const lsub = c.name === 'LSUB';
  const { ref, patterns, opts } = parseList(c.args, lsub);
  if (patterns.length === 1 && patterns[0]!.length === 0) {
    if (!lsub) s.untagged('LIST (\\Noselect) "/" ""');
    return ok(`${c.name} completed`);
  }
  const fulls = patterns.map((p) => canonicalPattern(Buffer.concat([Buffer.from(ref, 'latin1'), p])));
  if (fulls.some((f) => f.length > MAX_PATTERN)) return bad('Pattern too long');
  const matches = (n: string) => fulls.some((f) => wildcardMatch(f, n));
  const folders = await allFolders(s);
  if (!lsub) {
    const wantSubs = opts.selectSubscribed || opts.returnSubscribed;
    const subscribed = wantSubs ? new Set((await s.store.subscriptions()).map((n) => (n.toUpperCase() === 'INBOX' ? 'INBOX' : n))) : new Set<string>();
    const names = [...folders.keys()]
      .filter(matches)
      .filter((n) => !opts.selectSubscribed || subscribed.has(n))
      .filter((n) => !opts.selectSpecialUse || specialUse(n) !== undefined)
      .sort(byName);
    for (const n of names) {
      const attrs = attributes(folders.get(n)!);
      if (wantSubs && subscribed.has(n)) attrs.push('\\Subscribed');
      s.untagged(`LIST (${attrs.join(' ')}) "/" ${mailboxString(n)}`);
    }
    return ok('LIST completed');
  }
  const subs = new Set((await s.store.subscriptions()).map((n) => (n.toUpperCase() === 'INBOX' ? 'INBOX' : n)));
  const out = new Map<string, string[]>();
  for (const n of subs) {
    if (matches(n)) {
      const f = folders.get(n);
      out.set(n, f ? attributes(f).filter((x) => x !== '\\HasChildren' && x !== '\\HasNoChildren') : []);
      continue;
    }
    // '%' stops at '/': an unsubscribed parent of a subscribed child is shown as \Noselect.
    const parts = n.split('/');
    for (let i = parts.length - 1; i >= 1; i--) {
      const parent = parts.slice(0, i).join('/');
      if (matches(parent) && !subs.has(parent)) out.set(parent, ['\\Noselect']);
    }
  }
  for (const n of [...out.keys()].sort(byName)) s.untagged(`LSUB (${out.get(n)!.join(' ')}) "/" ${mailboxString(n)}`);
  return ok('LSUB completed');
}

function byName(a: string, b: string): number {
  if (a === 'INBOX') return -1;
  if (b === 'INBOX') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
