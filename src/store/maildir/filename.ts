// Maildir file names as Dovecot writes and reads them:
//   <secs>.M<usecs>P<pid>Q<n>.<host>,S=<bytes on disk>,W=<RFC822 size>:2,<flag letters>
// The "base" (everything before ':') identifies a message for life; only the info part after ":2,"
// changes when flags change. Flag letters follow the Maildir spec; lower-case letters are keywords
// whose names live in dovecot-keywords.

import { canonicalSystemFlag } from '../types.js';
import { hostname } from 'node:os';

export interface ParsedName {
  /** Everything before the first ':' — the stable identity used by dovecot-uidlist. */
  base: string;
  /** Letters after ":2," (undefined when the name has no info part, as files in new/ usually do). */
  info: string | undefined;
  /** S= and W= fields of the base name, when present. */
  size?: number;
  vsize?: number;
}

export function parseName(name: string): ParsedName {
  const colon = name.indexOf(':');
  const base = colon < 0 ? name : name.slice(0, colon);
  let info: string | undefined;
  if (colon >= 0) {
    const rest = name.slice(colon + 1);
    // Only version 2 info carries flags; anything else is kept verbatim but means "no flags".
    info = rest.startsWith('2,') ? rest.slice(2) : '';
  }
  const parsed: ParsedName = { base, info };
  // Most names have no ',' at all or just the two size fields: skip the expression when it cannot match.
  if (base.includes(',')) for (const m of base.matchAll(/,([SW])=(\d+)/g)) {
    if (m[1] === 'S') parsed.size = Number(m[2]);
    else parsed.vsize = Number(m[2]);
  }
  return parsed;
}

/** Maildir letter ↔ IMAP system flag. 'P' (passed) has no IMAP flag and is preserved untouched. */
const SYSTEM: ReadonlyArray<readonly [string, string]> = [
  ['D', '\\Draft'], ['F', '\\Flagged'], ['R', '\\Answered'], ['S', '\\Seen'], ['T', '\\Deleted'],
];
const LETTER_OF = new Map(SYSTEM.map(([l, f]) => [f.toLowerCase(), l]));
const FLAG_OF = new Map(SYSTEM.map(([l, f]) => [l, f]));

/** The stored spelling of a system flag given in any case ('\seen' → '\Seen'); undefined for
 *  anything a maildir cannot store as a system flag (\Recent, unknown ones, keywords). */
export { canonicalSystemFlag };

export const MAX_KEYWORDS = 26;

/** IMAP order of system flags (as the mbox store and the FLAGS response list them), then keywords. */
const SYSTEM_ORDER: ReadonlyArray<readonly [string, string]> = [
  ['R', '\\Answered'], ['F', '\\Flagged'], ['T', '\\Deleted'], ['D', '\\Draft'], ['S', '\\Seen'],
];

export function flagsFromInfo(info: string | undefined, keywords: readonly (string | undefined)[]): Set<string> {
  const flags = new Set<string>();
  if (!info) return flags;
  for (const [letter, flag] of SYSTEM_ORDER) if (info.includes(letter)) flags.add(flag);
  for (const ch of info) {
    const code = ch.charCodeAt(0) - 97;
    if (code >= 0 && code < MAX_KEYWORDS) {
      const kw = keywords[code];
      if (kw !== undefined) flags.add(kw);
    }
  }
  return flags;
}

/** New info letters for `flags`, keeping letters we do not map (P, keywords without a name) as they were.
 *  `letterOf` maps a keyword to its letter; every keyword in `flags` must already have one. */
export function infoForFlags(oldInfo: string | undefined, flags: ReadonlySet<string>,
  letterOf: (keyword: string) => string | undefined, knownLetter: (ch: string) => boolean): string {
  const letters = new Set<string>();
  for (const ch of oldInfo ?? '') {
    if (FLAG_OF.has(ch)) continue;
    if (ch >= 'a' && ch <= 'z' && knownLetter(ch)) continue;
    letters.add(ch);
  }
  for (const f of flags) {
    const sys = LETTER_OF.get(f.toLowerCase());
    if (sys) { letters.add(sys); continue; }
    if (f.startsWith('\\')) continue; // \Recent or unknown system flag: not storable
    const l = letterOf(f);
    if (l) letters.add(l);
  }
  return [...letters].sort().join('');
}

let counter = 0;
let hostPart: string | undefined;

/** Dovecot escapes '/' and ':' in the host name so that it cannot break the file name. */
function safeHost(): string {
  if (hostPart === undefined) hostPart = hostname().replace(/\//g, '\\057').replace(/:/g, '\\072');
  return hostPart;
}

/** A fresh unique base name carrying the sizes, like Dovecot's maildir_filename_generate + S=/W=. */
export function newBaseName(size: number, vsize: number, now = Date.now()): string {
  const secs = Math.floor(now / 1000);
  const usecs = (now % 1000) * 1000 + (Number(process.hrtime.bigint() % 1000n));
  counter += 1;
  return `${secs}.M${usecs}P${process.pid}Q${counter}.${safeHost()},S=${size},W=${vsize}`;
}

/** A new unique base for a duplicate file, keeping its S=/W= fields. */
export function renewBase(base: string): string {
  const sizes = /[\r\n]/.test(base) ? '' : base.match(/,[SW]=\d+/g)?.join('') ?? '';
  const now = Date.now();
  counter += 1;
  return `${Math.floor(now / 1000)}.M${(now % 1000) * 1000}P${process.pid}Q${counter}.${safeHost()}${sizes}`;
}

export function fileName(base: string, info: string | undefined): string {
  return info === undefined ? base : `${base}:2,${info}`;
}

/** Delivery order of new files: digit runs compare as numbers, so "secs.M<usec>" and "pid_9" < "pid_10"
 *  sort chronologically (Dovecot's maildir_filename_sort_cmp compares time fields numerically too). */
export function compareBases(a: string, b: string): number {
  return compareBaseTokens(baseTokens(a), baseTokens(b));
}

/** A base name split for compareBaseTokens (sorting many: split each once, not per comparison). */
export function baseTokens(base: string): string[] {
  return base.match(/\d+|\D+/g) ?? [];
}

const isDigit = (s: string) => { const c = s.charCodeAt(0); return c >= 48 && c <= 57; };

export function compareBaseTokens(ta: string[], tb: string[]): number {
  for (let i = 0; i < Math.min(ta.length, tb.length); i++) {
    const x = ta[i]!;
    const y = tb[i]!;
    if (x === y) continue;
    const nx = isDigit(x);
    const ny = isDigit(y);
    if (nx && ny) {
      const d = x.replace(/^0+/, '').length - y.replace(/^0+/, '').length;
      if (d !== 0) return d;
    }
    return x < y ? -1 : 1;
  }
  return ta.length - tb.length;
}
