// Sessions that meet on one maildir (issue 11): every change has a mod-sequence from dmail-modlog, and
// an expunge hides the message at once while its file stays for every session (in any process) that
// may still reference it — until that session acknowledges a state without it, closes, or dies. The
// sessions here are separate processes (fixtures/session-worker.ts), mail comes from real procmail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseUidList } from '../../src/store/maildir/uidlist.js';
import { readIndex, writeIndex } from '../../src/store/maildir/facts-cache.js';
import { openChangeLog, CHANGE_EXPUNGE } from '../../src/store/changelog.js';
import { storeAt, tempDir } from './fixture.js';
import { buildMaildirWorker, startSession, type RemoteSession, type View } from './worker.js';

let work: string;
let worker: string;
const sessions: RemoteSession[] = [];

beforeAll(async () => {
  work = tempDir('dmail-maildir-deferred-');
  worker = await buildMaildirWorker('session-worker', work);
});
afterAll(async () => {
  for (const s of sessions) await s.kill();
  rmSync(work, { recursive: true, force: true });
});

let n = 0;
const msg = (i: number) => `From: s${i}@example.com\nSubject: deferred ${i}\nMessage-ID: <d${i}@x>\n\nbody ${i}\n`;
const crlf = (s: string) => s.replace(/\n/g, '\r\n');

/** A fresh maildir with `count` messages delivered by real procmail, message i getting UID i when first
 *  numbered. (Files are numbered in the order of their names: procmail's are `<time>.<pid>_<n>.<host>`,
 *  and with pid_max 32768 a busy machine's PIDs wrap within one second now and then, so a later delivery
 *  can sort first. Each file's time token is made its delivery's place in turn.) */
function maildir(count: number): string {
  const root = join(work, `m${++n}`);
  const rc = join(work, `procmailrc${n}`);
  writeFileSync(rc, `:0\n${root}/\n`);
  for (let i = 1; i <= count; i++) {
    const before = new Set(files(root));
    execFileSync('procmail', ['-m', rc], { input: msg(i) });
    const made = files(root).filter((f) => !before.has(f));
    expect(made).toHaveLength(1);
    const [sub, name] = made[0]!.split('/') as [string, string];
    renameSync(join(root, sub, name), join(root, sub, name.replace(/^\d+/, String(1_700_000_000 + i))));
  }
  return root;
}

async function session(root: string, env: Record<string, string> = {}): Promise<RemoteSession> {
  const s = await startSession(worker, root, env);
  sessions.push(s);
  return s;
}

/** Message files on disk (new/ and cur/), whoever can see them. */
const files = (root: string) => ['new', 'cur'].flatMap((d) => { try { return readdirSync(join(root, d)).map((f) => `${d}/${f}`); } catch { return []; } });
const uidlist = (root: string) => parseUidList(readFileSync(join(root, 'dovecot-uidlist'), 'latin1'))!;
/** The file of a UID (by its uidlist base), or undefined once it is gone. */
function fileOf(root: string, uid: number): string | undefined {
  const rec = uidlist(root).records.find((r) => r.uid === uid);
  if (!rec) return undefined;
  return files(root).find((f) => f.split('/')[1]!.split(':')[0] === rec.base);
}

