// A mailbox's decoded index kept by a process between sessions (issue 14): the mbox index
// (src/store/mbox/index-cache.ts) and maildir's dmail-index (facts-cache.ts), both through kept-file.ts's
// rules for files replaced whole. What is kept is given back only for the same trusted file; anything
// else is read again; records of an earlier decoding are shared where they are equal; budget 0 keeps
// nothing no session holds. (test/imap/index-reuse.test.ts runs the same through real sessions.)
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeIndex, encodeIndex, hasUnclaimed, indexColumns, indexStatusCounts, messagesMade, NO_KEYWORDS, recordOf, statusCounts, type IndexData, type IndexedMessage } from '../../src/store/mbox/index-file.js';
import { FLAG_OLD, FLAG_SEEN, FLAG_DELETED } from '../../src/store/mbox/format.js';
import { holdIndex, keepWritten, readIndexKept } from '../../src/store/mbox/index-cache.js';
import { FACTS_FILE, readIndex as readMaildirIndex, writeIndex as writeMaildirIndex } from '../../src/store/maildir/facts-cache.js';
import { DEFAULT_CACHE_BUDGET, processCaches } from '../../src/store/process-cache.js';

const dirs: string[] = [];
afterEach(() => {
  processCaches.setBudget(DEFAULT_CACHE_BUDGET);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'index-cache-'));
  dirs.push(d);
  return d;
}

function msg(uid: number, over: Partial<IndexedMessage> = {}): IndexedMessage {
  return { offset: uid * 100, end: uid * 100 + 90, size: 92, date: 1.7e12 + uid, uid, flags: 0, fileUid: uid, key: uid * 7, keywords: NO_KEYWORDS, modseq: uid, expunged: 0, ...over };
}
function data(messages: IndexedMessage[], uidValidity = 1000): IndexData {
  return {
    stamp: { size: 5000, ino: '42', mtime: '1', tail: 9 }, uidValidity, uidNext: 100, keywords: ['$Work'], fileBase: null,
    pseudo: null, preambleEnd: 0, messages, logSeen: 10,
  };
}
/** Put a file in place as another process does: a new file renamed over the path. */
function replace(path: string, bytes: Buffer): void {
  writeFileSync(`${path}.new`, bytes, { mode: 0o600 });
  renameSync(`${path}.new`, path);
}
/** Set a file's mtime to the nanosecond (touch(1); utimes() takes a double). */
function setMtimeNs(path: string, ns: bigint): void {
  expect(spawnSync('touch', ['-m', '-d', `@${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`, path]).status).toBe(0);
  expect(statSync(path, { bigint: true }).mtimeNs).toBe(ns);
}

