// imapflow (the npm client many Node apps use) against bin/imapd over real TCP: folder tree, append,
// fetch with envelope/bodystructure/source, flags, search, move, delete, and IDLE seeing a delivery.
import { appendFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImapFlow } from 'imapflow';
import { BIN, mbox, simpleMessage } from '../helpers/site.js';
import type { Listener } from '../helpers/listener.js';
import { imapdOverTcp, type TestSite } from '../imap/imap-client.js';

let t: TestSite;
let l: Listener;
imapdOverTcp(3, (site, listener) => { t = site; l = listener; });

function client(extra: Partial<ConstructorParameters<typeof ImapFlow>[0]> = {}): ImapFlow {
  return new ImapFlow({ host: '127.0.0.1', port: l.port, secure: false, auth: { user: 'bob', pass: 'secret' }, logger: false, ...extra });
}

describe('imapflow', () => {
  it('manages folders, appends, fetches, flags, searches, moves and deletes', async () => {
    const c = client();
    await c.connect();
    await c.mailboxCreate(['Flow', 'Sub']);
    await c.mailboxCreate('Drafts');
    const list = await c.list();
    const paths = list.map((m) => m.path).sort();
    expect(paths).toEqual(['Drafts', 'Flow', 'Flow/Sub', 'INBOX']);
    expect(list.find((m) => m.path === 'Drafts')!.specialUse).toBe('\\Drafts');
    const appended = await c.append('Flow/Sub', 'From: flow@example.com\r\nSubject: via imapflow\r\n\r\nhello flow\r\n', ['\\Seen']);
    expect(appended && appended.uid).toBe(1);
    const lock = await c.getMailboxLock('INBOX');
    try {
      const msgs = [];
      for await (const m of c.fetch('1:*', { uid: true, flags: true, envelope: true, bodyStructure: true, source: true })) msgs.push(m);
      expect(msgs.length).toBe(3);
      expect(msgs[1]!.envelope!.subject).toBe('Test message 2');
      expect(msgs[1]!.envelope!.from![0]!.address).toBe('sender2@example.com');
      expect(msgs[1]!.bodyStructure!.type).toBe('text/plain');
      expect(msgs[1]!.source!.toString()).toContain('Hello, this is message 2.');
      await c.messageFlagsAdd('1:2', ['\\Flagged']);
      expect(await c.search({ flagged: true })).toEqual([1, 2]);
      expect(await c.search({ subject: 'message 3' })).toEqual([3]);
      const moved = await c.messageMove('2', 'Flow/Sub');
      expect(moved && moved.uidMap && moved.uidMap.size).toBe(1);
      await c.messageDelete('1');
      const st = await c.status('INBOX', { messages: true });
      expect(st.messages).toBe(1);
    } finally {
      lock.release();
    }
    const sub = await c.status('Flow/Sub', { messages: true, unseen: true });
    expect(sub.messages).toBe(2);
    await c.logout();
  });

  it('IDLE reports a new delivery', async () => {
    const c = client();
    await c.connect();
    await c.mailboxOpen('INBOX');
    const before = c.mailbox && typeof c.mailbox !== 'boolean' ? c.mailbox.exists : 0;
    const seen = new Promise<number>((resolve) => c.on('exists', (d: { count: number }) => resolve(d.count)));
    const idling = c.idle();
    await new Promise((r) => setTimeout(r, 300));
    appendFileSync(t.site.drop('bob'), mbox([{ text: simpleMessage(50) }]));
    expect(await seen).toBe(before + 1);
    await c.logout();
    await idling.catch(() => undefined);
  });

  it('resynchronises with CONDSTORE and QRESYNC (RFC 7162) after another client changed the folder', async () => {
    const setup = client();
    await setup.connect();
    await setup.mailboxCreate('Sync');
    for (let i = 1; i <= 4; i++) await setup.append('Sync', `From: s${i}@example.com\r\nSubject: sync ${i}\r\n\r\nbody ${i}\r\n`);
    await setup.logout();

    // First session: QRESYNC on, remember UIDVALIDITY and HIGHESTMODSEQ, as a syncing client caches them.
    const c = client({ qresync: true });
    await c.connect();
    expect(c.enabled.has('QRESYNC')).toBe(true);
    expect(c.enabled.has('CONDSTORE')).toBe(true);
    const box = await c.mailboxOpen('Sync');
    const uidValidity = box.uidValidity;
    const highest = box.highestModseq!;
    expect(typeof highest).toBe('bigint');
    const cached = await c.fetchAll('1:*', { uid: true, flags: true }, { uid: true });
    expect(cached.map((m) => m.uid)).toEqual([1, 2, 3, 4]);
    for (const m of cached) expect(m.modseq! <= highest).toBe(true);
    await c.logout();

    // Another client flags 1, deletes 3, appends a fifth.
    const d = client();
    await d.connect();
    await d.mailboxOpen('Sync');
    await d.messageFlagsAdd('1', ['\\Flagged'], { uid: true });
    await d.messageDelete('3', { uid: true });
    await d.append('Sync', 'From: s5@example.com\r\nSubject: sync 5\r\n\r\nbody 5\r\n');
    await d.logout();

    // Reconnect with QRESYNC: SELECT reports what vanished and what changed, nothing else.
    const r = client({ qresync: true });
    const vanished: number[] = [];
    const changed: number[] = [];
    r.on('expunge', (e: { uid?: number; vanished: boolean; earlier?: boolean }) => { if (e.vanished && e.earlier && e.uid) vanished.push(e.uid); });
    r.on('flags', (e: { uid?: number }) => { if (e.uid) changed.push(e.uid); });
    await r.connect();
    const again = await r.mailboxOpen('Sync', { uidValidity, changedSince: highest } as never);
    expect((again as { qresync?: boolean }).qresync).toBe(true);
    expect(vanished).toEqual([3]);
    expect(changed.sort()).toEqual([1, 5]);
    expect(again.highestModseq! > highest).toBe(true);
    // FETCH with changedSince (CHANGEDSINCE ... VANISHED) gives the same picture.
    const since = await r.fetchAll('1:*', { uid: true, flags: true }, { uid: true, changedSince: highest });
    expect(since.map((m) => m.uid).sort()).toEqual([1, 5]);
    expect([...since.find((m) => m.uid === 1)!.flags!]).toContain('\\Flagged');
    // A conditional store against a stale modseq is refused for the changed message only.
    const stale = await r.messageFlagsAdd('1:2', ['\\Seen'], { uid: true, unchangedSince: highest });
    expect(stale).toBe(true);
    const after = await r.fetchAll('1:2', { uid: true, flags: true }, { uid: true });
    expect(after.find((m) => m.uid === 1)!.flags!.has('\\Seen')).toBe(false);
    expect(after.find((m) => m.uid === 2)!.flags!.has('\\Seen')).toBe(true);
    await r.logout();
  });
});