describe('maildir deferred removal between processes', () => {
  it('A expunges; B still reads the original bytes until it acknowledges; then the file is purged', async () => {
    const root = maildir(3);
    const a = await session(root);
    const b = await session(root);
    const sa = await a.call<View>('open', { claimRecent: true });
    const sb = await b.call<View>('open');
    expect(sb.messages.map((m) => m.uid)).toEqual([1, 2, 3]);
    // Every message has a mod-sequence, no higher than HIGHESTMODSEQ, the same in both sessions.
    for (const m of sa.messages) expect(m.modseq).toBeGreaterThanOrEqual(1);
    for (const m of sa.messages) expect(m.modseq).toBeLessThanOrEqual(sa.highestModseq);

    const original = (await b.call<{ body: string }>('read', { uid: 2 })).body;
    expect(original).toBe(crlf(msg(2)));
    const ex = await a.call<{ uids: number[] }>('expunge', { uids: [2] });
    expect(ex.uids).toEqual([2]);
    const after = await a.call<View>('state');
    expect(after.messages.map((m) => m.uid)).toEqual([1, 3]);
    expect(after.highestModseq).toBeGreaterThan(sa.highestModseq);
    await a.call('ack');
    await a.call('refresh');
    // B has not acknowledged: the file stays, marked \Deleted for programs reading the maildir.
    expect(fileOf(root, 2)).toMatch(/:2,[A-Za-z]*T/);
    // Others (STATUS, quota) already count only what users see.
    const store = storeAt(root);
    expect((await store.status('INBOX')).messages).toBe(2);
    expect(await store.usage()).toBe(readFileSync(join(root, fileOf(root, 1)!)).length + readFileSync(join(root, fileOf(root, 3)!)).length);

    expect((await b.call<{ body: string }>('read', { uid: 2 })).body).toBe(original);
    const bAfter = await b.call<View>('refresh');
    expect(bAfter.messages.map((m) => m.uid)).toEqual([1, 3]);
    expect(bAfter.highestModseq).toBe(after.highestModseq);
    expect((await b.call<{ body: string }>('read', { uid: 2 })).body).toBe(original);
    expect((await b.call<{ uids: number[] }>('expungedSince', { since: sa.highestModseq })).uids).toEqual([2]);
    // A STORE on it now is a silent no-op, and B's own EXPUNGE does not report it again.
    const st = await b.call<View>('setFlags', { uids: [2], mode: 'add', flags: ['\\Seen'] });
    expect(st.error).toBeUndefined();
    expect(await b.call('expunge', { uids: [2] })).toMatchObject({ uids: [] });

    await b.call('ack');
    expect((await b.call('read', { uid: 2 })).error).toBe('NONEXISTENT');
    await b.call('refresh'); // the acknowledgement let it go: purged now
    expect(fileOf(root, 2)).toBeUndefined();
    expect(uidlist(root).records.map((r) => r.uid)).toEqual([1, 3]);
    expect(files(root)).toHaveLength(2);
    await a.call('close');
    await b.call('close');
  });

  it('a POP3-like handle (never acknowledges) keeps the bytes until it closes; the last one out purges', async () => {
    const root = maildir(3);
    const pop = await session(root);
    const imap = await session(root);
    await pop.call('open');
    await imap.call('open');
    await imap.call('setFlags', { uids: [1, 3], mode: 'add', flags: ['\\Deleted'] });
    expect(await imap.call('expunge')).toMatchObject({ uids: [1, 3] });
    await imap.call('ack');
    await imap.call('refresh');
    await imap.call('close');
    expect(fileOf(root, 1)).toBeDefined();
    expect(fileOf(root, 3)).toBeDefined();
    // POP3 works on its listing: RETR of every message of it, and its DELE of an expunged one is harmless.
    expect((await pop.call<{ body: string }>('read', { uid: 1 })).body).toBe(crlf(msg(1)));
    expect((await pop.call<{ body: string }>('read', { uid: 3 })).body).toBe(crlf(msg(3)));
    expect(await pop.call('expunge', { uids: [1, 2] })).toMatchObject({ uids: [2] });
    expect(files(root)).toHaveLength(3);
    await pop.call('close');
    expect(files(root)).toEqual([]);
    expect(uidlist(root).records).toEqual([]);
    const log = openChangeLog(join(root, 'dmail-modlog'), uidlist(root).uidValidity);
    expect(log.pendingExpunges()).toEqual([]);
  });

  it('a handle killed with -9 does not keep expunged files forever', async () => {
    const root = maildir(2);
    const dead = await session(root);
    await dead.call('open');
    await dead.kill();
    const a = await session(root);
    await a.call('open');
    await a.call('expunge', { uids: [1] });
    await a.call('ack');
    await a.call('refresh');
    expect(fileOf(root, 1)).toBeUndefined();
    expect(readdirSync(join(root, 'dmail-views'))).toHaveLength(1); // the dead one's slot is gone too
    await a.call('close');
    expect(readdirSync(join(root, 'dmail-views'))).toEqual([]);
  });

  it('STORE with UNCHANGEDSINCE sees other processes\' changes; every change raises HIGHESTMODSEQ', async () => {
    const root = maildir(3);
    const a = await session(root);
    const b = await session(root);
    const s0 = await a.call<View>('open');
    await b.call('open');
    const m2 = s0.messages.find((m) => m.uid === 2)!.modseq;
    const sb = await b.call<View>('setFlags', { uids: [2], mode: 'add', flags: ['\\Flagged'] });
    const m2b = sb.messages.find((m) => m.uid === 2)!.modseq;
    expect(m2b).toBeGreaterThan(m2);
    expect(sb.highestModseq).toBe(m2b);
    // A still thinks uid 2 is at m2: its conditional STORE must not overwrite B's change.
    const r = await a.call<View & { modified: number[] }>('setFlags', { uids: [1, 2], mode: 'add', flags: ['\\Seen'], unchangedSince: m2 });
    expect(r.modified).toEqual([2]);
    const one = r.messages.find((m) => m.uid === 1)!;
    expect(one.flags).toContain('\\Seen');
    expect(one.modseq).toBeGreaterThan(m2b);
    expect(r.highestModseq).toBe(one.modseq);
    // The write brought A up to date with B's change as well.
    expect(r.messages.find((m) => m.uid === 2)).toMatchObject({ modseq: m2b, flags: ['\\Flagged'] });
    // A flag change that changes nothing keeps the mod-sequence.
    const same = await a.call<View>('setFlags', { uids: [1], mode: 'add', flags: ['\\Seen'] });
    expect(same.messages.find((m) => m.uid === 1)!.modseq).toBe(one.modseq);
    // A new session (from dmail-index + the log) agrees on every mod-sequence.
    await a.call('close');
    const c = await session(root);
    const sc = await c.call<View>('open');
    const sb2 = await b.call<View>('refresh');
    expect(sc.messages).toEqual(sb2.messages);
    expect(sc.highestModseq).toBe(sb2.highestModseq);
    await b.call('close');
    await c.call('close');
  });

  it('changes made by hand (mutt, Dovecot) are given mod-sequences and expunges by the first session that sees them', async () => {
    const root = maildir(3);
    const a = await session(root);
    const s0 = await a.call<View>('open', { claimRecent: true });
    // Flag rename and unlink without any lock or log record, as another program would.
    const f1 = fileOf(root, 1)!;
    execFileSync('mv', [join(root, f1), join(root, 'cur', `${f1.split('/')[1]!.split(':')[0]}:2,S`)]);
    rmSync(join(root, fileOf(root, 3)!));
    const s1 = await a.call<View>('refresh');
    expect(s1.messages.map((m) => m.uid)).toEqual([1, 2]);
    const one = s1.messages.find((m) => m.uid === 1)!;
    expect(one.flags).toEqual(['\\Seen']);
    expect(one.modseq).toBeGreaterThan(s0.highestModseq);
    expect(s1.highestModseq).toBeGreaterThanOrEqual(one.modseq);
    expect((await a.call<{ uids: number[] }>('expungedSince', { since: s0.highestModseq })).uids).toEqual([3]);
    await a.call('close');
  });

  it('a foreign program renaming flags in a big cur/ while a session refreshes: nothing lost, doubled or renumbered', async () => {
    const root = join(work, `m${++n}`);
    for (const d of ['tmp', 'new', 'cur']) mkdirSync(join(root, d), { recursive: true });
    for (let i = 1; i <= 1500; i++) writeFileSync(join(root, 'cur', `${1700000000 + i}.M${i}P9.host:2,S`), `Subject: r${i}\n\nx\n`);
    const store = storeAt(root);
    const box = await store.open('INBOX');
    const want = box.state.messages.map((m) => m.uid);
    // Like mutt or Dovecot: flag renames without our lock, as fast as it can, on a few messages.
    const script = `
      const fs = require('fs'); const dir = process.argv[1] + '/cur';
      const names = fs.readdirSync(dir).filter((_, i) => i % 100 === 0);
      for (let k = 0; k < 4000; k++) {
        const i = k % names.length; const cur = names[i];
        const next = cur.endsWith(':2,S') ? cur.replace(/:2,S$/, ':2,FS') : cur.replace(/:2,FS$/, ':2,S');
        fs.renameSync(dir + '/' + cur, dir + '/' + next); names[i] = next;
      }`;
    const renamer = new Promise<number | null>((resolve) => {
      const c = execFile(process.execPath, ['-e', script, root]);
      c.on('exit', (code) => resolve(code));
    });
    let done = false;
    void renamer.then(() => { done = true; });
    let rounds = 0;
    while (!done || rounds < 3) {
      const st = await box.refresh();
      expect(st.messages.map((m) => m.uid)).toEqual(want);
      rounds++;
    }
    expect(await renamer).toBe(0);
    const after = await storeAt(root).open('INBOX');
    expect(after.state.messages.map((m) => m.uid)).toEqual(want);
    expect(files(root)).toHaveLength(1500);
    await after.close();
    await box.close();
  });
});

