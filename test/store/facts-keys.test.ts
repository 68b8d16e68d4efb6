// The sort/thread keys family of the facts cache (store/facts-keys.ts, `<facts>.sk`): SORT, THREAD and
// SENT* answered from it equal what parsing the bytes gives (MIME corpus), without loading a message; a
// damaged, torn or foreign record costs a parse, never a wrong answer (CRC, identity, UIDVALIDITY,
// resync on the record magic after garbage); a cache written before the keys file existed fills it; the
// file is trusted only when ours; and a kill -9 mid-append on both backends leaves answers right.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { type FactsRequest, type Mailbox, type MessageFacts, type SortAddress } from '../../src/store/types.js';
import { factsFromBytes, mailboxFacts, mailboxFactsAll, mailboxKeyColumns } from '../../src/store/facts.js';
import { FactsFile } from '../../src/store/facts-file.js';
import { KeysFile } from '../../src/store/facts-keys.js';
import { ROOT } from '../helpers/site.js';
import { processCaches } from '../../src/store/process-cache.js';
import { storeAt, tempDir } from '../maildir/fixture.js';
import { tempUser } from './helpers.js';
import { buildWorker } from './worker-build.js';
import { collect as collectAll, memorySource, withIdentityPairs } from './facts-source.js';

const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');
const KEYS: FactsRequest = { sortKeys: true, threading: true };

/** The facts as plain data: the contract's members read one by one (the store may answer with objects
 *  that decode a member when it is read: facts-keys.ts LazyKeys), so toEqual compares what callers see. */
function plain(f: MessageFacts): MessageFacts {
  const addr = (a: SortAddress | null) => a && { name: a.name, mailbox: a.mailbox, domain: a.domain };
  const sk = f.sortKeys;
  const th = f.threading;
  const rest = Object.fromEntries((['envelope', 'body', 'bodyStructure', 'headerFields', 'headerValues'] as const).filter((k) => f[k] !== undefined).map((k) => [k, f[k]]));
  return {
    uid: f.uid,
    exists: f.exists,
    ...rest,
    ...(sk ? { sortKeys: { dateHeader: sk.dateHeader, sentDate: sk.sentDate, sentDay: sk.sentDay, subject: sk.subject, from: addr(sk.from), to: addr(sk.to), cc: addr(sk.cc) } } : {}),
    ...(th ? { threading: { messageId: th.messageId, inReplyTo: [...th.inReplyTo], references: [...th.references] } } : {}),
  };
}

/** Every fact as plain data (`plain`). */
const collect = async (it: AsyncIterable<MessageFacts>): Promise<MessageFacts[]> => (await collectAll(it)).map(plain);

/** Where the records of a keys file start: after the header (and a compacted file's columns). */
const bodyStart = (b: Buffer): number => (b.subarray(0, 8).toString('latin1') === 'DMFKEYS2' ? 48 + b.readUInt32LE(16) + b.readUInt32LE(24) : 16);

/** The same file in the first format: header `DMFKEYS1`, UIDVALIDITY, 0, then the records. */
const firstFormat = (b: Buffer): Buffer => {
  const head = Buffer.alloc(16);
  head.write('DMFKEYS1', 0, 'latin1');
  head.writeUInt32LE(b.readUInt32LE(8), 8);
  return Buffer.concat([head, b.subarray(bodyStart(b))]);
};

/** a[i] === a[j] exactly when b[i] === b[j] (two numberings of the same IDs). */
const sameNumbering = (a: ArrayLike<number>, b: ArrayLike<number>): boolean => {
  const ab = new Map<number, number>();
  const ba = new Map<number, number>();
  for (let i = 0; i < a.length; i++) {
    if ((ab.get(a[i]!) ?? b[i]) !== b[i] || (ba.get(b[i]!) ?? a[i]) !== a[i]) return false;
    ab.set(a[i]!, b[i]!);
    ba.set(b[i]!, a[i]!);
  }
  return true;
};

const many = (n: number) => new Map(Array.from({ length: n }, (_, i) => [i + 1, {
  bytes: Buffer.from(crlf(`From: "U ${i}" <u${i}@example.com>\nTo: t${i}@x.org\nSubject: Re: message ${i}\nDate: ${1 + (i % 28)} Jan 2024 10:00:00 +0100\nMessage-ID: <${i}@x>\nReferences: <${i - 1}@x> <${i - 2}@x>\n\nbody ${i}\n`)),
  identity: `id${i}`,
}]));

