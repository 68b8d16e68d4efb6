// MessageFacts.searchValues (store/facts.ts), the strings header SEARCH keys match against, are what the
// full evaluation from the message bytes gives — parse, RFC 2047-decode each field, fold; address fields
// also in normalised form — whether parsed now, read from the facts file, or kept in memory with the
// record (differential, over the MIME corpus and random headers with encoded words in many charsets,
// address comments, groups, folding). And the process-wide copy of a facts file (facts-file.ts) is
// checked on every use: a file rewritten in place is read afresh, and what the process keeps stays
// within its bounds.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMessage } from '../../src/mime/parser.js';
import { fieldValue, findFields } from '../../src/mime/header.js';
import { decodeHeaderValue } from '../../src/mime/decode.js';
import { ADDRESS_SEARCH_FIELDS, addressSearchText } from '../../src/mime/address.js';
import { foldText, headerValues } from '../../src/mime/search.js';
import { loadCharsets } from '../../src/mime/charset.js';
import { factsFromBytes, mailboxFacts } from '../../src/store/facts.js';
import { FactsFile, factsMemoryUse } from '../../src/store/facts-file.js';
import { processCaches } from '../../src/store/process-cache.js';
import { type FactsRequest, type MessageFacts } from '../../src/store/types.js';
import { tempDir } from '../maildir/fixture.js';
import { rng } from '../helpers/xorshift.js';
import { collect, memorySource, type Msgs } from './facts-source.js';

const memorySource9 = (msgs: Msgs) => memorySource(msgs, 9);

const NAMES = ['from', 'to', 'cc', 'bcc', 'reply-to', 'sender', 'subject', 'x-list'];

/** The full evaluation: what SEARCH matched before the store kept these strings. */
function reference(raw: Buffer, name: string): string[] {
  const root = parseMessage(raw);
  const out = headerValues(raw, root, name).map(foldText);
  if (ADDRESS_SEARCH_FIELDS.has(name)) {
    for (const f of findFields(root.fields, name)) out.push(foldText(addressSearchText(fieldValue(raw, f), decodeHeaderValue)));
  }
  return out;
}

const q = (s: string, cs = 'UTF-8') => `=?${cs}?Q?${[...Buffer.from(s, cs === 'UTF-8' ? 'utf8' : 'latin1')].map((b) => (b > 0x20 && b < 0x7f && b !== 0x3d && b !== 0x3f && b !== 0x5f ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('')}?=`;
const b = (s: string) => `=?utf-8?B?${Buffer.from(s, 'utf8').toString('base64')}?=`;