describe('maildir sessions racing procmail', () => {
  it('every delivery gets one UID and a mod-sequence while two processes change flags and expunge', async () => {
    const root = maildir(2);
    const rc = join(work, `procmailrc${n}`);
    const a = await session(root);
    const b = await session(root);
    await a.call('open', { claimRecent: true });
    await b.call('open');
    const deliveries = (async () => {
      for (let i = 3; i <= 22; i++) {
        const child = promisify(execFile)('procmail', ['-m', rc]);
        child.child.stdin!.end(msg(i));
        await child;
      }
    })();
    const expunged = new Set<number>();
    const work1 = async (s: RemoteSession, k: number) => {
      let last = 0;
      for (let step = 0; step < 12; step++) {
        const v = await s.call<View>('refresh');
        expect(v.highestModseq).toBeGreaterThanOrEqual(last);
        last = v.highestModseq;
        for (const m of v.messages) expect(m.modseq).toBeLessThanOrEqual(v.highestModseq);
        const uids = v.messages.map((m) => m.uid);
        if (uids.length === 0) continue;
        const pick = uids[(step * 7 + k) % uids.length]!;
        if (step % 4 === 3) {
          const r = await s.call<{ uids: number[] }>('expunge', { uids: [pick] });
          for (const u of r.uids) { expect(expunged.has(u)).toBe(false); expunged.add(u); }
        } else {
          await s.call('setFlags', { uids: [pick], mode: step % 2 ? 'add' : 'remove', flags: ['\\Flagged', `kw${k}`] });
        }
        await s.call('ack');
      }
    };
    await Promise.all([deliveries, work1(a, 1), work1(b, 2)]);
    const va = await a.call<View>('refresh');
    const vb = await b.call<View>('refresh');
    const fresh = await storeAt(root).open('INBOX', { readOnly: true });
    const vf = fresh.state.messages.map((m) => ({ uid: m.uid, modseq: m.modseq, flags: [...m.flags].sort(), size: m.size }));
    expect(va.messages).toEqual(vb.messages);
    expect(vf).toEqual(va.messages);
    expect(fresh.state.highestModseq).toBe(va.highestModseq);
    // Each delivered message exactly once, unless expunged; nothing expunged comes back.
    const bodies = await Promise.all(fresh.state.messages.map(async (m) => (await fresh.read(m.uid)).toString('latin1')));
    const ids = bodies.map((t) => Number(/Subject: deferred (\d+)/.exec(t)![1]));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length + expunged.size).toBe(22);
    for (const u of expunged) expect(va.messages.some((m) => m.uid === u)).toBe(false);
    expect((await fresh.expungedSince(0)).uids).toEqual([...expunged].sort((x, y) => x - y));
    await fresh.close();
    await a.call('close');
    await b.call('close');
    expect(files(root)).toHaveLength(ids.length);
  });

  it('HIGHESTMODSEQ never goes back when dmail-modlog is deleted by hand', async () => {
    const root = maildir(2);
    const a = await storeAt(root).open('INBOX', { claimRecent: true });
    await a.setFlags([1], 'add', ['\\Seen']);
    await a.setFlags([2], 'add', ['\\Seen']);
    const before = a.state.highestModseq;
    // What a later session would find in dmail-index (written at some close, further along).
    const index = (await readIndex(root))!;
    index.modseq = before + 50;
    expect(await writeIndex(root, index)).toBe(true);
    rmSync(join(root, 'dmail-modlog'));
    // The open session goes on from what it had...
    const s1 = await a.setFlags([1], 'add', ['\\Flagged']);
    expect(s1.highestModseq).toBeGreaterThan(before);
    expect(s1.messages[0]!.modseq).toBe(s1.highestModseq);
    // ...a new one from what dmail-index had.
    const fresh = await storeAt(root).open('INBOX');
    expect(fresh.state.highestModseq).toBeGreaterThanOrEqual(before + 50);
    for (const m of fresh.state.messages) expect(m.modseq).toBeLessThanOrEqual(fresh.state.highestModseq);
    execFileSync('procmail', ['-m', join(work, `procmailrc${n}`)], { input: msg(3) });
    const s2 = await fresh.refresh();
    expect(s2.messages.map((m) => m.uid)).toEqual([1, 2, 3]);
    expect(s2.messages[2]!.modseq).toBeGreaterThan(before + 50);
    const s3 = await a.refresh();
    expect(s3.highestModseq).toBeGreaterThanOrEqual(s2.highestModseq);
    expect(s3.messages[2]!.modseq).toBe(s2.messages[2]!.modseq);
    await a.close();
    await fresh.close();
  });

  it('refresh returns the very same state object while nothing changed, a new one after a change', async () => {
    const root = maildir(2);
    const box = await storeAt(root).open('INBOX', { claimRecent: true });
    const s0 = box.state;
    // The files are younger than the 2 s mtime rule, so this really lists the maildir again.
    expect(await box.refresh()).toBe(s0);
    execFileSync('procmail', ['-m', join(work, `procmailrc${n}`)], { input: msg(3) });
    const s1 = await box.refresh();
    expect(s1).not.toBe(s0);
    expect(await box.refresh()).toBe(s1);
    await box.close();
  });

  it('watch() reports a procmail delivery and another process\'s flag change', async () => {
    const root = maildir(1);
    const box = await storeAt(root).open('INBOX');
    const other = await session(root);
    await other.call('open');
    const changed = () => new Promise<void>((resolve) => { const stop = box.watch(() => { stop(); resolve(); }); });
    let seen = changed();
    execFileSync('procmail', ['-m', join(work, `procmailrc${n}`)], { input: msg(2) });
    await seen;
    const s1 = await box.refresh();
    expect(s1.messages.map((m) => m.uid)).toEqual([1, 2]);
    seen = changed();
    await other.call('refresh');
    await other.call('setFlags', { uids: [1], mode: 'add', flags: ['\\Answered'] });
    await seen;
    const s2 = await box.refresh();
    expect([...s2.messages[0]!.flags]).toEqual(['\\Answered']);
    expect(s2.highestModseq).toBeGreaterThan(s1.highestModseq);
    await box.close();
    await other.call('close');
  });
});

