// `dmail-index`: what opening a mailbox would otherwise have to stat or read every message file for —
// INTERNALDATE (the file's mtime) and RFC822.SIZE of files whose name has no W= — kept next to
// dovecot-uidlist so that a later session opens a 10 000-message mailbox without 10 000 stats.
// Dovecot ignores the file (it is neither a Maildir++ folder nor one of its own).
//
// Two levels of trust:
// - Facts: a record's date and size are used only while dovecot-uidlist still gives that base name
//   that UID under the same UIDVALIDITY; the listing itself is read from new/ and cur/.
// - Snapshot: when the file also carries the identities (inode, size, mtime) of new/, cur/,
//   dovecot-uidlist and dovecot-keywords taken *before* the listing it describes, and all four are
//   still the same, nothing changed since (any rename, delivery, expunge or UID change moves one of
//   them; the mailbox's stamp() refuses identities too recent to be sure of), so the records are the
//   mailbox and neither new/, cur/ nor the uidlist need be read.
// - Mod-sequences: each record carries its message's RFC 7162 mod-sequence as the writer knew it with
//   the change log (dmail-modlog) applied up to the header's M; a reader applies the log's records
//   after M (or, when the log no longer reaches back to M, raises every value to the log's base).
// A file that does not parse completely (cut by a crash, edited, another version: DMAILIDX2 files,
// written before mod-sequences, are ignored) is ignored as a whole and rewritten by the next session.
// Written to a temporary name and renamed over.

import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { replaceFile } from '../safe-file.js';
import { ProcessCache } from '../process-cache.js';
import { keepWholeWritten, readWholeKept, type KeptWhole } from '../kept-file.js';

export const FACTS_FILE = 'dmail-index';
const MAGIC = 'DMAILIDX3';

export interface MessageFacts {
  uid: number;
  /** INTERNALDATE, ms since the epoch. */
  date: number;
  /** RFC822.SIZE (CRLF size). */
  vsize: number;
}

/** Facts as a later session uses them: also the mod-sequence and file name the writer knew. */
export interface KnownFacts extends MessageFacts {
  modseq: number;
  file: string;
}

export interface IndexRecord extends MessageFacts {
  /** Mod-sequence of the message's last change, as of the index's `modseq`. */
  modseq: number;
  sub: 'new' | 'cur';
  /** Full file name (base and flags). */
  file: string;
  uidl?: string;
}

export interface MailboxIndex {
  /** Directory and index identities taken before the listing; '' when the records are facts only. */
  stamp: string;
  /** The change log's mod-sequence the records' modseqs were brought up to. */
  modseq: number;
  uidValidity: number;
  uidNext: number;
  records: IndexRecord[];
}

const DIGITS = /^\d+$/;
const UIDL = /^[\x21-\x7e]{1,70}$/;

/** One record; undefined when it does not parse. Split by hand: a regular expression per line was a
 *  fifth of opening a 10 000-message mailbox. */
function parseRecord(line: string): IndexRecord | undefined {
  const cut: number[] = [];
  let at = -1;
  for (let k = 0; k < 6; k++) {
    at = line.indexOf(' ', at + 1);
    if (at < 0) return undefined;
    cut.push(at);
  }
  const field = (k: number) => line.slice(k === 0 ? 0 : cut[k - 1]! + 1, cut[k]);
  const [u, ms, d, v, sub, p] = [field(0), field(1), field(2), field(3), field(4), field(5)];
  const file = line.slice(cut[5]! + 1);
  if (!DIGITS.test(u) || !DIGITS.test(ms) || !DIGITS.test(d) || !DIGITS.test(v) || (sub !== 'new' && sub !== 'cur')) return undefined;
  if (file === '' || file.includes('/') || (p !== '-' && !(p.startsWith('P') && UIDL.test(p.slice(1))))) return undefined;
  const uid = Number(u);
  const date = Number(d);
  const vsize = Number(v);
  const modseq = Number(ms);
  if (!Number.isSafeInteger(modseq) || modseq < 1 || !Number.isSafeInteger(date) || !Number.isSafeInteger(vsize) || uid < 1 || uid >= 0xffffffff) return undefined;
  return { uid, modseq, date, vsize, sub, file, ...(p !== '-' ? { uidl: p.slice(1) } : {}) };
}

/** The text of a dmail-index, parsed when first asked for (a file this process just wrote is kept
 *  unparsed: a process that never reads it again, as a per-connection one, pays nothing). */
class KeptText {
  private parsed: MailboxIndex | undefined | null = null;
  constructor(private text: string) {}
  get bytes(): number {
    return 256 + 3 * this.text.length;
  }
  index(): MailboxIndex | undefined {
    if (this.parsed === null) {
      this.parsed = parseIndex(this.text);
      this.text = '';
    }
    return this.parsed;
  }
}