describe('facts keys file', () => {
  let dir = '';
  afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('answers SORT/THREAD keys byte for byte as the bytes do (MIME corpus), loading nothing', async () => {
    dir = tempDir();
    const corpus = '/work/shared/corpus/messages';
    const files = existsSync(corpus) ? readdirSync(corpus).sort().filter((f) => statSync(join(corpus, f)).size < 200_000) : [];
    const msgs = new Map(files.map((f, i) => [i + 1, { bytes: Buffer.from(readFileSync(join(corpus, f), 'latin1').replace(/\r?\n/g, '\r\n'), 'latin1'), identity: f }]));
    msgs.set(msgs.size + 1, { bytes: Buffer.from('Subject: \x00\xff\t\u00e9 "q" \\\r\nFrom: =?utf-8?q?=E2=82=AC?= <a@b>\r\nDate: nonsense\r\nReferences: <a@b> junk <c@d>\r\n\r\n', 'latin1'), identity: 'odd chars' });
    msgs.set(msgs.size + 1, { bytes: Buffer.from('\r\n', 'latin1'), identity: 'empty header' });
    const uids = [...msgs.keys()];
    const fresh = await collect(factsFromBytes(memorySource(msgs), uids, KEYS));
    const f1 = new FactsFile({ dir, name: 'x.facts', writable: true });
    await collect(mailboxFacts(f1, memorySource(msgs), uids, { envelope: true }));
    f1.close();
    expect(existsSync(join(dir, 'x.facts.sk'))).toBe(true);
    const s = memorySource(msgs);
    const got = await collect(mailboxFacts(new FactsFile({ dir, name: 'x.facts', writable: false }), s, uids, KEYS));
    expect(s.loads).toBe(0);
    expect(got).toEqual(fresh);
    // All at once: the same answers, from the keys file too; a UID it lacks is parsed, in its place.
    const sa = memorySource(msgs);
    const withGone = [...uids.slice(0, 3), 999, ...uids.slice(3)];
    const all = await mailboxFactsAll(new FactsFile({ dir, name: 'x.facts', writable: false }), sa, withGone, KEYS);
    expect(sa.loads).toBe(1);
    expect(all.map(plain)).toEqual([...fresh.slice(0, 3), { uid: 999, exists: false }, ...fresh.slice(3)]);
    // Each half alone, too (sortKeys for SENT*, threading alone).
    const s2 = memorySource(msgs);
    expect(await collect(mailboxFacts(new FactsFile({ dir, name: 'x.facts', writable: false }), s2, uids, { sortKeys: true }))).toEqual(
      await collect(factsFromBytes(memorySource(msgs), uids, { sortKeys: true })));
    expect(s2.loads).toBe(0);
  });

  it('never answers with keys of other bytes, a damaged or torn record, or another UIDVALIDITY', async () => {
    dir = tempDir();
    const msgs = many(30);
    const uids = [...msgs.keys()];
    const f1 = new FactsFile({ dir, name: 'x.facts', writable: true });
    await collect(mailboxFacts(f1, memorySource(msgs), uids, KEYS));
    f1.close();
    const path = join(dir, 'x.facts.sk');
    // Message 3 rewritten under its UID; a byte flipped in the record of UID 5; the last record torn.
    msgs.set(3, { bytes: Buffer.from('Subject: rewritten\r\nDate: 2 Feb 2020 00:00:00 +0000\r\n\r\nnew\r\n'), identity: 'other' });
    let data = readFileSync(path);
    const at = data.indexOf('message 4');
    expect(at).toBeGreaterThan(0);
    data[at] = 'M'.charCodeAt(0);
    data = data.subarray(0, data.length - 7);
    writeFileSync(path, data);
    const s = memorySource(msgs);
    const got = await collect(mailboxFacts(new FactsFile({ dir, name: 'x.facts.none', writable: false }), s, uids, KEYS));
    expect(s.loads).toBe(30); // another facts file: nothing cached there
    const r = memorySource(msgs);
    const cached = await collect(mailboxFacts(new FactsFile({ dir, name: 'x.facts', writable: false }), r, uids, KEYS));
    expect(cached).toEqual(got);
    expect(cached[2]!.sortKeys!.subject).toBe('rewritten');
    // 5 (checksum) and 30 (torn) are gone from the keys file; the text file still answers them.
    expect(r.loads).toBe(1); // 3 (identity)
    const known = new KeysFile({ dir, name: 'x.facts.sk', writable: false }).known(7);
    expect(known).toEqual(uids.filter((u) => u !== 5 && u !== 30));
    // Garbage, then records appended by another handle: found again past the garbage.
    appendFileSync(path, Buffer.from('garbage\x00\x01\x02 without any framing at all'));
    const w = new FactsFile({ dir, name: 'x.facts', writable: true });
    await collect(mailboxFacts(w, memorySource(msgs), uids, KEYS)); // appends 3, 5 and 30 after the garbage
    w.close();
    const k = memorySource(msgs);
    expect(await collect(mailboxFacts(new FactsFile({ dir, name: 'x.facts', writable: false }), k, uids, KEYS))).toEqual(got);
    expect(k.loads).toBe(0);
    expect(new KeysFile({ dir, name: 'x.facts.sk', writable: false }).known(7)).toEqual(uids);
    // Another UIDVALIDITY: nothing believed, the file started afresh for it.
    const v = memorySource(msgs, 9);
    const f2 = new FactsFile({ dir, name: 'x.facts', writable: true });
    await collect(mailboxFacts(f2, v, [1, 2], KEYS));
    f2.close();
    expect(v.loads).toBe(2);
    expect(new KeysFile({ dir, name: 'x.facts.sk', writable: false }).known(9)).toEqual([1, 2]);
    expect(new KeysFile({ dir, name: 'x.facts.sk', writable: false }).known(7)).toEqual([]);
  });

  it('compares identities of two numbers as numbers (identityPairs) with the same answers as the strings', async () => {
    dir = tempDir();
    const msgs = many(20);
    for (const [uid, m] of msgs) m.identity = `${m.bytes.length}.${uid * 7919 - 50}`; // size.hash, a negative hash too
    const uids = [...msgs.keys()];
    const paired = (ms: typeof msgs) => withIdentityPairs(memorySource(ms), ms);
    const w = new FactsFile({ dir, name: 'x.facts', writable: true });
    const want = (await mailboxFactsAll(w, memorySource(msgs), uids, KEYS)).map(plain);
    w.close();
    const a = paired(msgs);
    expect((await mailboxFactsAll(new FactsFile({ dir, name: 'x.facts', writable: false }), a, uids, KEYS)).map(plain)).toEqual(want);
    expect(a.loads).toBe(0);
    // Rewritten under their UIDs: same size other hash (3), same hash other size (4); 5 gone; asked out of order.
    const b3 = Buffer.from('Subject: three\r\n\r\nx\r\n');
    msgs.set(3, { bytes: b3, identity: `${msgs.get(3)!.bytes.length}.1` });
    msgs.set(4, { bytes: Buffer.from('Subject: four\r\n\r\nx\r\n'), identity: `7.${4 * 7919 - 50}` });
    msgs.delete(5);
    const order = [9, 3, 4, 5, 1, 2, 20];
    const b = paired(msgs);
    const got = (await mailboxFactsAll(new FactsFile({ dir, name: 'x.facts', writable: false }), b, order, KEYS)).map(plain);
    expect(b.loads).toBe(3); // 3, 4 and 5 (gone) read, the others from the keys file
    expect(got.map((f) => f.exists)).toEqual([true, true, true, false, true, true, true]);
    expect(got[1]!.sortKeys!.subject).toBe('three');
    expect(got[2]!.sortKeys!.subject).toBe('four');
    expect(got[0]).toEqual(want[8]);
    expect(got[6]).toEqual(want[19]);
  });

  it('is filled from a facts file written before it existed, and trusted only when ours', async () => {
    dir = tempDir();
    const msgs = many(12);
    const uids = [...msgs.keys()];
    const f1 = new FactsFile({ dir, name: 'x.facts', writable: true });
    await collect(mailboxFacts(f1, memorySource(msgs), uids, { envelope: true }));
    f1.close();
    rmSync(join(dir, 'x.facts.sk'));
    const a = memorySource(msgs);
    const f2 = new FactsFile({ dir, name: 'x.facts', writable: true });
    const first = await collect(mailboxFacts(f2, a, uids, KEYS));
    f2.close();
    expect(a.loads).toBe(0); // from the text records
    expect(first).toEqual(await collect(factsFromBytes(memorySource(msgs), uids, KEYS)));
    expect(new KeysFile({ dir, name: 'x.facts.sk', writable: false }).known(7)).toEqual(uids);
    // Writable by others: ignored (and the text file too, so every message is parsed), even though a
    // handle of this process that still has it open (the KeysFile above, never closed) read it before.
    chmodSync(join(dir, 'x.facts.sk'), 0o666);
    chmodSync(join(dir, 'x.facts'), 0o666);
    const b = memorySource(msgs);
    expect(await collect(mailboxFacts(new FactsFile({ dir, name: 'x.facts', writable: true }), b, uids, KEYS))).toEqual(first);
    expect(b.loads).toBe(12);
    expect(statSync(join(dir, 'x.facts.sk')).mode & 0o777).toBe(0o666);
  });

  it('is kept in memory after its last handle closed, yet re-checked by the next: appends, replacement, trust', async () => {
    dir = tempDir();
    const msgs = many(20);
    const uids = [...msgs.keys()];
    const keysPath = join(dir, 'x.facts.sk');
    const fill = async (list: number[]) => { const w = new FactsFile({ dir, name: 'x.facts', writable: true }); await collect(mailboxFacts(w, memorySource(msgs), list, KEYS)); w.close(); };
    await fill(uids.slice(0, 10));
    const reader = () => new KeysFile({ dir, name: 'x.facts.sk', writable: false });
    const r1 = reader();
    expect(r1.known(7)).toEqual(uids.slice(0, 10));
    const same = r1.lookup(1, 'id0', 7, false);
    r1.close(); // the last handle: what it read stays for the next handle of this process
    // Another process appends (the same inode grows): the next handle takes in only the new records.
    await fill(uids.slice(10));
    const r2 = reader();
    expect(r2.known(7)).toEqual(uids);
    // The idle entry kept its columns only: the record is read again (the same keys, a new object).
    expect(plain(r2.lookup(1, 'id0', 7, false)!)).toEqual(plain(same!));
    r2.close();
    // Replaced by a compaction elsewhere (another inode, other contents): read afresh.
    const other = many(3);
    const w = new FactsFile({ dir, name: 'y.facts', writable: true });
    await collect(mailboxFacts(w, memorySource(other, 7), [...other.keys()], KEYS));
    w.close();
    writeFileSync(keysPath + '.new', readFileSync(join(dir, 'y.facts.sk')), { mode: 0o600 });
    renameSync(keysPath + '.new', keysPath);
    const r3 = reader();
    expect(r3.known(7)).toEqual([1, 2, 3]);
    r3.close();
    // Made writable by others while nobody held it open: not believed by the next handle.
    chmodSync(keysPath, 0o666);
    const r4 = reader();
    expect(r4.lookup(1, 'id0', 7, false)).toBeUndefined();
    expect(r4.known(7)).toEqual([]);
    r4.close();
  });

  it('stays kept when its idle columns fit the budget, though what a session held did not', async () => {
    dir = tempDir();
    const msgs = many(300);
    const uids = [...msgs.keys()];
    const budget = processCaches.budget;
    const w = new FactsFile({ dir, name: 'x.facts', writable: true });
    await collect(mailboxFacts(w, memorySource(msgs), uids, KEYS));
    w.close();
    const session = () => {
      const r = new KeysFile({ dir, name: 'x.facts.sk', writable: false });
      for (const uid of uids) expect(r.lookup(uid, `id${uid - 1}`, 7, false)?.messageId).toBe(`${uid - 1}@x`);
      return r;
    };
    try {
      processCaches.setBudget(64 * 1024 * 1024);
      processCaches.dropIdle();
      const other = processCaches.stats().caches['facts-keys']?.bytes ?? 0; // held by earlier tests' handles
      const r1 = session();
      const held = processCaches.stats().caches['facts-keys']!.bytes - other; // the file's bytes and decoded records
      r1.close();
      const idle = processCaches.stats().idleBytes; // the columns
      expect(idle).toBeLessThan(held / 2);
      // A budget between the two: the entry is kept (it used to be weighed at its held size, and dropped).
      processCaches.dropIdle();
      processCaches.setBudget(Math.floor((idle + held) / 2));
      session().close();
      expect(processCaches.stats().idleBytes).toBe(idle);
      const again = new KeysFile({ dir, name: 'x.facts.sk', writable: false });
      expect(again.known(7)).toEqual(uids);
      again.close();
    } finally {
      processCaches.setBudget(budget);
    }
  });

  it('is not believed after its last handle closed if the file was rewritten in place (same inode, longer)', async () => {
    dir = tempDir();
    const msgs = many(30);
    const keysPath = join(dir, 'x.facts.sk');
    const w = new FactsFile({ dir, name: 'x.facts', writable: true });
    await collect(mailboxFacts(w, memorySource(msgs), [...msgs.keys()].slice(0, 10), KEYS));
    w.close();
    const r1 = new KeysFile({ dir, name: 'x.facts.sk', writable: false });
    expect(r1.known(7)).toEqual([...msgs.keys()].slice(0, 10));
    r1.close(); // idle: tables kept, descriptor closed
    // Another file's bytes written over it in place: all 30 messages under UIDVALIDITY 8, longer.
    const y = new FactsFile({ dir, name: 'y.facts', writable: true });
    await collect(mailboxFacts(y, memorySource(msgs, 8), [...msgs.keys()], KEYS));
    y.close();
    const ino = statSync(keysPath).ino;
    writeFileSync(keysPath, readFileSync(join(dir, 'y.facts.sk')));
    expect(statSync(keysPath).ino).toBe(ino);
    const r2 = new KeysFile({ dir, name: 'x.facts.sk', writable: false });
    expect(r2.known(7)).toEqual([]);
    expect(r2.known(8)).toEqual([...msgs.keys()]);
    r2.close();
  });

  it('reads an idle entry\'s records again from the file it checked, never bytes that changed since', async () => {
    dir = tempDir();
    const msgs = many(20); // records of uids 3 to 9 all have the same length (one-digit numbers and days)
    const uids = [...msgs.keys()];
    const keysPath = join(dir, 'x.facts.sk');
    const w = new FactsFile({ dir, name: 'x.facts', writable: true });
    await collect(mailboxFacts(w, memorySource(msgs), uids, KEYS));
    w.close();
    const reader = () => new KeysFile({ dir, name: 'x.facts.sk', writable: false });
    const subject = (k: MessageFacts | undefined) => k?.sortKeys?.subject;
    const r1 = reader();
    expect(r1.known(7)).toEqual(uids);
    expect(subject(r1.lookup(5, 'id4', 7, false))).toBe('Re: message 4');
    r1.close(); // idle: the columns stay, the records' bytes and decoded records go
    // Read again from the file (nothing changed): every record's keys as parsing gives them.
    const r2 = reader();
    const truth = await collect(factsFromBytes(memorySource(msgs), uids, KEYS));
    expect(uids.map((u) => plain(r2.lookup(u, `id${u - 1}`, 7, false)!))).toEqual(truth);
    r2.close();
    // The records' places, by uid (record: magic, length, crc, payload starting with the uid).
    const places = (b: Buffer) => {
      const at = new Map<number, [number, number]>();
      for (let p = bodyStart(b); p + 12 <= b.length; p += 12 + b.readUInt32LE(p + 4)) at.set(b.readUInt32LE(p + 12), [p, 12 + b.readUInt32LE(p + 4)]);
      return at;
    };
    const orig = readFileSync(keysPath);
    const at = places(orig);
    const [p5, n5] = at.get(5)!;
    const [p6, n6] = at.get(6)!;
    const [p8, n8] = at.get(8)!;
    expect(n6).toBe(n5);
    expect(n8).toBe(n5);
    // In place (same inode, same size, same first and last bytes), records of uids 5 and 6 swapped: both
    // valid records, each at the other's place. Columns kept for uid 5 point at uid 6's record now.
    const swapped = Buffer.from(orig);
    orig.copy(swapped, p5, p6, p6 + n6);
    orig.copy(swapped, p6, p5, p5 + n5);
    const ino = statSync(keysPath).ino;
    writeFileSync(keysPath, swapped);
    expect(statSync(keysPath).ino).toBe(ino);
    const r3 = reader();
    const k5 = r3.lookup(5, 'id4', 7, false);
    expect(k5 === undefined || subject(k5) === 'Re: message 4').toBe(true); // never message 5's keys
    r3.close();
    const r4 = reader(); // the file read anew: both found where they are now
    expect(subject(r4.lookup(5, 'id4', 7, false))).toBe('Re: message 4');
    expect(subject(r4.lookup(6, 'id5', 7, false))).toBe('Re: message 5');
    expect(r4.known(7)).toEqual(uids);
    r4.close();
    // In place again: uid 5's record made of message 7's (identity id7, its keys), uid and CRC made
    // right: a valid record of uid 5, not the one whose identity (id4) the columns kept.
    const now = readFileSync(keysPath);
    const at2 = places(now);
    const [q5] = at2.get(5)!;
    const [q8] = at2.get(8)!;
    const forged = Buffer.from(now.subarray(q8, q8 + n8));
    forged.writeUInt32LE(5, 12);
    forged.writeUInt32LE(crc32(forged.subarray(12)), 8);
    const changed = Buffer.from(now);
    forged.copy(changed, q5);
    writeFileSync(keysPath, changed);
    const r5 = reader();
    expect(subject(r5.lookup(5, 'id4', 7, false))).toBeUndefined(); // not message 7's keys for id4
    expect(subject(r5.lookup(6, 'id5', 7, false))).toBe('Re: message 5');
    r5.close();
    // Replaced meanwhile (renamed over, another inode) by the original bytes: read anew.
    const r6 = reader();
    expect(r6.known(7)).toEqual(uids);
    r6.close();
    writeFileSync(keysPath + '.new', orig, { mode: 0o600 });
    renameSync(keysPath + '.new', keysPath);
    const r7 = reader();
    expect(uids.map((u) => plain(r7.lookup(u, `id${u - 1}`, 7, false)!))).toEqual(truth);
    r7.close();
  });

  it('believes a compacted file\'s columns, threads and body only by their CRCs; reads and rewrites a first-format file', async () => {
    dir = tempDir();
    const msgs = many(40);
    const uids = [...msgs.keys()];
    const truth = await collect(factsFromBytes(memorySource(msgs), uids, KEYS));
    const parsed = await mailboxKeyColumns(null, memorySource(msgs), uids, { threading: true, subjects: true });
    const w = new FactsFile({ dir, name: 'x.facts', writable: true });
    await collect(mailboxFacts(w, memorySource(msgs), uids, KEYS));
    w.close();
    rmSync(join(dir, 'x.facts')); // the keys file alone answers (a miss is parsed)
    const path = join(dir, 'x.facts.sk');
    const good = readFileSync(path);
    expect(good.subarray(0, 8).toString('latin1')).toBe('DMFKEYS2');
    expect(good.readUInt32LE(12)).toBe(40); // a row of columns per record
    const colLen = good.readUInt32LE(16);
    expect(colLen).toBe(40 * 40 + 4 * 41 + uids.map((u) => `id${u - 1}`).join('').length); // rows, then the identities (not two numbers)
    expect(good.readUInt32LE(24)).toBeGreaterThan(0); // the threads block
    const body = bodyStart(good);
    const at5 = good.indexOf('message 4', body) + 8; // the digit: another base subject
    expect(at5).toBeGreaterThan(body);
    // The file as `data` (renamed into place: nothing kept in this process is believed for it), read.
    const put = (data: Buffer) => {
      writeFileSync(path + '.new', data, { mode: 0o600 });
      renameSync(path + '.new', path);
      processCaches.dropIdle();
    };
    const readBack = async () => {
      const s = memorySource(msgs);
      const f = new FactsFile({ dir, name: 'x.facts', writable: false });
      const kc = await mailboxKeyColumns(f, s, uids, { threading: true, subjects: true });
      f.close();
      const k = new KeysFile({ dir, name: 'x.facts.sk', writable: false });
      const known = k.known(7);
      const answers = uids.map((u) => { const f = k.lookup(u, `id${u - 1}`, 7, false); return f && plain(f); });
      k.close();
      expect([...kc.exists]).toEqual([...parsed.exists]);
      expect([...kc.sentDate]).toEqual([...parsed.sentDate]);
      const ids = (c: typeof kc) => [...c.messageId, ...c.inReplyTo, ...c.refs]; // one space
      expect(sameNumbering(ids(kc), ids(parsed)), 'IDs').toBe(true);
      expect(sameNumbering(kc.subject, parsed.subject), 'subjects').toBe(true);
      expect([...kc.refStart]).toEqual([...parsed.refStart]);
      expect([...kc.replyOrForward]).toEqual([...parsed.replyOrForward]);
      return { known, answers, loads: s.loads };
    };
    const flip = (b: Buffer, at: number, bit = 0x20) => { const c = Buffer.from(b); c[at]! ^= bit; return c; };
    // As written: every record from the columns, threads block and body.
    put(good);
    expect(await readBack()).toEqual({ known: uids, answers: truth, loads: 0 });
    // A byte of uid 5's record changed (its own CRC and the body's fail): never its keys from those bytes;
    // the others'. (Its columns and threading numbers are their own blocks', whose CRCs hold: THREAD and
    // SORT (DATE) need no byte of the record, so nothing is parsed.)
    put(flip(good, at5));
    let r = await readBack();
    expect(r.answers).toEqual(truth.map((t) => (t.uid === 5 ? undefined : t)));
    expect(r.loads).toBe(0);
    expect((await readBack()).known).toEqual(uids.filter((u) => u !== 5)); // read again, record by record
    // The columns' CRC fails: the body is scanned (believed by its CRC: nothing lost) ...
    put(flip(good, 48 + 3));
    expect(await readBack()).toEqual({ known: uids, answers: truth, loads: 0 });
    // ... and with a damaged record too, that record by its own CRC.
    put(flip(flip(good, 48 + 3), at5));
    r = await readBack();
    expect(r.known).toEqual(uids.filter((u) => u !== 5));
    expect(r.answers).toEqual(truth.map((t) => (t.uid === 5 ? undefined : t)));
    // The threads block's CRC fails (a number in its pool changed, still in range): the numbers are
    // worked out from the records.
    const thr = 48 + colLen;
    const pool = thr + 20 + 4 * (2 * 40 + good.readUInt32LE(thr) + 1 + good.readUInt32LE(thr + 8) + 1);
    expect(good.readInt32LE(pool)).toBe(0); // row 0's Message-ID number (1: another ID's)
    put(flip(good, pool, 1));
    expect(await readBack()).toEqual({ known: uids, answers: truth, loads: 0 });
    // A header whose own CRC fails (here: its body CRC changed): nothing believed.
    const badHead = Buffer.from(good);
    badHead.writeUInt32LE((good.readUInt32LE(36) ^ 1) >>> 0, 36);
    put(badHead);
    expect(await readBack()).toEqual({ known: [], answers: uids.map(() => undefined), loads: 40 });
    // A header that does not describe its body (body CRC wrong, header CRC made right): each record by
    // its own CRC — the damaged one is not believed.
    const wrongBody = flip(good, at5);
    wrongBody.writeUInt32LE((good.readUInt32LE(36) ^ 1) >>> 0, 36);
    wrongBody.writeUInt32LE(crc32(wrongBody.subarray(0, 44)), 44);
    put(flip(wrongBody, 48 + 3)); // columns not believed either: the body is scanned
    r = await readBack();
    expect(r.known).toEqual(uids.filter((u) => u !== 5));
    // Torn inside the body (shorter than its header says): the whole records before the cut.
    put(good.subarray(0, good.length - 7));
    r = await readBack();
    expect(r.known).toEqual(uids.slice(0, -1));
    expect(r.answers).toEqual([...truth.slice(0, -1), undefined]);
    // The first format: read as it is, record by record ...
    put(firstFormat(good));
    expect(await readBack()).toEqual({ known: uids, answers: truth, loads: 0 });
    // ... and rewritten compacted by the next writable handle that looks at it.
    const h = new KeysFile({ dir, name: 'x.facts.sk', writable: true });
    expect(h.table(7, true)?.rows).toBe(40);
    h.close();
    const again = readFileSync(path);
    expect(again.subarray(0, 8).toString('latin1')).toBe('DMFKEYS2');
    processCaches.dropIdle();
    expect(await readBack()).toEqual({ known: uids, answers: truth, loads: 0 });
  });

  it('finds rows of sparse and very large UIDs (compacted, first format, appended)', async () => {
    dir = tempDir();
    const uids = [1, 2, 70_000, 3_000_000_000, 4_294_967_294];
    const msgs = new Map(uids.map((u, i) => [u, { bytes: Buffer.from(crlf(`Subject: s${i}\nDate: ${i + 1} Jan 2024 10:00:00 +0000\nMessage-ID: <${i}@x>\n\nb\n`)), identity: `${i}.${u}` }]));
    const truth = await collect(factsFromBytes(memorySource(msgs), uids, KEYS));
    const w = new FactsFile({ dir, name: 'x.facts', writable: true });
    await collect(mailboxFacts(w, memorySource(msgs), uids, KEYS));
    w.close();
    const path = join(dir, 'x.facts.sk');
    const read = () => {
      processCaches.dropIdle();
      const k = new KeysFile({ dir, name: 'x.facts.sk', writable: false });
      const got = uids.map((u, i) => { const f = k.lookup(u, `${i}.${u}`, 7, false); return f && plain(f); });
      expect(k.lookup(3, '9.9', 7, false)).toBeUndefined();
      expect(k.lookup(3_000_000_001, '9.9', 7, false)).toBeUndefined();
      k.close();
      return got;
    };
    expect(readFileSync(path).subarray(0, 8).toString('latin1')).toBe('DMFKEYS2');
    expect(read()).toEqual(truth);
    writeFileSync(path + '.new', firstFormat(readFileSync(path)), { mode: 0o600 });
    renameSync(path + '.new', path);
    expect(read()).toEqual(truth);
    // Rows appended after a compacted file's columns: a new large UID, and one of them re-recorded.
    const more = new Map(msgs);
    more.set(4_000_000_000, { bytes: Buffer.from(crlf('Subject: late\nMessage-ID: <late@x>\n\nb\n')), identity: '9.4000000000' });
    more.set(70_000, { bytes: Buffer.from(crlf('Subject: again\nMessage-ID: <again@x>\n\nb\n')), identity: '7.7' });
    const c = new FactsFile({ dir, name: 'y.facts', writable: true });
    await collect(mailboxFacts(c, memorySource(msgs), uids, KEYS)); // compacted: its first write
    c.close();
    const a = new FactsFile({ dir, name: 'y.facts', writable: true });
    await collect(mailboxFacts(a, memorySource(more), [4_000_000_000, 70_000], KEYS)); // appended
    a.close();
    processCaches.dropIdle();
    const all = [...more.keys()].sort((x, y) => x - y);
    const k = new KeysFile({ dir, name: 'y.facts.sk', writable: false });
    expect(all.map((u) => { const f = k.lookup(u, more.get(u)!.identity, 7, false); return f && plain(f); })).toEqual(
      await collect(factsFromBytes(memorySource(more), all, KEYS)));
    k.close();
  });

  it('stays under its cap and drops expunged messages when it compacts', async () => {
    dir = tempDir();
    const msgs = many(300);
    const f = new FactsFile({ dir, name: 'x.facts', writable: true });
    await collect(mailboxFacts(f, memorySource(msgs), [...msgs.keys()], KEYS));
    f.close();
    const full = statSync(join(dir, 'x.facts.sk')).size;
    for (let uid = 1; uid <= 150; uid++) msgs.delete(uid);
    for (const round of [1, 2, 3, 4]) {
      for (const [uid, m] of msgs) msgs.set(uid, { ...m, identity: `r${round}-${uid}` });
      const h = new FactsFile({ dir, name: 'x.facts', writable: true });
      await collect(mailboxFacts(h, memorySource(msgs), [...msgs.keys()], KEYS));
      h.close();
    }
    const known = new KeysFile({ dir, name: 'x.facts.sk', writable: false }).known(7);
    expect(known.every((u) => u > 150)).toBe(true);
    expect(statSync(join(dir, 'x.facts.sk')).size).toBeLessThan(2 * full);
    const capped = new KeysFile({ dir, name: 'y.sk', writable: true, maxBytes: 4000 });
    const src = memorySource(msgs);
    for (const [uid] of msgs) capped.add(uid, `c${uid}`, { dateHeader: null, sentDate: uid, sentDay: null, subject: 's', from: null, to: null, cc: null }, { messageId: null, inReplyTo: [], references: [] }, src.state);
    capped.close();
    expect(statSync(join(dir, 'y.sk')).size).toBeLessThanOrEqual(4000);
  });
});

