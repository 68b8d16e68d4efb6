// dovecot-keywords: "<index> <name>" lines; index 0 is maildir letter 'a', up to 'z'. Dovecot updates
// it under its own dot-lock, so we do the same.

import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { MAX_KEYWORDS } from './filename.js';
import { withDotlock, type DotlockOptions } from './dotlock.js';
import { StoreError } from '../types.js';

export const KEYWORDS = 'dovecot-keywords';

/** Index → keyword name (holes are undefined). */
export type KeywordTable = (string | undefined)[];

export function parseKeywords(text: string): KeywordTable {
  const table: KeywordTable = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+) (.+)$/.exec(line);
    if (!m) continue;
    const idx = Number(m[1]);
    if (idx < MAX_KEYWORDS) table[idx] = m[2];
  }
  return table;
}

export async function readKeywords(dir: string): Promise<KeywordTable> {
  try {
    return parseKeywords(await fsp.readFile(join(dir, KEYWORDS), 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

export const letterFor = (table: KeywordTable, keyword: string): string | undefined => {
  const idx = table.findIndex((k) => k !== undefined && k.toLowerCase() === keyword.toLowerCase());
  return idx < 0 ? undefined : String.fromCharCode(97 + idx);
};

/** Make sure every keyword has a letter; returns the (possibly updated) table. */
export async function ensureKeywords(dir: string, keywords: readonly string[], lock: DotlockOptions): Promise<KeywordTable> {
  let table = await readKeywords(dir);
  if (keywords.every((k) => letterFor(table, k))) return table;
  return withDotlock(join(dir, KEYWORDS), lock, async (dl) => {
    table = await readKeywords(dir);
    let changed = false;
    for (const k of keywords) {
      if (letterFor(table, k)) continue;
      let idx = 0;
      while (idx < MAX_KEYWORDS && table[idx] !== undefined) idx++;
      if (idx >= MAX_KEYWORDS) throw new StoreError('LIMIT', 'Too many keywords in this mailbox (maildir allows 26)');
      table[idx] = k;
      changed = true;
    }
    if (changed) {
      const lines = table.map((k, i) => (k === undefined ? '' : `${i} ${k}\n`)).join('');
      await dl.replaceWith(lines);
    }
    return table;
  });
}