describe('maildir change log under kill -9', () => {
  it.each(['modlog-before-write', 'modlog-written', 'modlog-synced'])('killed while logging an append (%s): the message is there once, numbered and logged', async (step) => {
    const root = maildir(2);
    await (await storeAt(root).open('INBOX')).close(); // numbered and logged: the append is the next record
    const w = await session(root, { DMAIL_STORE_KILLPOINT: step });
    expect((await w.call('append', { body: crlf(msg(3)) }).catch(() => ({ error: 'killed' }))).error).toBe('killed');
    await w.exited;
    const box = await storeAt(root).open('INBOX');
    expect(box.state.messages.map((m) => m.uid)).toEqual([1, 2, 3]);
    expect((await box.read(3)).toString('latin1')).toBe(crlf(msg(3)));
    for (const m of box.state.messages) expect(m.modseq).toBeLessThanOrEqual(box.state.highestModseq);
    expect(box.state.messages[2]!.modseq).toBeGreaterThan(box.state.messages[1]!.modseq);
    await box.close();
    expect((await storeAt(root).append('INBOX', Buffer.from(crlf(msg(4))))).uid).toBe(4);
  });

  it('killed between a flag rename and its record: the flags are kept, and an open session logs the change', async () => {
    const root = maildir(2);
    const watcher = await storeAt(root).open('INBOX');
    const s0 = watcher.state;
    const w = await session(root, { DMAIL_STORE_KILLPOINT: 'maildir-flags-renamed' });
    await w.call('open');
    expect((await w.call('setFlags', { uids: [2], mode: 'add', flags: ['\\Flagged'] }).catch(() => ({ error: 'killed' }))).error).toBe('killed');
    await w.exited;
    const s1 = await watcher.refresh();
    const two = s1.messages.find((m) => m.uid === 2)!;
    expect([...two.flags]).toEqual(['\\Flagged']);
    expect(two.modseq).toBeGreaterThan(s0.highestModseq);
    expect(s1.highestModseq).toBeGreaterThanOrEqual(two.modseq);
    await watcher.close();
  });
});

