// Maildir-specific behaviour: on-disk formats, odd and vanishing files, duplicates, concurrent writers,
// stale locks, procmail delivery into an open mailbox.
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, promises as fsp, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { StoreError, type Mailbox } from '../../src/store/types.js';
import { parseName, flagsFromInfo, compareBases } from '../../src/store/maildir/filename.js';
import { parseUidList, formatUidList } from '../../src/store/maildir/uidlist.js';
import { parseSubscriptions, formatSubscriptions } from '../../src/store/maildir/subscriptions.js';
import { crlfSlice, toCrlf, toLf, crlfSize } from '../../src/store/maildir/crlf.js';
import { resolveMaildirPaths } from '../../src/store/maildir/paths.js';
import { mdaDeliver, storeAt, tempDir, testSettings } from './fixture.js';
import { ensureMailUser } from './dovecot.js';

const dirs: string[] = [];
const boxes: Mailbox[] = [];
const fresh = () => { const d = tempDir(); dirs.push(d); return d; };
afterEach(async () => {
  for (const b of boxes.splice(0)) await b.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const msg = (i: number) => `From: a${i}@example.com\nSubject: m${i}\n\nbody ${i}\n`;
const files = (dir: string, sub: string) => readdirSync(join(dir, sub)).sort();

describe('maildir formats', () => {
  it('parses names, info letters and keywords', () => {
    const p = parseName('1700000000.M5P9Q1.host,S=120,W=124:2,FRSab');
    expect(p).toMatchObject({ base: '1700000000.M5P9Q1.host,S=120,W=124', info: 'FRSab', size: 120, vsize: 124 });
    expect([...flagsFromInfo(p.info, ['Work', '$Label1'])].sort()).toEqual(['$Label1', 'Work', '\\Answered', '\\Flagged', '\\Seen']);
    expect(parseName('odd name with spaces').info).toBeUndefined();
    expect(parseName('x:1,weird').info).toBe('');
    expect(compareBases('100.1_9.h', '100.1_10.h')).toBeLessThan(0);
    expect(compareBases('101.M1P1.h', '100.M999P1.h')).toBeGreaterThan(0);
  });

  it('reads and writes dovecot-uidlist v3 and reads v1', () => {
    const text = '3 V1795302652 N4 G71b3e514fa24026b382a000083ecc375 Xext\n1 :a,S=1,W=2\n3 W20 S18 :b\n';
    const l = parseUidList(text)!;
    expect(l.uidValidity).toBe(1795302652);
    expect(l.nextUid).toBe(4);
    expect(l.records.map((r) => [r.uid, r.base, r.ext])).toEqual([[1, 'a,S=1,W=2', []], [3, 'b', ['W20', 'S18']]]);
    expect(formatUidList(l)).toBe(text);
    const v1 = parseUidList('1 12345 7\n5 1035478339.27041_118.foo.org:2,S\n')!;
    expect(v1.uidValidity).toBe(12345);
    expect(v1.byBase.get('1035478339.27041_118.foo.org')!.uid).toBe(5);
    expect(parseUidList('garbage')).toBeUndefined();
    // A broken line costs one message its UID, not the whole file.
    expect(parseUidList('3 V9 N3 Gx\nnonsense\n2 :ok\n')!.records.map((r) => r.uid)).toEqual([2]);
    // A last line without its newline is an append in progress (or cut by a crash): ignored.
    expect(parseUidList('3 V9 N3 Gx\n2 :ok\n3 :half-writ')!.records.map((r) => r.base)).toEqual(['ok']);
  });

  it('reads both subscription formats and writes Dovecot 2.3\'s', () => {
    expect(parseSubscriptions('V\t2\n\nSent\nArchive\t2024\nINBOX\n')).toEqual(['Sent', 'Archive/2024', 'INBOX']);
    expect(parseSubscriptions('Sent\nTrash\n\n')).toEqual(['Sent', 'Trash']);
    expect(formatSubscriptions(['INBOX', 'Archive/2024'])).toBe('V\t2\n\nINBOX\nArchive\t2024\n');
  });

  it('converts line endings and slices CRLF streams across chunk boundaries', async () => {
    const lf = Buffer.from('a\nb\r\nc\n');
    expect(toCrlf(lf).toString()).toBe('a\r\nb\r\nc\r\n');
    expect(crlfSize(lf)).toBe(9);
    expect(toLf(Buffer.from('a\r\nb\rc\r\n')).toString()).toBe('a\nb\rc\n');
    async function* chunks() { yield Buffer.from('x\r'); yield Buffer.from('\ny\n'); }
    const out: Buffer[] = [];
    for await (const c of crlfSlice(chunks(), 1, 5)) out.push(c);
    expect(Buffer.concat(out).toString()).toBe('\r\ny\r');
  });

  it('resolves maildir_home, hash dirs, .mdir and maildir_althome', () => {
    const user = { login: 'Bob', user: 'bob', dropName: 'bob', info: {} };
    const s = testSettings({ maildir_home: '/m', maildir_suffix: true, maildir_althome: ['other.org /alt/other'] });
    expect(resolveMaildirPaths(s, user)).toEqual({ inbox: '/m/bob.mdir', folders: '/m/bob.mdir', indexDir: '/m/bob.mdir', kind: 'maildir' });
    expect(resolveMaildirPaths({ ...s, maildir_suffix: false }, user).inbox).toBe('/m/bob');
    expect(resolveMaildirPaths(s, { ...user, domain: 'Other.org' }).inbox).toBe('/alt/other/bob.mdir');
    expect(resolveMaildirPaths({ ...s, hash_spool: 2 }, user).inbox).toMatch(/^\/m\/[^/]+\/[^/]+\/bob\.mdir$/);
    expect(() => resolveMaildirPaths(s, { ...user, dropName: '..' })).toThrow(StoreError);
    expect(() => resolveMaildirPaths({ ...s, maildir_home: undefined }, user)).toThrow(StoreError);
  });
});

describe('maildir store on disk', () => {
  it('writes Dovecot-style names, uidlist, keywords and subscriptions', async () => {
    const root = fresh();
    const store = storeAt(root);
    await store.append('INBOX', Buffer.from('Subject: hi\r\n\r\nbody\r\n'), ['\\Seen', '$Label1', 'foo']);
    await store.append('INBOX', Buffer.from('Subject: hi2\r\n\r\nbody2\r\n'));
    await store.create('Archive/2024');
    await store.subscribe('Archive/2024');
    const cur = files(root, 'cur');
    expect(cur).toHaveLength(1);
    expect(cur[0]).toMatch(/^\d+\.M\d+P\d+Q\d+\.[^,]+,S=18,W=21:2,Sab$/);
    expect(files(root, 'new')[0]).toMatch(/,S=20,W=23$/);
    expect(readFileSync(join(root, 'dovecot-keywords'), 'utf8')).toBe('0 $Label1\n1 foo\n');
    const ul = readFileSync(join(root, 'dovecot-uidlist'), 'utf8').split('\n');
    // The second record was appended to the file, as Dovecot does: the header's N is then stale and
    // readers take max(N, last UID + 1).
    expect(ul[0]).toMatch(/^3 V\d+ N2 G[0-9a-f]{32}$/);
    expect(ul[1]).toBe(`1 :${cur[0]!.split(':')[0]}`);
    expect(ul[2]).toBe(`2 :${files(root, 'new')[0]}`);
    expect(parseUidList(ul.join('\n'))!.nextUid).toBe(3);
    expect(existsSync(join(root, '.Archive.2024', 'maildirfolder'))).toBe(true);
    expect(readFileSync(join(root, 'subscriptions'), 'utf8')).toBe('V\t2\n\nArchive\t2024\n');
    await expect(store.create('a.b')).rejects.toMatchObject({ code: 'CANNOT' });
    const box = await store.open('INBOX');
    boxes.push(box);
    const [m1, m2] = box.state.messages;
    expect(m1!.size).toBe(21);
    expect(m2!.size).toBe(23);
    expect(box.state.keywords).toEqual(['$Label1', 'foo']);
    // Letters this server does not map ('P' = passed) survive a flag change.
    const p = join(root, 'cur', cur[0]!);
    await fsp.rename(p, p.replace(':2,Sab', ':2,PSab'));
    await box.refresh();
    await box.setFlags([m1!.uid], 'remove', ['foo']);
    expect(files(root, 'cur')[0]).toMatch(/:2,PSa$/);
  });

  it('records the sizes of MDA deliveries in the uidlist (W/S fields)', async () => {
    const root = fresh();
    const name = await mdaDeliver(root, 'Subject: x\n\nhello\n');
    const box = await storeAt(root).open('INBOX');
    boxes.push(box);
    expect(box.state.messages[0]!.size).toBe(21);
    expect(readFileSync(join(root, 'dovecot-uidlist'), 'utf8')).toContain(`1 W21 S18 :${name}\n`);
  });

  it('moves new/ to cur/ for the session that claims \\Recent, and not for EXAMINE', async () => {
    const root = fresh();
    await mdaDeliver(root, msg(1));
    const ro = await storeAt(root).open('INBOX', { readOnly: true });
    boxes.push(ro);
    expect(files(root, 'new')).toHaveLength(1);
    expect(ro.state.messages[0]!.recent).toBe(true);
    const rw = await storeAt(root).open('INBOX', { claimRecent: true });
    boxes.push(rw);
    expect(files(root, 'new')).toHaveLength(0);
    expect(files(root, 'cur')[0]).toMatch(/:2,$/);
    expect(rw.state.messages[0]!.recent).toBe(true);
    expect((await ro.refresh()).messages[0]!.uid).toBe(rw.state.messages[0]!.uid);
  });

  it('survives odd names, non-files, vanished files and duplicate base names without losing mail', async () => {
    const root = fresh();
    const store = storeAt(root);
    const first = await mdaDeliver(root, msg(1));
    writeFileSync(join(root, 'cur', 'odd name with spaces:2,S'), msg(2));
    writeFileSync(join(root, 'cur', 'héllo wörld'), msg(3));
    writeFileSync(join(root, 'cur', 'weird:1,xyz'), msg(4));
    writeFileSync(join(root, 'new', 'line\nbreak'), msg(6));
    // Latin-1 bytes in a name (not UTF-8): Node cannot even name it as a string.
    writeFileSync(Buffer.concat([Buffer.from(join(root, 'cur') + '/caf'), Buffer.from([0xe9]), Buffer.from(':2,F')]), msg(7));
    writeFileSync(join(root, 'cur', ':2,S'), msg(8));
    writeFileSync(join(root, 'cur', '.hidden-temp'), 'not a message');
    execFileSync('mkfifo', [join(root, 'cur', 'a-fifo')]);
    symlinkSync('/nonexistent/target', join(root, 'cur', 'dangling'));
    await fsp.mkdir(join(root, 'cur', 'a-directory'));
    const box = await store.open('INBOX', { claimRecent: true });
    boxes.push(box);
    // The name with a line break was renamed (a uidlist record is one line) and is listed like the rest.
    // So were the non-UTF-8 name and the empty base ":2,S".
    expect(box.state.messages).toHaveLength(7);
    expect(readdirSync(join(root, 'cur')).some((f) => f.includes('\n') || f.includes('\uFFFD') || f.startsWith(':'))).toBe(false);
    const bodies = await Promise.all(box.state.messages.map(async (m) => (await box.read(m.uid)).toString()));
    expect(bodies.sort()).toEqual([1, 2, 3, 4, 6, 7, 8].map((i) => toCrlf(Buffer.from(msg(i))).toString()).sort());
    expect(box.state.messages.filter((m) => m.flags.has('\\Flagged'))).toHaveLength(1);
    const odd = box.state.messages.find((m) => m.flags.has('\\Seen'));
    expect(odd).toBeDefined();

    // Duplicate base: the same file name in new/ and cur/ (a restored backup). Both stay visible.
    expect(files(root, 'cur')).toContain(`${first}:2,`);
    writeFileSync(join(root, 'new', first), msg(5));
    await box.refresh();
    expect(box.state.messages).toHaveLength(8);
    const all = await Promise.all(box.state.messages.map(async (m) => (await box.read(m.uid)).toString()));
    expect(all.filter((b) => b.includes('body 5'))).toHaveLength(1);
    expect(all.filter((b) => b.includes('body 1'))).toHaveLength(1);

    // Another session expunges a message this one still lists: this session still reads its bytes
    // (deferred removal) until it acknowledges a state without it; then reading it is a clean NONEXISTENT.
    const other = await storeAt(root).open('INBOX');
    boxes.push(other);
    const victim = box.state.messages[0]!.uid;
    const original = await box.read(victim);
    await other.expunge([victim]);
    expect(await box.read(victim)).toEqual(original);
    const after = await box.refresh();
    expect(after.messages.map((m) => m.uid)).not.toContain(victim);
    expect(await box.read(victim)).toEqual(original);
    box.acknowledge(after);
    await expect(box.read(victim)).rejects.toMatchObject({ code: 'NONEXISTENT' });
    const chunks: Buffer[] = [];
    await expect((async () => { for await (const c of box.stream(victim)) chunks.push(c as Buffer); })()).rejects.toBeInstanceOf(StoreError);
    // Flags changed by another session (a rename) are followed, not mistaken for an expunge.
    const target = box.state.messages[1]!.uid;
    const had = [...box.state.messages[1]!.flags];
    await other.refresh();
    await other.setFlags([target], 'add', ['\\Flagged']);
    expect((await box.read(target)).length).toBeGreaterThan(0);
    const st = await box.setFlags([target], 'add', ['\\Answered']);
    expect([...st.messages.find((m) => m.uid === target)!.flags].sort()).toEqual([...new Set([...had, '\\Answered', '\\Flagged'])].sort());
  });

  it('gives unique UIDs to concurrent appends from several sessions', async () => {
    const root = fresh();
    await storeAt(root).open('INBOX');
    const stores = [storeAt(root), storeAt(root), storeAt(root)];
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => stores[i % 3]!.append('INBOX', Buffer.from(msg(i)))));
    const uids = results.map((r) => r.uid);
    expect(new Set(uids).size).toBe(30);
    const box = await storeAt(root).open('INBOX');
    boxes.push(box);
    expect(box.state.messages.map((m) => m.uid)).toEqual([...uids].sort((a, b) => a - b));
    expect(existsSync(join(root, 'dovecot-uidlist.lock'))).toBe(false);
  });

  it('breaks a lock left by a dead process and times out on a live one', async () => {
    const root = fresh();
    const store = storeAt(root, testSettings({ lock_timeout: 1 }));
    await store.open('INBOX');
    // A process killed -9 while holding the lock: the pid is gone, so the lock is stale at once.
    const dead = execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).toString();
    writeFileSync(join(root, 'dovecot-uidlist.lock'), `${dead}:${hostname()}`);
    expect((await store.append('INBOX', Buffer.from(msg(1)))).uid).toBe(1);
    // A live holder (pid 1 never dies): wait, then a clean UNAVAILABLE; the message is not left behind.
    writeFileSync(join(root, 'dovecot-uidlist.lock'), `1:${hostname()}`);
    await expect(store.append('INBOX', Buffer.from(msg(2)))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(files(root, 'tmp')).toHaveLength(0);
    rmSync(join(root, 'dovecot-uidlist.lock'));
    expect((await store.append('INBOX', Buffer.from(msg(3)))).uid).toBe(2);
  });

  it('delivers with real procmail into an open mailbox', async () => {
    const root = fresh();
    const rc = join(root, '..', `${root.split('/').pop()}.procmailrc`);
    writeFileSync(rc, `:0\n${root}/\n`);
    const box = await storeAt(root).open('INBOX', { claimRecent: true });
    boxes.push(box);
    expect(box.state.messages).toHaveLength(0);
    try {
      for (let i = 1; i <= 2; i++) execFileSync('procmail', ['-m', rc], { input: msg(i) });
    } finally {
      rmSync(rc, { force: true });
    }
    const st = await box.refresh();
    expect(st.messages).toHaveLength(2);
    expect(st.messages.every((m) => m.recent)).toBe(true);
    expect((await box.read(st.messages[1]!.uid)).toString()).toBe(toCrlf(Buffer.from(msg(2))).toString());
    expect(files(root, 'new')).toHaveLength(0);
  });

  it('fails refresh of a folder deleted under an open session with NONEXISTENT, and clears stale tmp files', async () => {
    const root = fresh();
    const store = storeAt(root);
    await store.create('Old');
    await store.append('Old', Buffer.from(msg(1)));
    const box = await store.open('Old');
    boxes.push(box);
    expect(box.state.messages).toHaveLength(1);
    await storeAt(root).delete('Old');
    await expect(box.refresh()).rejects.toMatchObject({ code: 'NONEXISTENT' });
    expect(existsSync(join(root, '.Old'))).toBe(false);
    // Created again under the same name: still not the mailbox this handle had.
    await store.create('Old');
    await expect(box.refresh()).rejects.toMatchObject({ code: 'NONEXISTENT' });
    expect((await store.status('Old')).messages).toBe(0);
    // Renamed away: the same; the renamed folder keeps its UIDs and UIDVALIDITY.
    await store.append('Old', Buffer.from(msg(2)));
    const moved = await store.open('Old');
    boxes.push(moved);
    await storeAt(root).rename('Old', 'New');
    await expect(moved.refresh()).rejects.toMatchObject({ code: 'NONEXISTENT' });
    const renamed = await store.open('New');
    boxes.push(renamed);
    expect(renamed.state.uidValidity).toBe(moved.state.uidValidity);
    expect(renamed.state.messages.map((m) => m.uid)).toEqual(moved.state.messages.map((m) => m.uid));

    const stale = join(root, 'tmp', 'dead.append');
    const young = join(root, 'tmp', 'in.progress');
    writeFileSync(stale, 'x');
    writeFileSync(young, 'y');
    const old = new Date(Date.now() - 40 * 3600 * 1000);
    utimesSync(stale, old, old);
    // utimes moves ctime to now, so age the stale one the way time would: only mtime is settable,
    // hence the store uses max(mtime, ctime) and a young file with an old INTERNALDATE is safe.
    await (await store.open('INBOX')).close();
    expect(existsSync(young)).toBe(true);
    expect(existsSync(stale)).toBe(true);
  });

  it('keeps a message\'s X-UIDL as its POP3 UIDL (uidlist P field) through delivery, append and copy', async () => {
    const root = fresh();
    const store = storeAt(root);
    const name = await mdaDeliver(root, 'X-UIDL: legacy-7\nSubject: u\n\nbody\n');
    await mdaDeliver(root, 'Subject: no uidl\n\nX-UIDL: not-a-header\n');
    await store.append('INBOX', Buffer.from('Subject: a\r\nX-UIDL: appended-1\r\n\r\nx\r\n'));
    const box = await store.open('INBOX');
    boxes.push(box);
    // The append was numbered at once (UID 1); the MDA files when the mailbox was opened.
    expect(box.state.messages.map((m) => m.uidl)).toEqual(['appended-1', 'legacy-7', undefined]);
    expect(readFileSync(join(root, 'dovecot-uidlist'), 'utf8')).toContain(` Plegacy-7 :${name}\n`);
    await store.create('Keep');
    await store.copy(box, [2], 'Keep');
    const kept = await store.open('Keep');
    boxes.push(kept);
    expect(kept.state.messages[0]!.uidl).toBe('legacy-7');
  });

  it('measures a large MDA delivery in chunks with the right CRLF size', async () => {
    const root = fresh();
    const line = 'y'.repeat(999) + '\n';
    const big = Buffer.from('Subject: big\n\n' + line.repeat(3000) + 'end\r\n');
    await mdaDeliver(root, big);
    const box = await storeAt(root).open('INBOX');
    boxes.push(box);
    expect(box.state.messages[0]!.size).toBe(toCrlf(big).length);
    const chunks: Buffer[] = [];
    for await (const c of box.stream(1, 1000, 2_000_000)) chunks.push(c as Buffer);
    // Buffer.equals: a failing toEqual would spend seconds diffing megabytes.
    expect(Buffer.concat(chunks).equals(toCrlf(big).subarray(1000, 2_000_000))).toBe(true);
  });

  it('rewrites a uidlist whose last append was cut short instead of appending after the fragment', async () => {
    const root = fresh();
    const store = storeAt(root);
    await store.append('INBOX', Buffer.from(msg(1)));
    const path = join(root, 'dovecot-uidlist');
    writeFileSync(path, readFileSync(path, 'latin1') + '2 :17000', { encoding: 'latin1' });
    const r = await store.append('INBOX', Buffer.from(msg(2)));
    expect(r.uid).toBe(2);
    const text = readFileSync(path, 'latin1');
    expect(text.endsWith('\n')).toBe(true);
    expect(text).not.toContain(':17000');
    expect(parseUidList(text)!.records.map((x) => x.uid)).toEqual([1, 2]);
    const box = await store.open('INBOX');
    boxes.push(box);
    expect(box.state.messages.map((m) => m.uid)).toEqual([1, 2]);
  });

  it('renames a folder with its children, and a \\Noselect parent that only has children', async () => {
    const root = fresh();
    const store = storeAt(root);
    await store.create('A');
    await store.create('A/B');
    await store.create('X/Y');
    await store.append('A/B', Buffer.from(msg(1)));
    await store.rename('A', 'C');
    await store.rename('X', 'Z');
    const names = (await store.list()).map((f) => `${f.name}${f.noselect ? '*' : ''}`).sort();
    expect(names).toEqual(['C', 'C/B', 'INBOX', 'Z*', 'Z/Y']);
    expect((await store.status('C/B')).messages).toBe(1);
    await expect(store.rename('Nope', 'Q')).rejects.toMatchObject({ code: 'NONEXISTENT' });
    await expect(store.rename('C', 'C/D')).rejects.toMatchObject({ code: 'CANNOT' });
  });

  it('lists an unreadable message and answers reading it with a clean error (as the mail user)', async () => {
    const { uid, gid } = ensureMailUser();
    const top = fresh();
    chmodSync(top, 0o755);
    const root = join(top, 'mail');
    await mdaDeliver(root, msg(1));
    execFileSync('chown', ['-R', `${uid}:${gid}`, root]);
    // Owned by root, mode 000: the mail user can rename it (directory rights) but not read it.
    writeFileSync(join(root, 'new', '1700000001.secret.host'), msg(2), { mode: 0 });
    process.setegid!(gid);
    process.seteuid!(uid);
    try {
      const box = await storeAt(root).open('INBOX', { claimRecent: true });
      boxes.push(box);
      expect(box.state.messages).toHaveLength(2);
      const results = await Promise.all(box.state.messages.map((m) => box.read(m.uid).then((b) => b.toString(), (e: unknown) => e)));
      expect(results.filter((r) => typeof r === 'string')).toEqual([toCrlf(Buffer.from(msg(1))).toString()]);
      const err = results.find((r) => typeof r !== 'string');
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).code).toBe('CANNOT');
      // A maildir the user may not create is a NOPERM answer, not a crash.
      await expect(storeAt(join(top, 'not-mine')).open('INBOX')).rejects.toMatchObject({ code: 'NOPERM' });
      await expect(storeAt(join(top, 'not-mine')).append('INBOX', Buffer.from(msg(3)))).rejects.toMatchObject({ code: 'NOPERM' });
    } finally {
      process.seteuid!(0);
      process.setegid!(0);
    }
  });

  it('replaces an unparseable dovecot-uidlist with a new UIDVALIDITY and keeps every message', async () => {
    const root = fresh();
    const store = storeAt(root);
    await store.append('INBOX', Buffer.from(msg(1)));
    await store.append('INBOX', Buffer.from(msg(2)));
    const before = (await store.status('INBOX')).uidValidity;
    writeFileSync(join(root, 'dovecot-uidlist'), 'garbage that is no uidlist\n');
    const box = await storeAt(root).open('INBOX');
    boxes.push(box);
    expect(box.state.messages).toHaveLength(2);
    expect(box.state.uidValidity).not.toBe(before);
  });
});

