// Interoperability with a real Dovecot 2.3 on the same maildir, both directions: what our store writes
// (UIDs, UIDVALIDITY, flags, keywords, folders, subscriptions, bodies) is what Dovecot serves, and what
// Dovecot writes is what our store reads — so a site can switch servers without clients re-downloading.
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import type { MailStore, MailboxState } from '../../src/store/types.js';
import { FACTS_FILE } from '../../src/store/maildir/facts-cache.js';
import { mdaDeliver, storeAt, tempDir } from './fixture.js';
import { chownMail, startDovecot, type Dovecot } from './dovecot.js';

let dir: string;
let dovecot: Dovecot;
const users = { ours: 'alice', theirs: 'bob', both: 'carl' };

beforeAll(async () => {
  dir = tempDir('dmail-dovecot-');
  for (const u of Object.values(users)) mkdirSync(join(dir, u), { recursive: true });
  dovecot = await startDovecot(dir, Object.values(users).map((name) => ({ name, pass: 'secret', maildir: join(dir, name, 'Maildir') })));
  for (const u of Object.values(users)) chownMail(join(dir, u), dovecot);
});

afterAll(async () => {
  await dovecot?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function client(user: string): Promise<ImapFlow> {
  const c = new ImapFlow({ host: '127.0.0.1', port: dovecot.port, secure: false, auth: { user, pass: 'secret' }, logger: false });
  await c.connect();
  return c;
}

const sysOrKw = (flags: Iterable<string>) => [...flags].filter((f) => f !== '\\Recent').sort();

interface Seen { uid: number; flags: string[]; size: number; body: string }

async function dovecotMailbox(c: ImapFlow, name: string): Promise<{ uidValidity: number; uidNext: number; messages: Seen[] }> {
  const lock = await c.getMailboxLock(name);
  try {
    const mb = c.mailbox;
    if (!mb) throw new Error('no mailbox');
    const messages: Seen[] = [];
    if (mb.exists > 0) {
      for await (const m of c.fetch('1:*', { uid: true, flags: true, size: true, source: true })) {
        messages.push({ uid: m.uid, flags: sysOrKw(m.flags ?? []), size: m.size ?? -1, body: m.source?.toString('latin1') ?? '' });
      }
    }
    return { uidValidity: Number(mb.uidValidity), uidNext: Number(mb.uidNext), messages };
  } finally {
    lock.release();
  }
}

async function ourMailbox(store: MailStore, name: string): Promise<{ state: MailboxState; messages: Seen[] }> {
  const box = await store.open(name, { readOnly: true });
  try {
    const messages: Seen[] = [];
    for (const m of box.state.messages) {
      messages.push({ uid: m.uid, flags: sysOrKw(m.flags), size: m.size, body: (await box.read(m.uid)).toString('latin1') });
    }
    return { state: box.state, messages };
  } finally {
    await box.close();
  }
}

const msg = (i: number) => `From: s${i}@example.com\r\nTo: alice@example.com\r\nSubject: interop ${i}\r\nMessage-ID: <i${i}@example.com>\r\n\r\nBody ${i}\r\nline two\r\n`;

describe('Dovecot 2.3 interoperability', () => {
  // Dovecot explains its refusals only in its log: show it when a test fails.
  beforeEach(() => { onTestFailed(() => { console.error(dovecot.log().split('\n').slice(-30).join('\n')); }); });
  it('Dovecot serves what our store wrote: UIDs, UIDVALIDITY, flags, keywords, folders, subscriptions', async () => {
    const root = join(dir, users.ours, 'Maildir');
    const store = storeAt(root);
    await store.append('INBOX', Buffer.from(msg(1)), ['\\Seen', '$Label1', 'foo']);
    await store.append('INBOX', Buffer.from(msg(2)));
    await store.append('INBOX', Buffer.from(msg(3)), ['\\Answered', '\\Flagged', 'work']);
    await store.append('INBOX', Buffer.from(msg(4)), ['\\Deleted']);
    const inbox = await store.open('INBOX', { claimRecent: true });
    await inbox.setFlags([2], 'add', ['\\Draft', 'foo']);
    expect(await inbox.expunge()).toEqual([4]);
    await inbox.close();
    // Our own cache file sits next to dovecot-uidlist; Dovecot must ignore it (no folder, same messages).
    expect(existsSync(join(root, FACTS_FILE))).toBe(true);
    await store.create('Sent');
    await store.create('Archive/2024');
    await store.create('Caf&AOk-');
    await store.append('Archive/2024', Buffer.from(msg(5)), ['\\Seen']);
    await store.subscribe('Sent');
    await store.subscribe('Archive/2024');
    await store.subscribe('INBOX');
    // An MDA delivery nobody has numbered yet: Dovecot numbers it, and we must agree afterwards.
    await mdaDeliver(root, msg(6).replace(/\r\n/g, '\n'));
    chownMail(join(dir, users.ours), dovecot);

    const c = await client(users.ours);
    try {
      const theirs = await dovecotMailbox(c, 'INBOX');
      const ours = await ourMailbox(storeAt(root), 'INBOX');
      expect(theirs.uidValidity).toBe(ours.state.uidValidity);
      expect(theirs.uidNext).toBe(ours.state.uidNext);
      expect(theirs.messages.map((m) => m.uid)).toEqual([1, 2, 3, 5]);
      expect(theirs.messages).toEqual(ours.messages);
      expect(theirs.messages[0]!.flags).toEqual(['$Label1', '\\Seen', 'foo']);
      expect(theirs.messages[2]!.flags).toEqual(['\\Answered', '\\Flagged', 'work']);

      const arch = await dovecotMailbox(c, 'Archive/2024');
      const ourArch = await ourMailbox(storeAt(root), 'Archive/2024');
      expect(arch.uidValidity).toBe(ourArch.state.uidValidity);
      expect(arch.messages).toEqual(ourArch.messages);

      const listed = await c.list();
      expect(listed.map((l) => l.pathAsListed).sort()).toEqual((await store.list()).map((f) => f.name).sort());
      expect(listed.filter((l) => l.subscribed).map((l) => l.pathAsListed).sort()).toEqual((await store.subscriptions()).sort());

      // Dovecot changes flags; our open session sees them on refresh, same UIDs.
      const box = await storeAt(root).open('INBOX');
      const lock = await c.getMailboxLock('INBOX');
      try {
        await c.messageFlagsAdd('1', ['\\Flagged', 'fromdovecot'], { uid: true });
        await c.messageFlagsRemove('3', ['work'], { uid: true });
        await c.messageDelete('2', { uid: true });
      } finally {
        lock.release();
      }
      const st = await box.refresh();
      expect(st.messages.map((m) => m.uid)).toEqual([1, 3, 5]);
      expect(sysOrKw(st.messages.find((m) => m.uid === 1)!.flags)).toEqual(['$Label1', '\\Flagged', '\\Seen', 'foo', 'fromdovecot']);
      expect(sysOrKw(st.messages.find((m) => m.uid === 3)!.flags)).toEqual(['\\Answered', '\\Flagged']);
      await box.close();
    } finally {
      await c.logout();
    }
  });

  it('Dovecot shows an expunged message we still keep (for an open session) as \\Deleted, and not after the purge', async () => {
    const root = join(dir, users.ours, 'Maildir');
    const store = storeAt(root);
    await store.create('Kept');
    for (let i = 1; i <= 3; i++) await store.append('Kept', Buffer.from(msg(i)), i === 3 ? ['\\Seen'] : []);
    const reader = await store.open('Kept');
    const writer = await store.open('Kept');
    expect(await writer.expunge([2])).toEqual([2]);
    writer.acknowledge(writer.state);
    await writer.close();
    chownMail(join(dir, users.ours), dovecot);
    const c = await client(users.ours);
    try {
      const kept = await dovecotMailbox(c, 'Kept');
      expect(kept.uidValidity).toBe(reader.state.uidValidity);
      expect(kept.messages.map((m) => m.uid)).toEqual([1, 2, 3]);
      expect(kept.messages[1]!.flags).toEqual(['\\Deleted']);
      expect(kept.messages[1]!.body).toBe(msg(2));
      expect(kept.messages[2]!.flags).toEqual(['\\Seen']);
    } finally {
      await c.logout();
    }
    // Dovecot may have moved new/ files to cur/ meanwhile: the purge finds them all the same.
    expect((await reader.read(2)).toString('latin1')).toBe(msg(2));
    await reader.close();
    chownMail(join(dir, users.ours), dovecot);
    const c2 = await client(users.ours);
    try {
      const after = await dovecotMailbox(c2, 'Kept');
      const ours = await ourMailbox(storeAt(root), 'Kept');
      expect(after.uidValidity).toBe(ours.state.uidValidity);
      expect(after.messages.map((m) => m.uid)).toEqual([1, 3]);
      expect(after.messages).toEqual(ours.messages);
      expect(ours.state.highestModseq).toBeGreaterThan(1);
    } finally {
      await c2.logout();
    }
  });

  it('our store reads what Dovecot wrote: same UIDs, flags, keywords, folders and subscriptions', async () => {
    const root = join(dir, users.theirs, 'Maildir');
    const c = await client(users.theirs);
    let theirs: Awaited<ReturnType<typeof dovecotMailbox>>;
    let theirArchive: Awaited<ReturnType<typeof dovecotMailbox>>;
    let theirSubs: string[];
    try {
      await c.mailboxCreate('Sent');
      await c.mailboxCreate('Work/Projects');
      await c.mailboxSubscribe('Work/Projects');
      await c.mailboxSubscribe('INBOX');
      for (let i = 1; i <= 4; i++) await c.append('INBOX', msg(i), i === 1 ? ['\\Seen', '$Important'] : []);
      await c.append('Work/Projects', msg(9), ['\\Draft', 'projectx']);
      const lock = await c.getMailboxLock('INBOX');
      try {
        await c.messageFlagsAdd('2', ['\\Answered', 'later'], { uid: true });
        await c.messageDelete('3', { uid: true });
      } finally {
        lock.release();
      }
      theirs = await dovecotMailbox(c, 'INBOX');
      theirArchive = await dovecotMailbox(c, 'Work/Projects');
      const listed = await c.list();
      const store = storeAt(root);
      expect((await store.list()).map((f) => f.name).sort()).toEqual(listed.map((l) => l.pathAsListed).sort());
      theirSubs = listed.filter((l) => l.subscribed).map((l) => l.pathAsListed).sort();
      expect(theirSubs).toContain('Work/Projects');
    } finally {
      await c.logout();
    }
    const store = storeAt(root);
    const ours = await ourMailbox(store, 'INBOX');
    expect(ours.state.uidValidity).toBe(theirs.uidValidity);
    expect(ours.state.uidNext).toBe(theirs.uidNext);
    expect(ours.messages).toEqual(theirs.messages);
    expect(ours.messages.map((m) => m.uid)).toEqual([1, 2, 4]);
    expect(ours.messages[1]!.flags).toEqual(['\\Answered', 'later']);
    const ourWork = await ourMailbox(store, 'Work/Projects');
    expect(ourWork.state.uidValidity).toBe(theirArchive.uidValidity);
    expect(ourWork.messages).toEqual(theirArchive.messages);
    expect((await store.subscriptions()).sort()).toEqual(theirSubs);

    // And back: our append and flag change, seen by Dovecot with the UID we reported.
    const res = await store.append('INBOX', Buffer.from(msg(7)), ['later']);
    expect(res.uid).toBe(theirs.uidNext);
    const box = await store.open('INBOX');
    await box.setFlags([1], 'remove', ['$Important']);
    await box.close();
    // A folder and a subscription made by us after Dovecot built its mailbox list index.
    await store.create('FromUs/Sub');
    await store.subscribe('FromUs/Sub');
    await store.append('FromUs/Sub', Buffer.from(msg(8)), ['\\Flagged']);
    chownMail(join(dir, users.theirs), dovecot);
    const c2 = await client(users.theirs);
    try {
      const listed = await c2.list();
      expect(listed.find((l) => l.pathAsListed === 'FromUs/Sub')?.subscribed).toBe(true);
      const sub = await dovecotMailbox(c2, 'FromUs/Sub');
      const ourSub = await ourMailbox(storeAt(root), 'FromUs/Sub');
      expect(sub.uidValidity).toBe(ourSub.state.uidValidity);
      expect(sub.messages).toEqual(ourSub.messages);
      const after = await dovecotMailbox(c2, 'INBOX');
      expect(after.messages.map((m) => m.uid)).toEqual([1, 2, 4, res.uid]);
      expect(after.messages[0]!.flags).toEqual(['\\Seen']);
      expect(after.messages[3]!.flags).toEqual(['later']);
      expect(after.messages[3]!.body).toBe(msg(7));
    } finally {
      await c2.logout();
    }
  });

  it('shares one mailbox with Dovecot under concurrent appends: same UIDs on both sides', async () => {
    const root = join(dir, users.both, 'Maildir');
    const c = await client(users.both);
    // Run as the mail user, as imapd does after login, so Dovecot can read what we write.
    const asUser = (uid: number, gid: number) => { process.setegid!(gid); process.seteuid!(uid); };
    asUser(dovecot.uid, dovecot.gid);
    try {
      const store = storeAt(root);
      await store.open('INBOX');
      const ours = (async () => {
        const uids: number[] = [];
        for (let i = 0; i < 15; i++) uids.push((await store.append('INBOX', Buffer.from(msg(100 + i)))).uid);
        return uids;
      })();
      const theirs = (async () => {
        const uids: number[] = [];
        for (let i = 0; i < 15; i++) {
          const r = await c.append('INBOX', msg(200 + i), []);
          if (!r) throw new Error('Dovecot APPEND failed');
          uids.push(Number(r.uid));
        }
        return uids;
      })();
      const [a, b] = await Promise.all([ours, theirs]);
      expect(new Set([...a, ...b]).size).toBe(30);
      const seenByDovecot = await dovecotMailbox(c, 'INBOX');
      const seenByUs = await ourMailbox(storeAt(root), 'INBOX');
      expect(seenByUs.messages).toEqual(seenByDovecot.messages);
      expect(seenByUs.messages.map((m) => m.uid).sort((x, y) => x - y)).toEqual([...a, ...b].sort((x, y) => x - y));
    } finally {
      process.seteuid!(0);
      process.setegid!(0);
      await c.logout();
    }
  });
});