describe('mbox index decoding', () => {
  it('leaves records as columns until asked; every answer from the columns equals the one from records', () => {
    let seed = 7;
    const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
    for (let round = 0; round < 30; round++) {
      const msgs: IndexedMessage[] = [];
      let uid = 0;
      for (let i = 0, n = rnd(40); i < n; i++) {
        uid += 1 + rnd(3);
        msgs.push(msg(uid, {
          flags: [0, FLAG_OLD, FLAG_SEEN | FLAG_OLD, FLAG_DELETED, FLAG_SEEN][rnd(5)]!,
          keywords: rnd(4) === 0 ? ['$Work', `k${rnd(3)}`] : NO_KEYWORDS,
          expunged: rnd(6) === 0 ? 5 + rnd(4) : 0,
          size: 10 + rnd(1000),
          ...(rnd(5) === 0 ? { uidl: `u${uid}` } : {}),
        }));
      }
      const d = data(msgs);
      const a = decodeIndex(encodeIndex(d))!;
      const b = decodeIndex(encodeIndex(d))!;
      expect(indexColumns(a)?.count).toBe(msgs.length);
      // Answers from the columns (nothing made yet)...
      const cols = {
        unclaimed: hasUnclaimed(a), status: indexStatusCounts(a),
        records: [0, ...msgs.map((m) => m.uid), uid + 1].map((u) => recordOf(a, u)),
      };
      expect(messagesMade(a)).toBe(false);
      // ... equal those from the records, and from the data written.
      expect(b.messages).toEqual(msgs);
      expect(messagesMade(b)).toBe(true);
      expect(cols).toEqual({
        unclaimed: msgs.some((m) => !(m.flags & FLAG_OLD) && !m.expunged), status: statusCounts(msgs),
        records: [0, ...msgs.map((m) => m.uid), uid + 1].map((u) => msgs.find((m) => m.uid === u)),
      });
      expect({ unclaimed: hasUnclaimed(b), status: indexStatusCounts(b), records: [0, ...msgs.map((m) => m.uid), uid + 1].map((u) => recordOf(b, u)) }).toEqual(cols);
      // A copy made in memory carries no columns (its messages may differ from the file's).
      expect(indexColumns({ ...a, messages: [] })).toBeNull();
    }
  });

  it('refuses an index whose UIDs are not ascending (lookups by UID are binary searches)', () => {
    const bytes = encodeIndex(data([msg(1), msg(3), msg(2)]));
    expect(decodeIndex(bytes)).toBeNull();
    expect(decodeIndex(encodeIndex(data([msg(1), msg(2), msg(3)])))).not.toBeNull();
  });

  it('shares records equal to an earlier decoding, makes new ones for any changed field', () => {
    const d = data([msg(1, { keywords: ['$Work'] }), msg(2, { uidl: 'u2' }), msg(3), msg(5)]);
    const a = decodeIndex(encodeIndex(d))!;
    expect(a.messages).toEqual(d.messages);
    const same = decodeIndex(encodeIndex(d), a.messages)!;
    for (let i = 0; i < 4; i++) expect(same.messages[i]).toBe(a.messages[i]);
    const changed = data([msg(1, { keywords: ['$Work', 'x'] }), msg(2, { uidl: 'u2', flags: 1 }), msg(4), msg(5, { modseq: 11 })]);
    const b = decodeIndex(encodeIndex(changed), a.messages)!;
    expect(b.messages).toEqual(changed.messages);
    for (let i = 0; i < 4; i++) expect(b.messages[i]).not.toBe(a.messages[i]);
    // UIDL gone, expunge mark set: new records; untouched ones still shared.
    const c = decodeIndex(encodeIndex(data([msg(1, { keywords: ['$Work'] }), msg(2), msg(3, { expunged: 12 }), msg(5)])), a.messages)!;
    expect(c.messages[0]).toBe(a.messages[0]);
    expect(c.messages[1]!.uidl).toBeUndefined();
    expect(c.messages[2]).not.toBe(a.messages[2]);
    expect(c.messages[3]).toBe(a.messages[3]);
  });
});

