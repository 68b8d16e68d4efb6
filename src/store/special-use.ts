// RFC 6154 special uses given at CREATE (CREATE-SPECIAL-USE), kept per user in one small text file that
// each back end places and replaces in its own way (mbox: `.specialuse` in the folder directory, beside
// `.mailboxlist`; maildir: `dmail-special-use` at the root, beside `subscriptions`). The rules on what
// the file says are here, once, for both:
//
//   dmail-special-use 1
//   Drafts<TAB>\Drafts
//   Archive/2024<TAB>\Archive
//
// one line per mailbox (wire name, TAB, uses separated by spaces). Wire names never hold a TAB or a line
// end (both stores refuse control characters in names). Lines that do not parse are ignored.
//
// Order of operations, for crash safety: CREATE makes the mailbox first and then records its uses (a
// kill in between leaves a plain mailbox, never uses on someone else's mailbox: a CREATE that finds the
// name taken records nothing); DELETE and RENAME change the mailbox first and the file after (a kill in
// between leaves uses under a name no mailbox has, which a later CREATE of that name replaces).

import { StoreError, canonicalSpecialUse } from './types.js';

const HEADER = 'dmail-special-use 1';

export type UseMap = ReadonlyMap<string, readonly string[]>;

export function parseUses(text: string): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  const lines = text.split('\n');
  if (lines[0] !== HEADER) return out;
  for (const line of lines.slice(1)) {
    const tab = line.indexOf('\t');
    if (tab <= 0) continue;
    const uses = normalUses(line.slice(tab + 1).split(' ').filter(Boolean), false);
    if (uses.length) out.set(line.slice(0, tab), uses);
  }
  return out;
}

export function formatUses(map: UseMap): string {
  const names = [...map.keys()].sort();
  return `${HEADER}\n${names.map((n) => `${n}\t${map.get(n)!.join(' ')}\n`).join('')}`;
}

/** Uses in their stored spelling, without repeats. Anything a store cannot keep: StoreError CANNOT
 *  (strict) or dropped (reading a file). */
export function normalUses(uses: readonly string[], strict = true): string[] {
  const out: string[] = [];
  for (const u of uses) {
    const c = canonicalSpecialUse(u);
    if (!c) {
      if (strict) throw new StoreError('CANNOT', `special use ${u.slice(0, 40)} cannot be kept`);
      continue;
    }
    if (!out.includes(c)) out.push(c);
  }
  return out;
}

/** The map after CREATE of `name` with `uses` (none: an entry left by an earlier mailbox of the name
 *  goes); null when nothing changes. */
export function afterCreate(map: UseMap, name: string, uses: readonly string[]): Map<string, readonly string[]> | null {
  const before = map.get(name);
  if (!uses.length) return before ? without(map, (n) => n === name) : null;
  if (before && before.length === uses.length && before.every((u, i) => u === uses[i])) return null;
  return new Map(map).set(name, [...uses]);
}

/** The map after DELETE of `name`; null when nothing changes. */
export function afterDelete(map: UseMap, name: string): Map<string, readonly string[]> | null {
  return map.has(name) ? without(map, (n) => n === name) : null;
}

/** The map after RENAME of `from` (and everything under it) to `to`; null when nothing changes.
 *  Entries already under the new names (left by mailboxes deleted in a crash) are replaced. */
export function afterRename(map: UseMap, from: string, to: string): Map<string, readonly string[]> | null {
  const moves = (n: string) => n === from || n.startsWith(`${from}/`);
  const lands = (n: string) => n === to || n.startsWith(`${to}/`);
  if (![...map.keys()].some((n) => moves(n) || lands(n))) return null;
  const out = new Map<string, readonly string[]>();
  for (const [n, u] of map) if (!moves(n) && !lands(n)) out.set(n, u);
  for (const [n, u] of map) if (moves(n)) out.set(to + n.slice(from.length), u);
  return out;
}

function without(map: UseMap, drop: (name: string) => boolean): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  for (const [n, u] of map) if (!drop(n)) out.set(n, u);
  return out;
}