/** dmail-index files read or written by this process, by path (store/process-cache.ts; believed only for
 *  the same file by kept-file.ts's rules for files replaced whole). A kept MailboxIndex is shared by every
 *  session of the process: its records are never changed (readers build their own entries from them). */
const kept = new ProcessCache<string, KeptWhole<KeptText>>('maildir-index');

/** An open mailbox keeps its dmail-index cached until the returned function runs (its close()). */
export function holdIndex(dir: string): () => void {
  return kept.hold(join(dir, FACTS_FILE));
}

/** The index, or undefined when it is missing, unreadable or damaged anywhere. Shared: never change it. */
export async function readIndex(dir: string): Promise<MailboxIndex | undefined> {
  const path = join(dir, FACTS_FILE);
  const k = readWholeKept(path, dir, kept, (b) => new KeptText(b.toString('utf8')), (v) => v.bytes);
  return k ? k.index() : undefined;
}

function parseIndex(text: string): MailboxIndex | undefined {
  const lines = text.split('\n');
  const head = /^DMAILIDX3 V(\d+) N(\d+) M(\d+) C(\d+) H([0-9a-f]{40}) S(\S*)$/.exec(lines[0] ?? '');
  if (!head) return undefined;
  const count = Number(head[4]);
  // Header, records, "END", and the empty string after the final newline.
  if (lines.length !== count + 3 || lines[count + 1] !== 'END' || lines[count + 2] !== '') return undefined;
  // A well-formed file with flipped bits (bad disk, a stray edit) must not be believed either.
  const body = text.slice(lines[0]!.length + 1, text.length - 'END\n'.length);
  if (createHash('sha1').update(body).digest('hex') !== head[5]) return undefined;
  const records: IndexRecord[] = [];
  let prev = 0;
  for (let i = 1; i <= count; i++) {
    const r = parseRecord(lines[i]!);
    if (!r || r.uid <= prev) return undefined;
    prev = r.uid;
    records.push(r);
  }
  const uidValidity = Number(head[1]);
  const uidNext = Number(head[2]);
  const modseq = Number(head[3]);
  if (!uidValidity || uidNext <= prev || !Number.isSafeInteger(modseq) || modseq < 1) return undefined;
  if (records.some((r) => r.modseq > modseq)) return undefined;
  return { stamp: head[6]!, modseq, uidValidity, uidNext, records };
}

/** Facts by base name under this UIDVALIDITY (empty when there is no usable index). */
export async function readFacts(dir: string, uidValidity: number): Promise<Map<string, KnownFacts>> {
  const index = await readIndex(dir);
  return factsOf(index, uidValidity);
}

export function factsOf(index: MailboxIndex | undefined, uidValidity: number): Map<string, KnownFacts> {
  const out = new Map<string, KnownFacts>();
  if (!index || index.uidValidity !== uidValidity) return out;
  for (const r of index.records) {
    const colon = r.file.indexOf(':');
    out.set(colon < 0 ? r.file : r.file.slice(0, colon), { uid: r.uid, date: r.date, vsize: r.vsize, modseq: r.modseq, file: r.file });
  }
  return out;
}

/** Replace the file atomically. Failure (read-only directory, full disk) only costs speed. */
export async function writeIndex(dir: string, index: MailboxIndex): Promise<boolean> {
  const lines: string[] = [];
  let stamp = index.stamp;
  if (/\s/.test(stamp)) stamp = '';
  for (const r of [...index.records].sort((a, b) => a.uid - b.uid)) {
    if (r.file === '' || /[\r\n]/.test(r.file) || r.file.includes('/') || (r.uidl !== undefined && !UIDL.test(r.uidl))) {
      stamp = ''; // a record we cannot write: the rest are still facts, but no longer the whole mailbox
      continue;
    }
    lines.push(`${r.uid} ${r.modseq} ${Math.trunc(r.date)} ${r.vsize} ${r.sub} ${r.uidl !== undefined ? `P${r.uidl}` : '-'} ${r.file}\n`);
  }
  try {
    const body = lines.join('');
    const sum = createHash('sha1').update(body).digest('hex');
    // A cache (not fsynced); store/safe-file: random temporary name, O_EXCL|O_NOFOLLOW, checked directory.
    const text = `${MAGIC} V${index.uidValidity} N${index.uidNext} M${index.modseq} C${lines.length} H${sum} S${stamp}\n${body}END\n`;
    const bytes = Buffer.from(text, 'utf8');
    const w = await replaceFile(dir, FACTS_FILE, bytes, { sync: false });
    const v = new KeptText(text);
    keepWholeWritten(join(dir, FACTS_FILE), dir, kept, v, bytes, v.bytes, Number(w.ino));
    return true;
  } catch {
    return false;
  }
}
