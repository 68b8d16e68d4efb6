// Mailbox.keyColumns (store/facts.ts mailboxKeyColumns over the keys file's kept columns, facts-keys.ts)
// answers what factsAll answers: the same sent dates, and Message-IDs / In-Reply-To / References as
// numbers that are equal exactly when the ID strings are — whether the keys come from the file, are
// parsed (nothing cached), or both (records for some messages, others delivered or rewritten since).
// Random mailboxes with IDs that differ only by case, that are equal once whitespace and comments are
// dropped, missing, invalid, duplicated, non-ASCII. Then THREAD REFERENCES and SORT (DATE) built on the
// columns (commands/thread.ts referencesTree, sort.ts sortOrder's sentDates) answer as the replaced
// per-message implementations (test/mime/fixtures/thread-reference.ts). And IdSpace keeps two IDs of one
// hash apart (a hash that collides for every ID).
import { afterEach, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import type { Mailbox, MessageFacts, MessageInfo } from '../../src/store/types.js';
import { mailboxFactsAll, mailboxKeyColumns, type FactsSource } from '../../src/store/facts.js';
import { FactsFile } from '../../src/store/facts-file.js';
import { IdSpace } from '../../src/store/facts-keys.js';
import { processCaches } from '../../src/store/process-cache.js';
import { referencesTree, threadInput } from '../../src/imap/commands/thread.js';
import { subjectKey } from '../../src/mime/base-subject.js';
import { formatThreads } from '../../src/imap/thread.js';
import { sortOrder } from '../../src/imap/sort.js';
import { messageFacts } from '../../src/imap/sort-keys.js';
import * as old from '../mime/fixtures/thread-reference.js';
import { tempDir } from '../maildir/fixture.js';
import { memorySource, withIdentityPairs, type Msgs } from './facts-source.js';
import { rng as xorshift } from '../helpers/xorshift.js';

const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');

/** A random mailbox: IDs from a small pool, written in forms that are the same ID or not. */
function randomMailbox(seed: number, size: number, pairs: boolean): Msgs {
  const rnd = xorshift(seed);
  const pick = (k: number) => Math.floor(rnd() * k);
  const pool = Math.max(2, Math.floor(size * (0.4 + rnd())));
  // Forms of ID k: the same ID (whitespace, comments, folding dropped) or another (case, invalid).
  const form = (k: number): string => {
    switch (pick(9)) {
      case 0: return `<ID${k}@Example.com>`; // case differs: another ID
      case 1: return `< id${k} @example.com >`; // whitespace dropped: the same
      case 2: return `<id${k}(a comment)@example.com>`; // the same
      case 3: return `<id${k}@example.com\r\n >`; // folded: the same
      case 4: return `<\xc3\xa9t\xc3\xa9${k}@example.com>`; // 8-bit: its own
      case 5: return `<nodomain${k}>`; // invalid: skipped
      default: return `<id${k}@example.com>`;
    }
  };
  const msgs: Msgs = new Map();
  let uid = 0;
  for (let i = 0; i < size; i++) {
    uid += 1 + pick(3);
    const h: string[] = [`Subject: ${['', 'Re: ', 'Fwd: '][pick(3)]}${['a', 'b', 'c', 'A', ''][pick(5)]}`];
    if (rnd() < 0.85) h.push(`Date: ${1 + pick(3)} Jan 2024 ${String(pick(3)).padStart(2, '0')}:00:00 +0000`);
    else if (rnd() < 0.5) h.push('Date: not a date');
    if (rnd() < 0.85) h.push(`Message-ID: ${form(pick(pool))}`); // duplicates: pool < size sometimes
    if (rnd() < 0.4) h.push(`In-Reply-To: ${form(pick(pool))}${rnd() < 0.3 ? ` ${form(pick(pool))}` : ''}`);
    if (rnd() < 0.5) h.push(`References: ${Array.from({ length: pick(6) }, () => form(pick(pool))).join(rnd() < 0.5 ? ' ' : '\r\n\t')}`);
    msgs.set(uid, { bytes: Buffer.from(crlf(`${h.join('\n')}\n\nbody ${i}\n`), 'latin1'), identity: pairs || seed % 4 === 3 ? `${100 + i}.${uid * 31}` : `${uid}.host:2,S/${100 + i}` });
  }
  return msgs;
}

/** memorySource with infos whose INTERNALDATE varies (SORT/THREAD fall back to it) and identity pairs. */
function source(msgs: Msgs, pairs: boolean): FactsSource & { loads: number } {
  const src = memorySource(msgs);
  const base = Object.getOwnPropertyDescriptor(src, 'state')!.get!;
  Object.defineProperty(src, 'state', {
    get: () => {
      const st = base();
      return { ...st, messages: st.messages.map((m: MessageInfo) => ({ ...m, internalDate: new Date(Date.UTC(2024, 0, 1 + (m.uid % 4))) })) };
    },
  });
  return pairs ? withIdentityPairs(src, msgs) : src;
}

/** Checks keyColumns' answer against factsAll's strings; returns the facts. */
async function sameAsFacts(file: FactsFile | null, src: FactsSource, uids: number[], label: string): Promise<MessageFacts[]> {
  const want = await mailboxFactsAll(null, src, uids, { sortKeys: true, threading: true });
  const kc = await mailboxKeyColumns(file, src, uids, { threading: true, subjects: true });
  const subjNum = new Map<string, number>();
  const subjStr = new Map<number, string>();
  const numOf = new Map<string, number>();
  const strOf = new Map<number, string>();
  const same = (s: string, n: number, where: string) => {
    expect(n, where).toBeGreaterThanOrEqual(0);
    expect(n, where).toBeLessThan(kc.idLimit);
    if (!numOf.has(s)) numOf.set(s, n);
    if (!strOf.has(n)) strOf.set(n, s);
    // Equal numbers exactly for equal strings.
    if (numOf.get(s) !== n || strOf.get(n) !== s) expect({ where, s, n, was: numOf.get(s), wasStr: strOf.get(n) }).toBe('a bijection');
  };
  expect(kc.refStart.length).toBe(uids.length + 1);
  for (let i = 0; i < uids.length; i++) {
    const f = want[i]!;
    const where = `${label} uid ${uids[i]}`;
    expect(kc.exists[i], where).toBe(f.exists ? 1 : 0);
    if (!f.exists) continue;
    const sk = f.sortKeys!;
    const th = f.threading!;
    expect(kc.sentDate[i], where).toBe(sk.sentDate ?? NaN);
    if (th.messageId === null) expect(kc.messageId[i], where).toBe(-1);
    else same(th.messageId, kc.messageId[i]!, where);
    if (!th.inReplyTo.length) expect(kc.inReplyTo[i], where).toBe(-1);
    else same(th.inReplyTo[0]!, kc.inReplyTo[i]!, where);
    expect(kc.refStart[i + 1]! - kc.refStart[i]!, where).toBe(th.references.length);
    th.references.forEach((r, k) => same(r, kc.refs[kc.refStart[i]! + k]!, where));
    // Base subjects: -1 for an empty one, else equal numbers exactly for equal i;unicode-casemap keys.
    const k = subjectKey(sk.subject);
    expect(kc.replyOrForward[i], where).toBe(k.replyOrForward ? 1 : 0);
    const sn = kc.subject[i]!;
    if (k.key === '') expect(sn, where).toBe(-1);
    else {
      expect(sn, where).toBeGreaterThanOrEqual(0);
      if (!subjNum.has(k.key)) subjNum.set(k.key, sn);
      if (!subjStr.has(sn)) subjStr.set(sn, k.key);
      if (subjNum.get(k.key) !== sn || subjStr.get(sn) !== k.key) expect({ where, key: k.key, sn }).toBe('a bijection');
    }
  }
  return want;
}

/** A Mailbox with what SORT/THREAD's helpers call. */
function mailboxOf(file: FactsFile | null, src: FactsSource): Mailbox {
  return {
    factsAll: (uids: readonly number[], want: Parameters<Mailbox['factsAll']>[1]) => mailboxFactsAll(file, src, uids, want),
    keyColumns: (uids: readonly number[], want: Parameters<NonNullable<Mailbox['keyColumns']>>[1]) => mailboxKeyColumns(file, src, uids, want),
  } as unknown as Mailbox;
}

/** THREAD REFERENCES and SORT (DATE) on the columns answer as the per-message implementations. */
async function sameThreadAndSort(file: FactsFile | null, src: FactsSource, label: string): Promise<void> {
  const infos: readonly MessageInfo[] = src.state.messages;
  const hits = infos.map((info, index) => ({ info, index }));
  const cols = mailboxOf(file, src);
  const plainBox = { factsAll: cols.factsAll } as unknown as Mailbox; // no keyColumns: the per-message way
  for (const uid of [false, true]) {
    const got = formatThreads(await referencesTree(cols, hits, uid));
    const want = old.formatThreads(old.threadReferences(await threadInput(plainBox, hits, uid)));
    if (got !== want) expect({ label, uid, got }).toEqual({ label, uid, got: want });
    expect(formatThreads(await referencesTree(plainBox, hits, uid))).toBe(want);
  }
  const seqs = infos.map((_, i) => i + 1);
  const kc = await cols.keyColumns!(infos.map((m) => m.uid), {});
  const facts = await messageFacts(plainBox, infos);
  for (const reverse of [false, true]) {
    for (const criteria of [[{ key: 'DATE' as const, reverse }], [{ key: 'ARRIVAL' as const, reverse: !reverse }, { key: 'DATE' as const, reverse }]]) {
      expect(Array.from(sortOrder(infos, seqs, null, criteria, kc.sentDate)), label).toEqual(Array.from(sortOrder(infos, seqs, facts, criteria)));
    }
  }
}

describe('keyColumns', () => {
  const dirs: string[] = [];
  afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

  it('IdSpace: equal numbers exactly for equal bytes, also when every hash collides and after trim()', () => {
    for (const hash of [undefined, () => 7, (_b: Uint8Array, s: number, e: number) => e - s]) {
      const ids = new IdSpace(hash);
      const rnd = xorshift(99);
      const seen = new Map<string, number>();
      for (let i = 0; i < 3000; i++) {
        if (i % 1000 === 999) ids.trim(); // as an idle entry keeps it: numbers keep their meaning
        // Short strings over a small alphabet: many repeats, many of one length.
        const s = Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => 'aAb\u00e9'[Math.floor(rnd() * 4)]).join('');
        const n = ids.internString(s);
        if (seen.has(s)) expect(n).toBe(seen.get(s));
        else {
          expect(n).toBe(seen.size); // a new ID takes the next number
          seen.set(s, n);
        }
        const b = Buffer.from(`xx${s}yy`, 'utf8');
        expect(ids.intern(b, 2, b.length - 2)).toBe(n);
      }
      expect(ids.count).toBe(seen.size);
      // Lone surrogates are not faithful in UTF-8: each stays itself, apart from U+FFFD's bytes.
      const a = ids.internString('x\ud800@y');
      const b = ids.internString('x\udc00@y');
      const c = ids.internString('x\ufffd@y');
      expect(new Set([a, b, c]).size).toBe(3);
      expect(ids.internString('x\ud800@y')).toBe(a);
    }
  });

  it('answers as factsAll from the file, from the bytes, and from both (random mailboxes)', async () => {
    for (let seed = 1; seed <= 32; seed++) {
      const dir = tempDir();
      dirs.push(dir);
      // Identities of two numbers (mbox) compared as numbers or as strings, or of another form (maildir).
      const pairs = seed % 2 === 0;
      const msgs = randomMailbox(seed, 5 + (seed % 30), pairs);
      const uids = [...msgs.keys()];
      // Nothing cached: every message parsed, IDs numbered in a space of the call.
      await sameAsFacts(null, source(msgs, pairs), [...uids, 99999], `seed ${seed} bytes`);
      // Half the messages cached in the keys file, then the rest asked for with them.
      const w = new FactsFile({ dir, name: 'x.facts', writable: true });
      await mailboxKeyColumns(w, source(msgs, pairs), uids.filter((_, i) => i % 2 === 0), { threading: true });
      w.close();
      const mixed = new FactsFile({ dir, name: 'x.facts', writable: true });
      const s1 = source(msgs, pairs);
      await sameAsFacts(mixed, s1, uids, `seed ${seed} mixed`);
      await sameThreadAndSort(mixed, s1, `seed ${seed} mixed`);
      mixed.close();
      // All cached now: nothing parsed, by a fresh handle (tables kept in this process) ...
      const s2 = source(msgs, pairs);
      const warm = new FactsFile({ dir, name: 'x.facts', writable: false });
      await sameAsFacts(warm, s2, uids, `seed ${seed} file`);
      const loads = s2.loads;
      await mailboxKeyColumns(warm, s2, uids, { threading: true });
      expect(s2.loads).toBe(loads);
      await sameThreadAndSort(warm, s2, `seed ${seed} file`);
      warm.close();
      // ... then messages rewritten under their UIDs (other identity), one gone, one new: parsed again.
      const first = uids[0]!;
      msgs.set(first, { bytes: Buffer.from(crlf(`Message-ID: <id0@example.com>\nReferences: <ID1@Example.com> <id1@example.com>\n\nx\n`), 'latin1'), identity: `1.${first * 31 + 1}` });
      msgs.delete(uids[1]!);
      msgs.set(uids[uids.length - 1]! + 5, { bytes: Buffer.from(crlf(`Message-ID: <id1@example.com>\nIn-Reply-To: <id0@example.com>\n\nx\n`), 'latin1'), identity: '9.9' });
      const s3 = source(msgs, pairs);
      const later = new FactsFile({ dir, name: 'x.facts', writable: true });
      await sameAsFacts(later, s3, [...uids, uids[uids.length - 1]! + 5], `seed ${seed} changed`);
      await sameThreadAndSort(later, s3, `seed ${seed} changed`);
      later.close();
      // Read afresh (nothing kept in this process): the compacted file's columns and threads block, with
      // records appended since that replace rows of it (the rewritten message) or add rows.
      processCaches.dropIdle();
      const s4 = source(msgs, pairs);
      const fresh = new FactsFile({ dir, name: 'x.facts', writable: false });
      await mailboxKeyColumns(fresh, s4, [...msgs.keys()], { threading: true, subjects: true });
      expect(s4.loads).toBe(0);
      await sameThreadAndSort(fresh, s4, `seed ${seed} fresh`);
      await sameAsFacts(fresh, s4, [...uids, uids[uids.length - 1]! + 5], `seed ${seed} fresh`);
      fresh.close();
    }
  });
});
