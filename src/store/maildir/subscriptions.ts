// The `subscriptions` file as Dovecot 2.3 writes it: a "V\t2\n\n" header, then one mailbox per line with
// TAB as the hierarchy separator. Older files (no header) hold one name per line with the real
// separator; both are read. Updates go through a dot-lock and an atomic replace.

import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { withDotlock, type DotlockOptions } from './dotlock.js';

export const SUBSCRIPTIONS = 'subscriptions';

export function parseSubscriptions(text: string): string[] {
  const lines = text.split('\n');
  let names: string[];
  if (lines[0] === 'V\t2') {
    let i = 1;
    while (i < lines.length && lines[i] !== '') i++; // header lines end with an empty line
    names = lines.slice(i + 1).map((l) => l.split('\t').join('/'));
  } else {
    // Version 1: Maildir++ folder names may still carry the '.' separator of old configurations.
    names = lines;
  }
  const seen = new Set<string>();
  const out: string[] = [];
  for (const n of names) {
    if (!n || seen.has(n)) continue;
    seen.add(n);
    out.push(n);
  }
  return out;
}

export function formatSubscriptions(names: readonly string[]): string {
  return `V\t2\n\n${names.map((n) => `${n.split('/').join('\t')}\n`).join('')}`;
}

export async function readSubscriptions(root: string): Promise<string[]> {
  try {
    return parseSubscriptions(await fsp.readFile(join(root, SUBSCRIPTIONS), 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

export async function updateSubscriptions(root: string, lock: DotlockOptions,
  change: (names: string[]) => string[]): Promise<void> {
  await fsp.mkdir(root, { recursive: true });
  await withDotlock(join(root, SUBSCRIPTIONS), lock, async (dl) => {
    const before = await readSubscriptions(root);
    const after = change([...before]);
    if (after.length !== before.length || after.some((n, i) => n !== before[i])) {
      await dl.replaceWith(formatSubscriptions(after));
    }
  });
}