describe.each(['mbox', 'maildir'] as const)('%s: keys file survives kill -9 mid-append', (kind) => {
  let cleanup = () => {};
  afterEach(() => cleanup());
  let workDir = '';
  let worker = '';
  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'store-facts-keys-'));
    worker = await buildWorker('facts-worker', workDir);
  });
  afterAll(() => rmSync(workDir, { recursive: true, force: true }));
  const run = (where: string, part: string, env: Record<string, string>) => new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    const child = spawn(process.execPath, [worker, kind, where, part], {
      env: { PATH: process.env.PATH ?? '', NODE_PATH: join(ROOT, 'node_modules'), ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const all = async (box: Mailbox, want: FactsRequest) => {
    const out: MessageFacts[] = [];
    const uids = box.state.messages.map((m) => m.uid);
    for await (const f of box.facts(uids, want)) out.push(plain(f));
    // The all-at-once form answers the same.
    expect((await box.factsAll(uids, want)).map(plain)).toEqual(out);
    return out;
  };

  /** A mailbox of `n` messages of this kind: where the worker finds it, a store on it, its keys file. */
  const filled = async (n: number): Promise<{ where: string; store: () => ReturnType<typeof storeAt>; keysPath: string }> => {
    const msgs = many(n);
    if (kind === 'mbox') {
      const u = tempUser();
      cleanup = () => u.cleanup();
      for (const m of msgs.values()) u.deliver(m.bytes.toString('latin1'));
      return { where: u.spool, store: () => u.store(), keysPath: join(u.paths.indexDir, 'INBOX.facts.sk') };
    }
    const root = tempDir();
    cleanup = () => rmSync(root, { recursive: true, force: true });
    const s = storeAt(root);
    for (const m of msgs.values()) await s.append('INBOX', m.bytes);
    return { where: root, store: () => storeAt(root), keysPath: join(root, 'dmail-facts.sk') };
  };
  /** filled(n), and what its keys are (read through a read-only handle) under its UIDVALIDITY. */
  const mailboxOf = async (n: number) => {
    const box = await filled(n);
    const ro = await box.store().open('INBOX', { readOnly: true });
    const truth = await all(ro, KEYS);
    const uidValidity = ro.state.uidValidity;
    await ro.close();
    return { ...box, truth, uidValidity };
  };
  /** The UIDs the keys file at `path` has a whole record of (a handle of its own, closed again). */
  const knownIn = (path: string, uidValidity: number): number[] => {
    const k = new KeysFile({ dir: join(path, '..'), name: path.split('/').pop()!, writable: false });
    try { return k.known(uidValidity); } finally { k.close(); }
  };

  it('answers right after a torn append, and later appends past the torn record are used', async () => {
    const n = 40;
    const { where, store, keysPath, truth, uidValidity } = await mailboxOf(n);
    expect((await run(where, 'half', {})).code).toBe(0);
    const before = statSync(keysPath).size;
    expect((await run(where, 'all', { DMAIL_STORE_KILLPOINT: 'facts-keys-append-torn' })).signal).toBe('SIGKILL');
    expect(statSync(keysPath).size).toBeGreaterThan(before);
    const known = knownIn(keysPath, uidValidity);
    expect(known.length).toBeGreaterThanOrEqual(n >> 1);
    expect(known.length).toBeLessThan(n);
    const again = await store().open('INBOX');
    expect(await all(again, KEYS)).toEqual(truth);
    await again.close(); // appended the missing ones after the torn record
    const after = knownIn(keysPath, uidValidity);
    expect(after).toEqual(truth.map((f) => f.uid));
    const third = await store().open('INBOX', { readOnly: true });
    expect(await all(third, KEYS)).toEqual(truth);
    await third.close();
  });

  it('answers right after a kill -9 mid-compaction (a first-format file rewritten at the end of a session)', async () => {
    const n = 40;
    const { where, store, keysPath, truth, uidValidity } = await mailboxOf(n);
    const magic = () => readFileSync(keysPath).subarray(0, 8).toString('latin1');
    const known = () => { processCaches.dropIdle(); return knownIn(keysPath, uidValidity); };
    expect((await run(where, 'keys', {})).code).toBe(0);
    expect(magic()).toBe('DMFKEYS2');
    const compacted = readFileSync(keysPath);
    const old = firstFormat(compacted);
    writeFileSync(keysPath + '.new', old, { mode: 0o600 });
    renameSync(keysPath + '.new', keysPath);
    // Killed before the compacted file replaced the old one: the old one, read as it is.
    expect((await run(where, 'keys', { DMAIL_STORE_KILLPOINT: 'facts-keys-compact-before' })).signal).toBe('SIGKILL');
    expect(readFileSync(keysPath).equals(old)).toBe(true);
    expect(known()).toEqual(truth.map((f) => f.uid));
    const mid = await store().open('INBOX', { readOnly: true });
    expect(await all(mid, KEYS)).toEqual(truth);
    await mid.close();
    // Killed just after: the compacted file, whole.
    expect((await run(where, 'keys', { DMAIL_STORE_KILLPOINT: 'facts-keys-compacted' })).signal).toBe('SIGKILL');
    expect(magic()).toBe('DMFKEYS2');
    expect(known()).toEqual(truth.map((f) => f.uid));
    processCaches.dropIdle();
    const after = await store().open('INBOX', { readOnly: true });
    expect(await all(after, KEYS)).toEqual(truth);
    await after.close();
  });
});