describe('mbox index kept between handles', () => {
  it('gives the kept tables only for the same file: replaced, rewritten with the old size and mtime, untrusted', () => {
    const dir = tmp();
    const path = join(dir, 'INBOX.idx');
    const d1 = data([msg(1), msg(2)]);
    replace(path, encodeIndex(d1));
    const a = readIndexKept(path)!;
    expect(a.messages).toEqual(d1.messages);
    expect(readIndexKept(path)).toBe(a); // kept
    // Replaced by another process (another inode): read again, unchanged records shared.
    const d2 = data([msg(1), msg(2, { flags: 1 })]);
    replace(path, encodeIndex(d2));
    const b = readIndexKept(path)!;
    expect(b).not.toBe(a);
    expect(b.messages).toEqual(d2.messages);
    expect(b.messages[0]).toBe(a.messages[0]);
    // Rewritten in place, same size, the mtime set back to the nanosecond: ctime and bytes tell.
    const ns = statSync(path, { bigint: true }).mtimeNs;
    const d3 = data([msg(1), msg(2, { flags: 2 })]);
    const bytes3 = encodeIndex(d3);
    expect(bytes3.length).toBe(statSync(path).size);
    writeFileSync(path, bytes3);
    setMtimeNs(path, ns);
    const c = readIndexKept(path)!;
    expect(c.messages[1]!.flags).toBe(2);
    expect(readIndexKept(path)).toBe(c);
    // Writable by others: read every time, never kept.
    chmodSync(path, 0o666);
    const e = readIndexKept(path)!;
    expect(e.messages).toEqual(d3.messages);
    expect(readIndexKept(path)).not.toBe(e);
    // A symbolic link is not followed (the store then parses the spool and writes a file of its own); gone: nothing.
    replace(join(dir, 'real.idx'), encodeIndex(d3));
    rmSync(path);
    symlinkSync(join(dir, 'real.idx'), path);
    expect(readIndexKept(path)).toBeNull();
    rmSync(path);
    expect(readIndexKept(path)).toBeNull();
  });

  it('keeps what this process wrote only when the file shows those bytes', () => {
    const dir = tmp();
    const path = join(dir, 'INBOX.idx');
    const d = data([msg(1), msg(2)]);
    const bytes = encodeIndex(d);
    replace(path, bytes);
    keepWritten(path, d, bytes);
    // Kept as the file's columns, equal to what was written, sharing its records once made.
    const k = readIndexKept(path)!;
    expect(readIndexKept(path)).toBe(k);
    expect(messagesMade(k)).toBe(false);
    expect(k.messages).toEqual(d.messages);
    expect(k.messages[1]).toBe(d.messages[1]);
    // Another writer got there between our rename and our look: not ours, not kept as ours.
    const other = data([msg(1), msg(2, { flags: 4 })]);
    replace(path, encodeIndex(other));
    keepWritten(path, d, bytes);
    expect(readIndexKept(path)!.messages[1]!.flags).toBe(4);
  });

  it('an idle entry keeps the file\'s columns, not the record objects a session made', () => {
    processCaches.setBudget(64 * 1024 * 1024);
    processCaches.dropIdle();
    const dir = tmp();
    const path = join(dir, 'INBOX.idx');
    const msgs = Array.from({ length: 2000 }, (_, i) => msg(i + 1));
    replace(path, encodeIndex(data(msgs)));
    const release = holdIndex(path);
    const a = readIndexKept(path)!;
    expect(a.messages).toEqual(msgs); // a session made them (a write, a parse)
    expect(messagesMade(a)).toBe(true);
    release();
    const idle = processCaches.stats().caches['mbox-index']!.bytes;
    expect(idle).toBeLessThan(2000 * 80); // 64 bytes of columns a message, and a head
    expect(messagesMade(a)).toBe(false);
    // The next session gets the same kept index; its records are made again, equal.
    const b = readIndexKept(path)!;
    expect(b).toBe(a);
    expect(b.messages).toEqual(msgs);
  });

  it('budget 0 keeps nothing no handle holds; a held entry stays until released', () => {
    processCaches.setBudget(0);
    const dir = tmp();
    const path = join(dir, 'INBOX.idx');
    replace(path, encodeIndex(data([msg(1)])));
    const a = readIndexKept(path)!;
    expect(readIndexKept(path)).not.toBe(a);
    const release = holdIndex(path);
    const b = readIndexKept(path)!;
    expect(readIndexKept(path)).toBe(b);
    expect(processCaches.stats().caches['mbox-index']).toMatchObject({ entries: 1, held: 1 });
    release();
    expect(processCaches.stats().caches['mbox-index']).toBeUndefined();
    expect(readIndexKept(path)).not.toBe(b);
  });
});

describe('maildir dmail-index kept between handles', () => {
  it('parsed once while the file stays; read again when another process replaces it', async () => {
    const dir = tmp();
    const index = { stamp: 's1', modseq: 5, uidValidity: 77, uidNext: 4, records: [
      { uid: 1, modseq: 2, date: 1000, vsize: 10, sub: 'cur' as const, file: 'a:2,S' },
      { uid: 3, modseq: 5, date: 2000, vsize: 20, sub: 'new' as const, file: 'b', uidl: 'x' },
    ] };
    expect(await writeMaildirIndex(dir, index)).toBe(true);
    const a = (await readMaildirIndex(dir))!;
    expect(a).toEqual(index);
    expect(await readMaildirIndex(dir)).toBe(a);
    // Replaced by another writer: read again.
    const path = join(dir, FACTS_FILE);
    const text = readFileSync(path, 'utf8');
    expect(await writeMaildirIndex(dir, { ...index, stamp: 's2' })).toBe(true);
    const b = (await readMaildirIndex(dir))!;
    expect(b.stamp).toBe('s2');
    expect(await readMaildirIndex(dir)).toBe(b);
    // Rewritten in place with the same size and the mtime set back: not believed from memory.
    const ns = statSync(path, { bigint: true }).mtimeNs;
    writeFileSync(path, text);
    setMtimeNs(path, ns);
    const c = (await readMaildirIndex(dir))!;
    expect(c.stamp).toBe('s1');
    expect(c).not.toBe(a);
    rmSync(path);
    expect(await readMaildirIndex(dir)).toBeUndefined();
  });
});