describe('maildir deferred removal under kill -9', () => {
  // Each step of expunge and purge, and of the change-log write under them. The worker expunges 2 and
  // 4, acknowledges and refreshes (which purges), then closes; it dies at the named step.
  const steps = [
    'modlog-before-write', 'modlog-written', 'modlog-synced', 'maildir-expunge-logged',
    'maildir-purge-unlinked-one', 'maildir-purge-unlinked', 'maildir-purge-logged',
  ];
  it.each(steps)('killed at %s: nothing lost, nothing resurrected, purge completes later', async (step) => {
    const root = maildir(5);
    // Numbered (and logged) first, so the worker's first log write is its expunge.
    const first = await storeAt(root).open('INBOX');
    await first.close();
    const w = await session(root, { DMAIL_STORE_KILLPOINT: step });
    await w.call('open');
    const done = (async () => {
      await w.call('expunge', { uids: [2, 4] });
      await w.call('ack');
      await w.call('refresh');
      await w.call('close');
    })().catch(() => 'killed');
    expect(await done).toBe('killed');
    await w.exited;

    const logged = (() => {
      const log = openChangeLog(join(root, 'dmail-modlog'), uidlist(root).uidValidity);
      return log.since(0).records.some((r) => r.kind === CHANGE_EXPUNGE);
    })();
    // The record is written by one write(): a kill after it (page cache) keeps it, before it not.
    expect(logged).toBe(step !== 'modlog-before-write');
    const box = await storeAt(root).open('INBOX');
    const uids = box.state.messages.map((m) => m.uid);
    expect(uids).toEqual(logged ? [1, 3, 5] : [1, 2, 3, 4, 5]);
    for (const uid of uids) expect((await box.read(uid)).toString('latin1')).toBe(crlf(msg(uid)));
    for (const m of box.state.messages) expect(m.modseq).toBeLessThanOrEqual(box.state.highestModseq);
    await box.close(); // the last one out: finishes the purge the victim started
    const again = await storeAt(root).open('INBOX');
    expect(again.state.messages.map((m) => m.uid)).toEqual(uids);
    await again.close();
    if (logged) {
      expect(fileOf(root, 2)).toBeUndefined();
      expect(fileOf(root, 4)).toBeUndefined();
      expect(files(root)).toHaveLength(3);
    }
    expect(openChangeLog(join(root, 'dmail-modlog'), uidlist(root).uidValidity).pendingExpunges()).toEqual([]);
    // UIDs are never given again; the next writer drops uidlist records a purge killed half-way left.
    const next = await storeAt(root).append('INBOX', Buffer.from('Subject: after\r\n\r\nx\r\n'));
    expect(next.uid).toBe(6);
    expect(uidlist(root).records.map((r) => r.uid)).toEqual([...uids, 6]);
    expect(existsSync(join(root, 'dovecot-uidlist.lock'))).toBe(false);
  });
});
