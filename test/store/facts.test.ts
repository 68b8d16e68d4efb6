// Mailbox.facts() (store/facts.ts + store/facts-file.ts), both backends: the facts equal what parsing the
// message bytes gives (the MIME engine, checked against Dovecot elsewhere), sort and threading keys,
// header fields; the per-mailbox cache answers later sessions without reading messages, never answers
// with facts of other bytes, is dropped for another UIDVALIDITY, survives damage, is not written by
// read-only handles or into a directory owned by someone else, and stays bounded.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseMessage } from '../../src/mime/parser.js';
import { envelope } from '../../src/mime/envelope.js';
import { bodyStructure } from '../../src/mime/bodystructure.js';
import { getSection } from '../../src/mime/section.js';
import { type Mailbox, type MailStore, type MessageFacts, type FactsRequest } from '../../src/store/types.js';
import { factsFromBytes, mailboxFacts, mailboxFactsAll, messageIds, parseSentDate } from '../../src/store/facts.js';
import { FactsFile } from '../../src/store/facts-file.js';
import { tempUser } from './helpers.js';
import { buildWorker } from './worker-build.js';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { ROOT } from '../helpers/site.js';
import { storeAt, tempDir } from '../maildir/fixture.js';
import { chmodSync, chownSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { collect, factsRecords, memorySource } from './facts-source.js';

const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');

export const MESSAGES = [
  crlf(`From: "Ann Example" <ann@example.com>
To: bob@example.org, carol@example.org
Cc: =?UTF-8?Q?J=C3=B6rg?= <joerg@example.net>
Subject: =?ISO-8859-1?Q?Gr=FC=DFe?= aus Bern
Date: Tue, 3 Dec 2024 10:15:00 +0100
Message-ID: <m1@example.com>
X-Priority: 1

Hello there.
`),
  crlf(`From: bob@example.org
To: ann@example.com
Subject: Re: Gruesse aus Bern
Date: 4 Dec 24 09:00 EST
Message-ID: <m2 (comment) @example.org>
In-Reply-To: <m1@example.com>
References: <m0@example.com>
 <m1@example.com> (second)
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

body one
--b1
Content-Type: application/octet-stream; name="x.bin"
Content-Disposition: attachment; filename="x.bin"
Content-Transfer-Encoding: base64

AAECAw==
--b1--
`),
  crlf(`Subject: no addresses, no date
X-Priority: 3
X-Priority: 5

just text
`),
];

interface Fixture { store: MailStore; deliver(raw: string): Promise<void>; cleanup(): void }

async function mboxFixture(): Promise<Fixture> {
  const u = tempUser();
  return { store: u.store(), deliver: async (raw) => u.deliver(raw), cleanup: () => u.cleanup() };
}

async function maildirFixture(): Promise<Fixture> {
  const root = tempDir();
  const store = storeAt(root);
  return { store, deliver: async (raw) => { await store.append('INBOX', Buffer.from(raw)); }, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

async function all(box: Mailbox, uids: readonly number[], want: FactsRequest): Promise<MessageFacts[]> {
  const out: MessageFacts[] = [];
  for await (const f of box.facts(uids, want)) out.push(f);
  return out;
}

const FULL: FactsRequest = {
  envelope: true, body: true, bodyStructure: true, sortKeys: true, threading: true,
  headerFields: ['Subject', 'x-priority', 'From'], headerValues: ['subject', 'X-Priority', 'Bcc'],
};

describe('message ids and dates', () => {
  it('finds message ids in references, skipping comments and junk', () => {
    expect(messageIds('<a@b> (c <x@y>) <bad> <d (e) @f>\r\n <g@h>')).toEqual(['a@b', 'd@f', 'g@h']);
    expect(messageIds('"<q@r>" <"x y"@z>')).toEqual(['q@r', '"x y"@z']);
  });
  it('parses RFC 5322 dates with zones and obsolete forms', () => {
    expect(parseSentDate('Tue, 3 Dec 2024 10:15:00 +0100')).toBe(Date.UTC(2024, 11, 3, 9, 15));
    expect(parseSentDate('4 Dec 24 09:00 EST')).toBe(Date.UTC(2024, 11, 4, 14, 0));
    expect(parseSentDate('Mon, 1 Jan 99 00:00:00 GMT (comment)')).toBe(Date.UTC(1999, 0, 1));
    expect(parseSentDate('yesterday')).toBeNull();
  });
});

describe.each([['mbox', mboxFixture], ['maildir', maildirFixture]] as const)('%s: Mailbox.facts', (_kind, make) => {
  let fx: Fixture;
  afterEach(() => fx?.cleanup());

  it('answers what parsing the bytes gives', async () => {
    fx = await make();
    for (const m of MESSAGES) await fx.deliver(m);
    const box = await fx.store.open('INBOX');
    const uids = box.state.messages.map((m) => m.uid);
    const facts = await all(box, [...uids, uids[0]!], FULL);
    expect(facts.map((f) => f.uid)).toEqual([...uids, uids[0]]);
    for (const [i, uid] of uids.entries()) {
      const raw = await box.read(uid);
      const root = parseMessage(raw);
      const f = facts[i]!;
      expect(f.exists).toBe(true);
      expect(f.envelope).toBe(envelope(root, raw));
      expect(f.body).toBe(bodyStructure(root, raw, false));
      expect(f.bodyStructure).toBe(bodyStructure(root, raw, true));
      expect(f.headerFields!.equals(getSection(raw, root, { path: [], kind: 'HEADER.FIELDS', fields: ['Subject', 'x-priority', 'From'] })!)).toBe(true);
    }
    const [a, b, c] = facts;
    expect(a!.sortKeys).toEqual({
      dateHeader: 'Tue, 3 Dec 2024 10:15:00 +0100', sentDate: Date.UTC(2024, 11, 3, 9, 15), sentDay: Date.UTC(2024, 11, 3),
      subject: 'Grüße aus Bern', from: { name: 'Ann Example', mailbox: 'ann', domain: 'example.com' },
      to: { name: null, mailbox: 'bob', domain: 'example.org' }, cc: { name: 'Jörg', mailbox: 'joerg', domain: 'example.net' },
    });
    expect(a!.threading).toEqual({ messageId: 'm1@example.com', inReplyTo: [], references: [] });
    expect(b!.threading).toEqual({ messageId: 'm2@example.org', inReplyTo: ['m1@example.com'], references: ['m0@example.com', 'm1@example.com'] });
    expect(c!.sortKeys).toMatchObject({ dateHeader: null, sentDate: null, sentDay: null, from: null, to: null, cc: null });
    expect([...a!.headerValues!]).toEqual([['subject', ['Grüße aus Bern']], ['x-priority', ['1']], ['bcc', []]]);
    expect(c!.headerValues!.get('x-priority')).toEqual(['3', '5']);
    await box.close();
  });

  it('says a message is gone instead of failing', async () => {
    fx = await make();
    for (const m of MESSAGES) await fx.deliver(m);
    const box = await fx.store.open('INBOX');
    const uid = box.state.messages[0]!.uid;
    await box.expunge([uid]);
    box.acknowledge(box.state);
    const facts = await all(box, [uid, box.state.messages[0]!.uid, 999], { envelope: true });
    expect(facts.map((f) => f.exists)).toEqual([false, true, false]);
    expect(facts[0]!.envelope).toBeUndefined();
    await box.close();
  });
});

// ---- the cache ----

describe('facts cache file', () => {
  let dir = '';
  afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  const many = (n: number) => new Map(Array.from({ length: n }, (_, i) => [i + 1, {
    bytes: Buffer.from(crlf(`From: u${i}@example.com\nSubject: message ${i}\nX-Big: ${'x'.repeat(i % 7 * 50)}\nMessage-ID: <${i}@x>\n\nbody ${i}\n`)),
    identity: `id${i}`,
  }]));

  it('answers a later handle without loading a message, and the same as the bytes', async () => {
    dir = tempDir();
    const msgs = many(50);
    const want: FactsRequest = { envelope: true, bodyStructure: true, threading: true, headerFields: ['subject'], headerValues: ['from'] };
    const a = memorySource(msgs);
    const f1 = new FactsFile({ dir, name: 'x.facts', writable: true });
    const first = await collect(mailboxFacts(f1, a, [...msgs.keys()], want));
    f1.close();
    expect(a.loads).toBe(50);
    const b = memorySource(msgs);
    const f2 = new FactsFile({ dir, name: 'x.facts', writable: true });
    const second = await collect(mailboxFacts(f2, b, [...msgs.keys()], want));
    expect(b.loads).toBe(0);
    expect(second).toEqual(first);
    expect(second).toEqual(await collect(factsFromBytes(memorySource(msgs), [...msgs.keys()], want)));
    // A header name not asked for before: parsed once more, then kept with the others.
    const third = await collect(mailboxFacts(f2, b, [1, 2], { headerFields: ['X-Big', 'Subject'] }));
    expect(b.loads).toBe(2);
    f2.close();
    const c = memorySource(msgs);
    const f3 = new FactsFile({ dir, name: 'x.facts', writable: true });
    expect(await collect(mailboxFacts(f3, c, [1, 2], { headerFields: ['X-Big', 'Subject'], headerValues: ['from'] }))).toEqual(
      third.map((f, i) => ({ ...f, headerValues: second[i]!.headerValues })));
    expect(c.loads).toBe(0);
    f3.close();
  });

  it('answers byte for byte the same from the cache as from the bytes (MIME corpus)', async () => {
    dir = tempDir();
    const corpus = '/work/shared/corpus/messages';
    // Giant ones (records above MAX_RECORD are not cached) left out: a few seconds for the rest.
    const files = existsSync(corpus) ? readdirSync(corpus).sort().filter((f) => statSync(join(corpus, f)).size < 60_000) : [];
    const msgs = new Map(files.map((f, i) => [i + 1, { bytes: Buffer.from(readFileSync(join(corpus, f), 'latin1').replace(/\r?\n/g, '\r\n'), 'latin1'), identity: f }]));
    msgs.set(msgs.size + 1, { bytes: Buffer.from('Subject: \x00\xff\t\u00e9 "q" \\\r\nFrom: =?utf-8?q?=E2=82=AC?= <a@b>\r\n\r\n', 'latin1'), identity: 'odd chars' });
    const want: FactsRequest = { envelope: true, body: true, bodyStructure: true, sortKeys: true, threading: true, headerFields: ['subject', 'from', 'content-type'], headerValues: ['subject', 'to'] };
    const fresh = await collect(factsFromBytes(memorySource(msgs), [...msgs.keys()], want));
    const f1 = new FactsFile({ dir, name: 'x.facts', writable: true });
    await collect(mailboxFacts(f1, memorySource(msgs), [...msgs.keys()], want));
    f1.close();
    const s = memorySource(msgs);
    const cached = await collect(mailboxFacts(new FactsFile({ dir, name: 'x.facts', writable: false }), s, [...msgs.keys()], want));
    expect(s.loads).toBe(0);
    expect(cached).toEqual(fresh);
  });

  it('never answers with facts of other bytes, another UIDVALIDITY or a damaged record', async () => {
    dir = tempDir();
    const msgs = many(20);
    const f1 = new FactsFile({ dir, name: 'x.facts', writable: true });
    await collect(mailboxFacts(f1, memorySource(msgs), [...msgs.keys()], { envelope: true }));
    f1.close();
    // Message 3 rewritten under its UID: another identity.
    msgs.set(3, { bytes: Buffer.from('Subject: rewritten\r\n\r\nnew\r\n'), identity: 'other' });
    // Flip bytes inside the record of UID 5 (its envelope) and cut the file's last record in half.
    const path = join(dir, 'x.facts');
    let text = readFileSync(path, 'latin1');
    text = text.replace('"message 4"', '"messagE 4"');
    const { records } = factsRecords(Buffer.from(text, 'latin1'));
    const last = records[records.length - 1]!;
    expect(last.uid).toBe(20);
    writeFileSync(path, text.slice(0, last.off + Math.floor(last.len / 2)), 'latin1');
    const s = memorySource(msgs);
    const got = await collect(mailboxFacts(new FactsFile({ dir, name: 'x.facts', writable: false }), s, [...msgs.keys()], { envelope: true }));
    expect(got).toEqual(await collect(factsFromBytes(memorySource(msgs), [...msgs.keys()], { envelope: true })));
    expect(got[2]!.envelope).toContain('"rewritten"');
    expect(s.loads).toBe(3); // 3 (identity), 5 (checksum), 20 (torn)
    // Another UIDVALIDITY: nothing is believed, and the file is started afresh for it.
    const v = memorySource(msgs, 8);
    const f2 = new FactsFile({ dir, name: 'x.facts', writable: true });
    await collect(mailboxFacts(f2, v, [1, 2], { envelope: true }));
    expect(v.loads).toBe(2);
    f2.close();
    const now = readFileSync(path);
    expect(factsRecords(now).records.map((r) => r.uid)).toEqual([1, 2]);
    expect(factsRecords(now).end).toBe(now.length);
    expect(now.subarray(0, 8).toString('latin1')).toBe('DMFACTS3');
    expect(now.readUInt32LE(8)).toBe(8);
  });

  it('skips a damaged column, garbage between records and a lying length, and serves every other record', async () => {
    dir = tempDir();
    const msgs = many(20);
    const uids = [...msgs.keys()];
    const want: FactsRequest = { envelope: true, searchValues: ['from', 'subject'], headerFields: ['subject'] };
    const truth = await collect(factsFromBytes(memorySource(msgs), uids, want));
    const f1 = new FactsFile({ dir, name: 'x.facts', writable: true });
    await collect(mailboxFacts(f1, memorySource(msgs), uids, want));
    f1.close();
    const path = join(dir, 'x.facts');
    const file = readFileSync(path);
    const { records, end } = factsRecords(file);
    expect(records.map((r) => r.uid)).toEqual(uids);
    expect(end).toBe(file.length);
    const at = (uid: number) => records.find((r) => r.uid === uid)!;
    // UID 3: one byte of its search strings (the last column) changed; 'message 2' folded is in it.
    const r3 = file.subarray(at(3).off, at(3).off + at(3).len);
    const k = r3.lastIndexOf(Buffer.from('message 2'));
    expect(k).toBeGreaterThan(0);
    r3[k + 1] ^= 0x20;
    // UID 12: a length that runs into the next record (its CRC cannot hold; 13 is found again).
    file.writeUInt32LE(file.readUInt32LE(at(12).off + 4) + 40, at(12).off + 4);
    // Between 7 and 8: garbage with a MAGIC and a length past the end of the file, and one that fits.
    const magic = file.subarray(at(1).off, at(1).off + 4);
    const junk = Buffer.concat([Buffer.from('junk'), magic, Buffer.from([0xff, 0xff, 0, 0]), Buffer.from('more junk'), magic, Buffer.from([100, 0, 0, 0]), Buffer.alloc(30, 0x41)]);
    writeFileSync(path, Buffer.concat([file.subarray(0, at(8).off), junk, file.subarray(at(8).off)]));
    const s = memorySource(msgs);
    const f2 = new FactsFile({ dir, name: 'x.facts', writable: false });
    const got = await collect(mailboxFacts(f2, s, uids, want));
    f2.close();
    expect(got).toEqual(truth);
    expect(s.loads).toBe(2); // 3 (its column) and 12 (its length): the rest from the file
    // The same through factsAll (the synchronous pass).
    const s2 = memorySource(msgs);
    const f3 = new FactsFile({ dir, name: 'x.facts', writable: false });
    expect(await mailboxFactsAll(f3, s2, uids, want)).toEqual(truth);
    f3.close();
    expect(s2.loads).toBe(2);
  });

  it('stays right when two handles write and compact the same file at once', async () => {
    dir = tempDir();
    const msgs = many(120);
    const uids = [...msgs.keys()];
    const want: FactsRequest = { envelope: true, headerFields: ['subject'] };
    const a = new FactsFile({ dir, name: 'x.facts', writable: true });
    const b = new FactsFile({ dir, name: 'x.facts', writable: true, maxBytes: 30_000 });
    // Interleaved: a takes the odd UIDs, b the even ones and, past its small cap, compacts under a.
    const ia = mailboxFacts(a, memorySource(msgs), uids.filter((u) => u % 2), want)[Symbol.asyncIterator]();
    const ib = mailboxFacts(b, memorySource(msgs), uids.filter((u) => u % 2 === 0), want)[Symbol.asyncIterator]();
    for (let k = 0; k < 60; k++) {
      await ia.next();
      await ib.next();
      if (k % 7 === 0) { a.flush(); b.flush(); }
    }
    a.close();
    b.close();
    const s = memorySource(msgs);
    const got = await collect(mailboxFacts(new FactsFile({ dir, name: 'x.facts', writable: false }), s, uids, want));
    expect(got).toEqual(await collect(factsFromBytes(memorySource(msgs), uids, want)));
    expect(s.loads).toBeLessThan(uids.length); // some of it survived the races
  });

  it('is not written by a read-only handle, nor trusted when someone else owns it', async () => {
    dir = tempDir();
    const msgs = many(5);
    const ro = new FactsFile({ dir, name: 'x.facts', writable: false });
    await collect(mailboxFacts(ro, memorySource(msgs), [...msgs.keys()], { envelope: true }));
    ro.close();
    expect(existsSync(join(dir, 'x.facts'))).toBe(false);
    const rw = new FactsFile({ dir, name: 'x.facts', writable: true });
    await collect(mailboxFacts(rw, memorySource(msgs), [...msgs.keys()], { envelope: true }));
    rw.close();
    expect(existsSync(join(dir, 'x.facts'))).toBe(true);
    if (process.getuid?.() === 0) {
      // Planted by another user (here: the file given away): never read, never appended to.
      chownSync(join(dir, 'x.facts'), 4242, 4242);
      const s = memorySource(msgs);
      const f = new FactsFile({ dir, name: 'x.facts', writable: true });
      await collect(mailboxFacts(f, s, [...msgs.keys()], { envelope: true }));
      f.close();
      expect(s.loads).toBe(5);
      expect(statSync(join(dir, 'x.facts')).uid).toBe(4242);
    }
    // Group-writable: not trusted either.
    rmSync(join(dir, 'x.facts'));
    const w = new FactsFile({ dir, name: 'x.facts', writable: true });
    await collect(mailboxFacts(w, memorySource(msgs), [...msgs.keys()], { envelope: true }));
    w.close();
    chmodSync(join(dir, 'x.facts'), 0o666);
    const s2 = memorySource(msgs);
    await collect(mailboxFacts(new FactsFile({ dir, name: 'x.facts', writable: false }), s2, [...msgs.keys()], { envelope: true }));
    expect(s2.loads).toBe(5);
  });

  it('stays under its cap, and compaction drops expunged messages and replaced records', async () => {
    dir = tempDir();
    const msgs = many(200);
    const path = join(dir, 'x.facts');
    const f = new FactsFile({ dir, name: 'x.facts', writable: true, maxBytes: 40_000 });
    await collect(mailboxFacts(f, memorySource(msgs), [...msgs.keys()], { envelope: true }));
    f.close();
    expect(statSync(path).size).toBeLessThanOrEqual(40_000);
    // Unbounded cap: every message; then half of them expunged and the rest re-parsed twice over.
    rmSync(path);
    const g = new FactsFile({ dir, name: 'x.facts', writable: true });
    await collect(mailboxFacts(g, memorySource(msgs), [...msgs.keys()], { envelope: true }));
    g.close();
    const full = statSync(path).size;
    for (let uid = 1; uid <= 100; uid++) msgs.delete(uid);
    for (const round of [1, 2, 3, 4, 5, 6]) {
      for (const [uid, m] of msgs) msgs.set(uid, { ...m, identity: `r${round}-${uid}` });
      const h = new FactsFile({ dir, name: 'x.facts', writable: true, maxBytes: 10 * full });
      await collect(mailboxFacts(h, memorySource(msgs), [...msgs.keys()], { envelope: true }));
      h.close();
    }
    const uids = factsRecords(readFileSync(path)).records.map((r) => r.uid);
    expect(uids.length).toBeGreaterThanOrEqual(100);
    expect(uids.every((u) => u > 100)).toBe(true);
    expect(statSync(path).size).toBeLessThan(2.5 * full);
  });
});

describe.each(['mbox', 'maildir'] as const)('%s: facts cache in the index directory', (kind) => {
  let cleanup = () => {};
  afterEach(() => cleanup());
  let workDir = '';
  let worker = '';
  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'store-facts-'));
    worker = await buildWorker('facts-worker', workDir);
  });
  afterAll(() => rmSync(workDir, { recursive: true, force: true }));
  const run = (where: string, k: string, part: string, env: Record<string, string>) => new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [worker, k, where, part], {
      env: { PATH: process.env.PATH ?? '', NODE_PATH: join(ROOT, 'node_modules'), ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });

  async function setup(n: number): Promise<{ where: string; store: () => MailStore; cache: () => string }> {
    if (kind === 'mbox') {
      const u = tempUser();
      cleanup = () => u.cleanup();
      for (let i = 0; i < n; i++) u.deliver(MESSAGES[i % 3]!.replace('Hello there.', `Hello ${i}.`));
      return { where: u.spool, store: () => u.store(), cache: () => join(u.paths.indexDir, 'INBOX.facts') };
    }
    const root = tempDir();
    cleanup = () => rmSync(root, { recursive: true, force: true });
    const store = storeAt(root);
    for (let i = 0; i < n; i++) await store.append('INBOX', Buffer.from(MESSAGES[i % 3]!.replace('Hello there.', `Hello ${i}.`)));
    return { where: root, store: () => storeAt(root), cache: () => join(root, 'dmail-facts') };
  }

  it('is written by the session that parsed (never by EXAMINE), and survives kill -9 mid-create and mid-append', async () => {
    const fx = await setup(40);
    const box = await fx.store().open('INBOX', { readOnly: true });
    const uids = box.state.messages.map((m) => m.uid);
    const want: FactsRequest = { envelope: true, headerFields: ['Subject'] };
    const truth = await all(box, uids, want);
    await box.close();
    expect(existsSync(fx.cache())).toBe(false); // EXAMINE writes nothing
    // Killed while creating the file (compaction path): nothing half-made takes its place.
    expect((await run(fx.where, kind, 'half', { DMAIL_STORE_KILLPOINT: 'facts-compact-before' })).signal).toBe('SIGKILL');
    expect(existsSync(fx.cache())).toBe(false);
    expect((await run(fx.where, kind, 'half', {})).code).toBe(0);
    const before = readFileSync(fx.cache());
    // Killed while appending the second half: half a batch on disk.
    const killed = await run(fx.where, kind, 'all', { DMAIL_STORE_KILLPOINT: 'facts-append-torn' });
    expect(killed.signal).toBe('SIGKILL');
    const after = readFileSync(fx.cache());
    expect(after.length).toBeGreaterThan(before.length);
    expect(factsRecords(after).end).toBeLessThan(after.length); // a torn record ends it
    const again = await fx.store().open('INBOX');
    expect(await all(again, uids, want)).toEqual(truth);
    await again.close();
    // The torn record is never appended after (its length would swallow what follows): the writer that
    // found it compacted the file instead; whole again, every message in it, and used.
    const healed = readFileSync(fx.cache());
    expect(factsRecords(healed).end).toBe(healed.length);
    expect(new Set(factsRecords(healed).records.map((r) => r.uid)).size).toBe(uids.length);
    expect((await run(fx.where, kind, 'all', {})).code).toBe(0);
    const third = await fx.store().open('INBOX');
    expect(await all(third, uids, want)).toEqual(truth);
    await third.close();
  });

  it('follows its folder through RENAME and goes with DELETE', async () => {
    const fx = await setup(0);
    const store = fx.store();
    await store.create('Old');
    for (const m of MESSAGES) await store.append('Old', Buffer.from(m));
    const box = await store.open('Old');
    const truth = await all(box, box.state.messages.map((m) => m.uid), { envelope: true });
    await box.close();
    const cacheOf = (name: string) => kind === 'mbox' ? fx.cache().replace('INBOX.facts', `F.${name}.facts`) : join(fx.where, `.${name}`, 'dmail-facts');
    expect(existsSync(cacheOf('Old'))).toBe(true);
    expect(existsSync(cacheOf('Old') + '.sk')).toBe(true); // the keys family (facts-keys.ts)
    await store.rename('Old', 'New');
    expect(existsSync(cacheOf('New'))).toBe(true);
    expect(existsSync(cacheOf('New') + '.sk')).toBe(true);
    expect(existsSync(cacheOf('Old') + '.sk')).toBe(false);
    const moved = await store.open('New');
    expect(await all(moved, moved.state.messages.map((m) => m.uid), { envelope: true })).toEqual(truth);
    await moved.close();
    await store.delete('New');
    expect(existsSync(cacheOf('New'))).toBe(false);
    expect(existsSync(cacheOf('New') + '.sk')).toBe(false);
  });
});
