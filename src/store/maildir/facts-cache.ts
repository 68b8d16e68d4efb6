// `dmail-index`: what opening a mailbox would otherwise have to stat or read every message file for —
// INTERNALDATE (the file's mtime) and RFC822.SIZE of files whose name has no W= — kept next to
// dovecot-uidlist so that a later session opens a 10 000-message mailbox without 10 000 stats.
// Dovecot ignores the file (it is neither a Maildir++ folder nor one of its own).
//
// It is only a cache. Every fact is tied to a UID and base name and used only while dovecot-uidlist
// still gives that base that UID under the same UIDVALIDITY; the listing itself is always read from
// new/ and cur/, so the cache can never add or hide a message. A file that does not parse completely
// (cut by a crash, edited, another version) is ignored as a whole and rewritten by the next session.
// Written to a temporary name and renamed over, so readers see the old or the new file, never half.

import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

export const FACTS_FILE = 'dmail-index';
const MAGIC = 'DMAILIDX1';

export interface MessageFacts {
  uid: number;
  /** INTERNALDATE, ms since the epoch. */
  date: number;
  /** RFC822.SIZE (CRLF size). */
  vsize: number;
}

/** Facts by base name; empty when the file is missing, unreadable, for another UIDVALIDITY or damaged. */
export async function readFacts(dir: string, uidValidity: number): Promise<Map<string, MessageFacts>> {
  const out = new Map<string, MessageFacts>();
  let text: string;
  try {
    text = await fsp.readFile(join(dir, FACTS_FILE), 'utf8');
  } catch {
    return out;
  }
  const lines = text.split('\n');
  const head = /^DMAILIDX1 V(\d+) C(\d+)$/.exec(lines[0] ?? '');
  if (!head || Number(head[1]) !== uidValidity) return out;
  const count = Number(head[2]);
  // Header, records, "END", and the empty string after the final newline.
  if (lines.length !== count + 3 || lines[count + 1] !== 'END' || lines[count + 2] !== '') return out;
  // Split by hand: a regular expression per line was a fifth of opening a 10 000-message mailbox.
  const DIGITS = /^\d+$/;
  for (let i = 1; i <= count; i++) {
    const line = lines[i]!;
    const a = line.indexOf(' ');
    const b = line.indexOf(' ', a + 1);
    const c = line.indexOf(' ', b + 1);
    if (a <= 0 || b <= a + 1 || c <= b + 1 || c === line.length - 1) return new Map();
    const u = line.slice(0, a);
    const d = line.slice(a + 1, b);
    const v = line.slice(b + 1, c);
    if (!DIGITS.test(u) || !DIGITS.test(d) || !DIGITS.test(v)) return new Map();
    const uid = Number(u);
    const date = Number(d);
    const vsize = Number(v);
    if (!Number.isSafeInteger(date) || !Number.isSafeInteger(vsize) || uid < 1 || uid >= 0xffffffff) return new Map();
    out.set(line.slice(c + 1), { uid, date, vsize });
  }
  return out;
}

/** Replace the file atomically. Failure (read-only directory, full disk) only costs speed. */
export async function writeFacts(dir: string, uidValidity: number, facts: Iterable<readonly [string, MessageFacts]>): Promise<boolean> {
  const lines: string[] = [];
  for (const [base, f] of facts) {
    if (base.includes('\n') || base === '') continue;
    lines.push(`${f.uid} ${Math.trunc(f.date)} ${f.vsize} ${base}\n`);
  }
  const path = join(dir, FACTS_FILE);
  const tmp = `${path}.tmp.${process.pid}`;
  try {
    await fsp.writeFile(tmp, `${MAGIC} V${uidValidity} C${lines.length}\n${lines.join('')}END\n`, { mode: 0o600 });
    await fsp.rename(tmp, path);
    return true;
  } catch {
    await fsp.unlink(tmp).catch(() => undefined);
    return false;
  }
}