/** Random header pieces: the forms header SEARCH must see through. */
function randomMessage(r: () => number, n: number): Buffer {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const names = ['Ann Example', 'Jörg Müller', 'Zoë', 'ﬁnn Ligature', 'O\'Brien, Pat', 'Ŝtefan', 'Вера'];
  const name = (): string => {
    const x = pick(names);
    switch (Math.floor(r() * 6)) {
      case 0: return /^[\x20-\x7e]*$/.test(x) && !x.includes(',') ? x : q(x);
      case 1: return b(x);
      case 2: return `"${x.replace(/"/g, '')}"`;
      case 3: return /^[\x00-\xff]*$/.test(x) ? q(x, 'ISO-8859-1') : q(x);
      case 4: return `${q(x.slice(0, 3))} ${q(x.slice(3))}`;
      default: return `=?bogus?Q?${x.length}?=`;
    }
  };
  const addr = (): string => {
    const local = pick(['ann', 'j.mueller', 'user', 'Victor.Hugo', 'x+tag']);
    const dom = pick(['example.com', 'Example.ORG', 'b.c']);
    switch (Math.floor(r() * 7)) {
      case 0: return `${local}@${dom}`;
      case 1: return `${name()} <${local}@${dom}>`;
      case 2: return `<${local} (comment)@ (another) ${dom}>`;
      case 3: return `${local}@${dom} (${name()})`;
      case 4: return `${name()}\r\n\t<${local}@${dom}>`;
      case 5: return `${local}`;
      default: return `"quoted ${local}"@${dom}`;
    }
  };
  const list = (): string => {
    if (r() < 0.15) return `${pick(['friends', 'undisclosed-recipients'])}: ${r() < 0.5 ? '' : `${addr()}, ${addr()}`};`;
    return Array.from({ length: 1 + Math.floor(r() * 3) }, addr).join(r() < 0.3 ? ',\r\n ' : ', ');
  };
  const subject = (): string => {
    const words = ['Grüße', 'aus', 'Bern', 'ﬁle', 'ＦＵＬＬ', 'Victor', 'résumé', 'naïve', 'Ελλάδα'];
    const parts = Array.from({ length: 1 + Math.floor(r() * 5) }, () => {
      const w = pick(words);
      const k = Math.floor(r() * 4);
      return k === 0 && /^[\x20-\x7e]*$/.test(w) ? w : k === 1 ? b(w) : k === 2 && /^[\x00-\xff]*$/.test(w) ? q(w, 'ISO-8859-1') : q(w);
    });
    return parts.join(pick([' ', '  ', '\t', '\r\n  ']));
  };
  const lines: string[] = [];
  for (const f of ['From', 'To', 'Cc', 'Bcc', 'Reply-To', 'Sender']) if (r() < 0.8) lines.push(`${r() < 0.2 ? f.toUpperCase() : f}:${r() < 0.1 ? '' : ' '}${list()}`);
  if (r() < 0.2) lines.push('Cc:   ');
  if (r() < 0.2) lines.push(`To: ${list()}`);
  if (r() < 0.9) lines.push(`Subject: ${subject()}`);
  if (r() < 0.5) lines.push(`X-List: ${subject()}`, `x-list: ${subject()}`);
  lines.push(`Message-ID: <${n}@test>`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\nbody ${n}\r\n`, 'latin1');
}

describe('header SEARCH strings from the facts', () => {
  let dir = '';
  afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('equal the full evaluation from the bytes: parsed, from the file, and kept in memory', async () => {
    await loadCharsets();
    dir = tempDir();
    const msgs: Msgs = new Map();
    const r = rng(5322);
    for (let i = 0; i < 400; i++) msgs.set(msgs.size + 1, { bytes: randomMessage(r, i), identity: `r${i}` });
    const corpus = '/work/shared/corpus/messages';
    const files = existsSync(corpus) ? readdirSync(corpus).sort().filter((f) => statSync(join(corpus, f)).size < 60_000) : [];
    for (const f of files) msgs.set(msgs.size + 1, { bytes: Buffer.from(readFileSync(join(corpus, f), 'latin1').replace(/\r?\n/g, '\r\n'), 'latin1'), identity: f });
    const uids = [...msgs.keys()];
    const want: FactsRequest = { searchValues: NAMES.map((n) => (n.length % 2 ? n.toUpperCase() : n)) };
    const expected = uids.map((uid) => new Map(NAMES.map((n) => [n, reference(msgs.get(uid)!.bytes, n)])));
    // The property is not vacuous: encoded words, comments and groups occur and change the strings.
    const all = expected.flatMap((m) => [...m.values()].flat());
    expect(all.some((s) => s.includes(foldText('Jörg Müller')))).toBe(true);
    expect(all.some((s) => s.includes('<user@example.com>'))).toBe(true);
    expect(all.some((s) => s.includes('file'))).toBe(true); // the ligature folded (NFKD)
    expect(all.some((s) => s.includes('friends:'))).toBe(true);

    const check = (got: MessageFacts[]) => {
      expect(got.map((f) => f.uid)).toEqual(uids);
      for (let k = 0; k < uids.length; k++) expect(got[k]!.searchValues, `uid ${uids[k]}`).toEqual(expected[k]);
    };
    check(await collect(factsFromBytes(memorySource9(msgs), uids, want)));
    const f1 = new FactsFile({ dir, name: 'x.facts', writable: true });
    const s1 = memorySource9(msgs);
    check(await collect(mailboxFacts(f1, s1, uids, want)));
    expect(s1.loads).toBe(uids.length);
    f1.close();
    // A later handle: from the file, then (the same process) from what it kept; nothing loaded.
    for (let round = 0; round < 2; round++) {
      const s = memorySource9(msgs);
      const f = new FactsFile({ dir, name: 'x.facts', writable: false });
      check(await collect(mailboxFacts(f, s, uids, want)));
      f.close();
      expect(s.loads).toBe(0);
    }
    // A narrower request is answered from the same records.
    const s3 = memorySource9(msgs);
    const f3 = new FactsFile({ dir, name: 'x.facts', writable: false });
    const narrow = await collect(mailboxFacts(f3, s3, uids, { searchValues: ['From'] }));
    f3.close();
    expect(s3.loads).toBe(0);
    for (let k = 0; k < uids.length; k++) expect(narrow[k]!.searchValues).toEqual(new Map([['from', expected[k]!.get('from')]]));
  });
});

describe('the process-wide copy of a facts file', () => {
  let dir = '';
  afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  const many = (n: number, tag = '') => new Map(Array.from({ length: n }, (_, i) => [i + 1, {
    bytes: Buffer.from(`From: u${i}@example.com\r\nSubject: message ${i}${tag}\r\n\r\nbody\r\n`),
    identity: `id${i}`,
  }]));

  it('is checked on each use: a file rewritten in place (same size) is read afresh', async () => {
    dir = tempDir();
    const msgs = many(10);
    const uids = [...msgs.keys()];
    const f1 = new FactsFile({ dir, name: 'x.facts', writable: true });
    await collect(mailboxFacts(f1, memorySource9(msgs), uids, { envelope: true }));
    f1.close();
    const f2 = new FactsFile({ dir, name: 'x.facts', writable: false });
    const s2 = memorySource9(msgs);
    const kept = await collect(mailboxFacts(f2, s2, uids, { envelope: true }));
    f2.close();
    expect(s2.loads).toBe(0);
    // Same size, same inode, other bytes in UID 4's record (its checksum no longer holds).
    const path = join(dir, 'x.facts');
    const text = readFileSync(path, 'latin1');
    expect(text.includes('"message 3"')).toBe(true);
    writeFileSync(path, text.replace('"message 3"', '"messagE 3"'), 'latin1');
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    const s3 = memorySource9(msgs);
    const f3 = new FactsFile({ dir, name: 'x.facts', writable: false });
    const again = await collect(mailboxFacts(f3, s3, uids, { envelope: true }));
    f3.close();
    expect(again).toEqual(kept);
    expect(s3.loads).toBe(1);
  });

  it.each([
    // Version 1: no search strings.
    ['1', ['1', '"id0"', '"(\\"WRONG\\")"', '"(x)"', '"(x)"', 'null', 'null', '["from"]', '[]']],
    // Version 2: text, one JSON record a line (the format before the binary one), with wrong search strings.
    ['2', ['1', '"id0"', '"(\\"WRONG\\")"', '"(x)"', '"(x)"', 'null', 'null', '["from"]', '[["from","From: x\\r\\n",5]]', '[["wrong"]]']],
  ])('never believes a version %s file, and rewrites it', async (version, cols) => {
    dir = tempDir();
    const msgs = many(3);
    const uids = [...msgs.keys()];
    // A well-formed record of that version for UID 1 with a wrong envelope: it must not be served.
    const body = cols.join('\t');
    const crc = (await import('node:zlib')).crc32(Buffer.from(body)).toString(16).padStart(8, '0');
    const path = join(dir, 'x.facts');
    writeFileSync(path, `DMFACTS${version} V9\n${crc} ${body}\n`, { mode: 0o600 });
    const s = memorySource9(msgs);
    const f = new FactsFile({ dir, name: 'x.facts', writable: true });
    const got = await collect(mailboxFacts(f, s, uids, { envelope: true, searchValues: ['from'] }));
    f.close();
    expect(s.loads).toBe(3);
    expect(got).toEqual(await collect(factsFromBytes(memorySource9(msgs), uids, { envelope: true, searchValues: ['from'] })));
    expect(got[0]!.envelope).not.toContain('WRONG');
    expect(got[0]!.searchValues!.get('from')).not.toContain('wrong');
    const now = readFileSync(path);
    expect(now.subarray(0, 8).toString('latin1')).toBe('DMFACTS3');
    expect(now.readUInt32LE(8)).toBe(9);
    // The rewritten file answers the next handle, search strings included.
    const s2 = memorySource9(msgs);
    const g = new FactsFile({ dir, name: 'x.facts', writable: false });
    expect(await collect(mailboxFacts(g, s2, uids, { envelope: true, searchValues: ['from'] }))).toEqual(got);
    g.close();
    expect(s2.loads).toBe(0);
  });

  it('serves each record its own bytes from a file larger than the read window (one buffer read into again)', async () => {
    dir = tempDir();
    // ~2.5 MB of records (header fields and their search strings): lookups of records far apart read the window's buffer again.
    const msgs: Msgs = new Map(Array.from({ length: 400 }, (_, i) => [i + 1, {
      bytes: Buffer.from(`From: u${i}@example.com\r\nSubject: message ${i}\r\nX-Pad: ${String(i).repeat(3000 / String(i).length)}\r\n` +
        `X-${'\u00e9'}: =?utf-8?q?=C3=A9t=C3=A9_${i}?=\r\n\r\nbody\r\n`, 'latin1'),
      identity: `id${i}`,
    }]));
    const uids = [...msgs.keys()];
    const want: FactsRequest = { envelope: true, searchValues: ['subject', 'x-pad', 'x-\u00e9', 'to'] };
    const expected = await collect(factsFromBytes(memorySource9(msgs), uids, want));
    const f = new FactsFile({ dir, name: 'x.facts', writable: true });
    await collect(mailboxFacts(f, memorySource9(msgs), uids, want));
    f.close();
    expect(statSync(join(dir, 'x.facts')).size).toBeGreaterThan(2 * 1024 * 1024);
    const g = new FactsFile({ dir, name: 'x.facts', writable: false });
    // Records found first, their columns asked for later (other lookups between), in another order.
    const recs = uids.map((uid, i) => g.lookup(uid, `id${i}`, 9, i === 0)!);
    expect(recs.map((r, i) => (r ? -1 : i)).filter((i) => i >= 0)).toEqual([]);
    for (const i of [399, 0, 200, 1, 398, 100]) {
      expect(recs[i]!.envelope()).toBe(expected[i]!.envelope);
      expect(recs[i]!.covers(['subject', 'x-pad', 'x-\u00e9'])).toBe(true);
      expect(recs[i]!.covers(['subject', 'x-pa'])).toBe(false);
      for (const n of want.searchValues!) expect(recs[i]!.searchValues(n, () => ['(made)'])).toEqual(expected[i]!.searchValues!.get(n));
      expect(recs[i]!.searchValues('cc', () => ['(made)'])).toEqual(['(made)']); // a name the record has no strings of
    }
    const s = memorySource9(msgs);
    expect(await collect(mailboxFacts(g, s, uids, want))).toEqual(expected);
    expect(s.loads).toBe(0);
    g.close();
  });

  it('keeps what no handle has open only within the process budget, and no file open', async () => {
    dir = tempDir();
    const msgs = many(30);
    const uids = [...msgs.keys()];
    const budget = processCaches.budget;
    const round = async (k: number) => {
      const f = new FactsFile({ dir, name: `f${k}.facts`, writable: true });
      await collect(mailboxFacts(f, memorySource9(msgs), uids, { envelope: true, searchValues: ['from'] }));
      f.close();
      const g = new FactsFile({ dir, name: `f${k}.facts`, writable: false });
      const s = memorySource9(msgs);
      const chars = factsMemoryUse().chars;
      await collect(mailboxFacts(g, s, uids, { envelope: true, searchValues: ['from'] }));
      // Decoded once: nothing kept (a per-connection FETCH leaves no long-lived strings); the second
      // time (a resident worker's next session, a repeat) the hot columns are kept.
      expect(factsMemoryUse().chars).toBe(chars);
      await collect(mailboxFacts(g, s, uids, { envelope: true, searchValues: ['from'] }));
      expect(factsMemoryUse().chars).toBeGreaterThan(chars + 30 * 20);
      await collect(mailboxFacts(g, s, uids, { sortKeys: true, threading: true })); // from the keys file
      g.close();
      return s.loads;
    };
    const openHere = () => readdirSync('/proc/self/fd').filter((fd) => {
      try { return readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir); } catch { return false; }
    });
    try {
      processCaches.setBudget(64 * 1024 * 1024);
      processCaches.dropIdle();
      expect(await round(0)).toBe(0);
      // What one mailbox's entries (text and keys file) are said to keep: more than their records.
      const one = processCaches.stats();
      expect(one.caches['facts-file']).toMatchObject({ entries: 1, held: 0 });
      expect(one.caches['facts-keys']).toMatchObject({ entries: 1, held: 0 });
      expect(one.caches['facts-file']!.bytes).toBeGreaterThan(30 * 150 + 30 * 20);
      expect(one.caches['facts-keys']!.bytes).toBeGreaterThan(statSync(join(dir, 'f0.facts.sk')).size);
      expect(openHere()).toEqual([]); // idle: kept without their descriptors
      // A budget for about three mailboxes: twenty go through it, the least recently used are dropped.
      processCaches.setBudget(Math.floor(3.5 * one.idleBytes));
      for (let k = 1; k < 20; k++) await round(k);
      const use = processCaches.stats();
      expect(use.idleBytes).toBeLessThanOrEqual(processCaches.budget);
      expect(use.caches['facts-file']!.entries).toBeGreaterThanOrEqual(2);
      expect(use.caches['facts-file']!.entries).toBeLessThanOrEqual(4);
      expect(use.caches['facts-file']!.held).toBe(0);
      expect(factsMemoryUse()).toMatchObject({ held: 0, files: use.caches['facts-file']!.entries });
      expect(openHere()).toEqual([]);
      // The most recent is still known: a new handle reads nothing of it but what it checks.
      const h = new FactsFile({ dir, name: 'f19.facts', writable: false });
      const s = memorySource9(msgs);
      await collect(mailboxFacts(h, s, uids, { envelope: true }));
      expect(s.loads).toBe(0);
      expect(openHere().length).toBeGreaterThan(0); // held: its descriptors are open again
      h.close();
      expect(openHere()).toEqual([]);
      // Budget 0: nothing stays once the last handle let go.
      processCaches.setBudget(0);
      expect(factsMemoryUse()).toMatchObject({ files: 0, bytes: 0, chars: 0 });
    } finally {
      processCaches.setBudget(budget);
    }
  });
});
