// hash_spool directory schemes (Decision 2). DMail's real function is unknown, so the scheme is chosen
// by name (`hash_scheme`, default 'chars') and `dmailctl spool detect` reports which scheme an existing
// spool follows. Add a scheme here and it is available everywhere.

import type { Settings } from '../config/settings.js';

export interface HashScheme {
  name: string;
  description: string;
  /** Directory names (lower-case) for `level` levels of hashing of a drop-file name. */
  dirs(dropName: string, level: number, settings: Pick<Settings, 'imapd_enable_new_hashing'>): string[];
}

/** A character that cannot name a directory becomes '_'. */
const dirChar = (c: string | undefined): string => (c === undefined || c === '.' || c === '/' || c === '\0' || c === '%' ? '_' : c);

const chars: HashScheme = {
  name: 'chars',
  description: 'level 1 = first character, level 2 = second character (t/e/test); ".", "/" and end of name become "_"',
  dirs(dropName, level, settings) {
    const name = dropName.toLowerCase();
    const out: string[] = [];
    for (let i = 0; i < level; i++) {
      let c = name[i];
      // Pre-4.4.3y hashing did not treat '.' as special, so the level collapsed ('a/./a.b' is 'a/a.b'):
      // the bug 4.4.3y fixed. imapd_enable_new_hashing false brings it back for old spools.
      if (c === '.' && settings.imapd_enable_new_hashing === false) { out.push('.'); continue; }
      c = dirChar(c);
      out.push(c);
    }
    return out;
  },
};

/** The one-sample hypothesis from the reference (`test` → `g`): a letter from the byte sum mod 26. */
const bytesum: HashScheme = {
  name: 'bytesum',
  description: 'chr(a + sum of bytes mod 26) per level; level 2 uses the sum of all but the first byte',
  dirs(dropName, level) {
    const bytes = Buffer.from(dropName.toLowerCase(), 'utf8');
    const out: string[] = [];
    for (let i = 0; i < level; i++) {
      let sum = 0;
      for (let j = i; j < bytes.length; j++) sum += bytes[j]!;
      out.push(String.fromCharCode(97 + (sum % 26)));
    }
    return out;
  },
};

export const HASH_SCHEMES: ReadonlyMap<string, HashScheme> = new Map([chars, bytesum].map((s) => [s.name, s]));

export function hashScheme(name: string | undefined): HashScheme {
  return HASH_SCHEMES.get((name ?? 'chars').toLowerCase()) ?? chars;
}

type PathSettings = Pick<Settings, 'hash_scheme' | 'imapd_enable_new_hashing'>;

/** Hash directories for a drop-file name under the configured scheme (lower-case, Decision 2). */
export function hashDirs(dropName: string, level: number, settings: PathSettings): string[] {
  if (level <= 0) return [];
  return hashScheme(settings.hash_scheme).dirs(dropName, Math.min(level, 2), settings).map((d) => d.toLowerCase());
}
