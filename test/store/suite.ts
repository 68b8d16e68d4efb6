// Interface-level tests of a MailStore, shared by every storage back end (mbox here, maildir in
// test/maildir). Each test gets a fresh user from `make()`; `openSession()` gives a second, independent
// store on the same user (another IMAP/POP3 process) to prove sessions see each other's changes.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import type { MailStore, Mailbox } from '../../src/store/types.js';
import { StoreError } from '../../src/store/types.js';

export interface SuiteFixture {
  store: MailStore;
  /** Deliver a message into INBOX the way the MDA does (LF line endings, no status headers). */
  deliver(raw: string): Promise<void>;
  /** A second store instance on the same user, as another process would open it. */
  openSession(): Promise<MailStore>;
  cleanup(): Promise<void>;
}

export interface SuiteOptions {
  /** True when a folder may hold messages and subfolders at once (maildir); false for UW mbox rules. */
  folderHoldsBoth?: boolean;
}

export function msg(i: number, extra = ''): string {
  return `From: Sender ${i} <s${i}@example.com>\nTo: bob@example.com\nSubject: message ${i}\n` +
    `Message-ID: <m${i}@example.com>\n${extra}\nBody of message ${i}.\nSecond line.\n`;
}

const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');

async function expectCode(p: Promise<unknown>, code: StoreError['code']): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err, `expected StoreError ${code}`).toBeInstanceOf(StoreError);
  expect((err as StoreError).code).toBe(code);
}

const streamToBuffer = async (s: NodeJS.ReadableStream): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
};

export function storeSuite(label: string, make: () => Promise<SuiteFixture>, opts: SuiteOptions = {}): void {
  describe(`MailStore suite: ${label}`, () => {
    let fx: SuiteFixture;
    const boxes: Mailbox[] = [];
    const open = async (s: MailStore, name = 'INBOX', o?: Parameters<MailStore['open']>[1]) => {
      const b = await s.open(name, o);
      boxes.push(b);
      return b;
    };
    beforeEach(async () => { fx = await make(); });
    afterEach(async () => {
      for (const b of boxes.splice(0)) await b.close().catch(() => undefined);
      await fx.cleanup();
    });

    it('opens an empty INBOX with a UIDVALIDITY', async () => {
      const box = await open(fx.store);
      expect(box.state.messages).toHaveLength(0);
      expect(box.state.uidValidity).toBeGreaterThan(0);
      expect(box.state.uidNext).toBeGreaterThanOrEqual(1);
    });

    it('lists delivered messages with ascending UIDs, CRLF sizes and CRLF bodies', async () => {
      for (let i = 1; i <= 3; i++) await fx.deliver(msg(i));
      const box = await open(fx.store);
      const m = box.state.messages;
      expect(m).toHaveLength(3);
      expect(m[0]!.uid).toBeLessThan(m[1]!.uid);
      expect(m[1]!.uid).toBeLessThan(m[2]!.uid);
      expect(box.state.uidNext).toBeGreaterThan(m[2]!.uid);
      for (let i = 0; i < 3; i++) {
        const body = await box.read(m[i]!.uid);
        expect(body.toString('latin1')).toBe(crlf(msg(i + 1)));
        expect(m[i]!.size).toBe(body.length);
        expect(m[i]!.flags.size).toBe(0);
      }
    });

    it('streams byte ranges that match read()', async () => {
      await fx.deliver(msg(1));
      const box = await open(fx.store);
      const uid = box.state.messages[0]!.uid;
      const whole = await box.read(uid);
      expect(await streamToBuffer(box.stream(uid))).toEqual(whole);
      expect(await streamToBuffer(box.stream(uid, 5, 20))).toEqual(whole.subarray(5, 20));
      expect(await streamToBuffer(box.stream(uid, whole.length - 3))).toEqual(whole.subarray(whole.length - 3));
    });

    it('keeps a body line starting with "From " intact', async () => {
      const raw = 'Subject: quoting\n\nFrom the desk of Bob\n>From already quoted\nend\n';
      await fx.store.append('INBOX', Buffer.from(raw));
      await fx.deliver(msg(2));
      const box = await open(fx.store);
      expect(box.state.messages).toHaveLength(2);
      expect((await box.read(box.state.messages[0]!.uid)).toString('latin1')).toBe(crlf(raw));
    });

    it('appends with flags and an internal date', async () => {
      const date = new Date('2023-05-06T07:08:09Z');
      const res = await fx.store.append('INBOX', Buffer.from(crlf(msg(7))), ['\\Seen', '\\Flagged', 'Work'], date);
      const box = await open(fx.store);
      expect(res.uidValidity).toBe(box.state.uidValidity);
      const m = box.state.messages.find((x) => x.uid === res.uid);
      expect(m).toBeDefined();
      expect([...m!.flags].sort()).toEqual(['Work', '\\Flagged', '\\Seen'].sort());
      expect(Math.floor(m!.internalDate.getTime() / 1000)).toBe(Math.floor(date.getTime() / 1000));
      expect((await box.read(res.uid)).toString('latin1')).toBe(crlf(msg(7)));
    });

    it('stores flags (add, remove, replace) and keeps them across sessions', async () => {
      for (let i = 1; i <= 3; i++) await fx.deliver(msg(i));
      const box = await open(fx.store);
      const [a, b] = box.state.messages.map((m) => m.uid);
      let st = await box.setFlags([a!], 'add', ['\\Seen', '\\Answered']);
      expect([...st.messages.find((m) => m.uid === a)!.flags].sort()).toEqual(['\\Answered', '\\Seen']);
      st = await box.setFlags([a!], 'remove', ['\\Answered']);
      expect([...st.messages.find((m) => m.uid === a)!.flags]).toEqual(['\\Seen']);
      st = await box.setFlags([b!], 'replace', ['\\Draft', '$Label1']);
      expect([...st.messages.find((m) => m.uid === b)!.flags].sort()).toEqual(['$Label1', '\\Draft']);
      st = await box.setFlags([999999], 'add', ['\\Seen']);
      expect(st.messages).toHaveLength(3);

      const other = await open(await fx.openSession());
      expect(other.state.messages.map((m) => m.uid)).toEqual(box.state.messages.map((m) => m.uid));
      expect([...other.state.messages[0]!.flags]).toEqual(['\\Seen']);
      expect([...other.state.messages[1]!.flags].sort()).toEqual(['$Label1', '\\Draft']);
      expect(other.state.messages[2]!.flags.size).toBe(0);
      for (const m of other.state.messages) {
        expect((await other.read(m.uid)).length).toBe(m.size);
      }
    });

    it('expunges \\Deleted messages or given UIDs and never reuses a UID', async () => {
      for (let i = 1; i <= 5; i++) await fx.deliver(msg(i));
      const box = await open(fx.store);
      const uids = box.state.messages.map((m) => m.uid);
      await box.setFlags([uids[0]!, uids[2]!], 'add', ['\\Deleted']);
      expect((await box.expunge()).sort((x, y) => x - y)).toEqual([uids[0], uids[2]]);
      expect(box.state.messages.map((m) => m.uid)).toEqual([uids[1], uids[3], uids[4]]);
      expect(await box.expunge([uids[4]!, 424242])).toEqual([uids[4]]);
      expect(box.state.messages.map((m) => m.uid)).toEqual([uids[1], uids[3]]);
      expect((await box.read(uids[3]!)).toString('latin1')).toBe(crlf(msg(4)));

      const other = await open(await fx.openSession());
      expect(other.state.messages.map((m) => m.uid)).toEqual([uids[1], uids[3]]);
      await fx.deliver(msg(6));
      await other.refresh();
      const fresh = other.state.messages[2]!.uid;
      expect(fresh).toBeGreaterThan(uids[4]!);
      expect(other.state.uidValidity).toBe(box.state.uidValidity);
    });

    it('sees another session\'s flag changes, expunges and new deliveries on refresh', async () => {
      for (let i = 1; i <= 3; i++) await fx.deliver(msg(i));
      const a = await open(fx.store);
      const b = await open(await fx.openSession());
      const uids = a.state.messages.map((m) => m.uid);
      expect(b.state.messages.map((m) => m.uid)).toEqual(uids);

      await a.setFlags([uids[1]!], 'add', ['\\Flagged']);
      let st = await b.refresh();
      expect(st.messages.find((m) => m.uid === uids[1])!.flags.has('\\Flagged')).toBe(true);

      await b.expunge([uids[0]!]);
      st = await a.refresh();
      expect(st.messages.map((m) => m.uid)).toEqual([uids[1], uids[2]]);

      await fx.deliver(msg(4));
      const sa = await a.refresh();
      const sb = await b.refresh();
      expect(sa.messages).toHaveLength(3);
      expect(sa.messages.map((m) => m.uid)).toEqual(sb.messages.map((m) => m.uid));
      expect((await b.read(sa.messages[2]!.uid)).toString('latin1')).toBe(crlf(msg(4)));
    });

    it('gives \\Recent to exactly one claiming session', async () => {
      await fx.deliver(msg(1));
      const a = await open(fx.store, 'INBOX', { claimRecent: true });
      expect(a.state.messages[0]!.recent).toBe(true);
      const b = await open(await fx.openSession(), 'INBOX', { claimRecent: true });
      expect(b.state.messages[0]!.recent).toBe(false);
      const st = await fx.store.status('INBOX');
      expect(st.messages).toBe(1);
    });

    it('shows \\Recent to a session that does not claim it (EXAMINE), without taking it', async () => {
      await fx.deliver(msg(1));
      const ex = await open(fx.store, 'INBOX', { readOnly: true });
      expect(ex.state.messages[0]!.recent).toBe(true);
      expect((await fx.store.status('INBOX')).recent).toBe(1);
      const a = await open(await fx.openSession(), 'INBOX', { claimRecent: true });
      expect(a.state.messages[0]!.recent).toBe(true);
      expect((await fx.store.status('INBOX')).recent).toBe(0);
    });

    it('reports STATUS counts', async () => {
      for (let i = 1; i <= 3; i++) await fx.deliver(msg(i));
      const box = await open(fx.store);
      await box.setFlags([box.state.messages[0]!.uid], 'add', ['\\Seen']);
      const st = await fx.store.status('INBOX');
      expect(st.messages).toBe(3);
      expect(st.unseen).toBe(2);
      expect(st.uidValidity).toBe(box.state.uidValidity);
      expect(st.uidNext).toBe(box.state.uidNext);
      expect(st.size).toBe(box.state.messages.reduce((n, m) => n + m.size, 0));
    });

    it('copies messages into another folder with new UIDs and flags kept', async () => {
      for (let i = 1; i <= 2; i++) await fx.deliver(msg(i));
      await fx.store.create('Archive');
      const box = await open(fx.store);
      const uids = box.state.messages.map((m) => m.uid);
      await box.setFlags([uids[0]!], 'add', ['\\Seen']);
      const res = await fx.store.copy(box, uids, 'Archive');
      expect(res.sourceUids).toEqual(uids);
      expect(res.destUids).toHaveLength(2);
      const arch = await open(fx.store, 'Archive');
      expect(arch.state.uidValidity).toBe(res.uidValidity);
      expect(arch.state.messages.map((m) => m.uid)).toEqual(res.destUids);
      expect(arch.state.messages[0]!.flags.has('\\Seen')).toBe(true);
      expect((await arch.read(res.destUids[1]!)).toString('latin1')).toBe(crlf(msg(2)));
      await expectCode(fx.store.copy(box, uids, 'NoSuchFolder'), 'NONEXISTENT');
    });

    it('creates, lists, renames and deletes folders', async () => {
      await fx.store.create('Sent');
      await fx.store.create('Work/2024');
      await expectCode(fx.store.create('Sent'), 'ALREADYEXISTS');
      let list = await fx.store.list();
      const byName = new Map(list.map((f) => [f.name, f]));
      expect(byName.has('INBOX')).toBe(true);
      expect(byName.get('Sent')!.noselect).toBe(false);
      expect(byName.get('Work')!.hasChildren).toBe(true);
      expect(byName.get('Work/2024')!.hasChildren).toBe(false);
      if (!opts.folderHoldsBoth) {
        expect(byName.get('Work')!.noselect).toBe(true);
        expect(byName.get('Sent')!.noinferiors).toBe(true);
      }
      expect(list.some((f) => f.name.includes('mailboxlist'))).toBe(false);

      await fx.store.append('Sent', Buffer.from(msg(1)));
      await fx.store.rename('Sent', 'Sent Items');
      list = await fx.store.list();
      expect(list.some((f) => f.name === 'Sent')).toBe(false);
      const moved = await open(fx.store, 'Sent Items');
      expect(moved.state.messages).toHaveLength(1);
      await moved.close();
      await expectCode(fx.store.open('Sent'), 'NONEXISTENT');

      await fx.store.delete('Sent Items');
      await expectCode(fx.store.open('Sent Items'), 'NONEXISTENT');
      await expectCode(fx.store.delete('Nope'), 'NONEXISTENT');
      await expectCode(fx.store.delete('INBOX'), 'CANNOT');
    });

    it('renaming INBOX moves its messages and leaves INBOX empty', async () => {
      for (let i = 1; i <= 2; i++) await fx.deliver(msg(i));
      await fx.store.rename('INBOX', 'Old');
      const inbox = await open(fx.store);
      expect(inbox.state.messages).toHaveLength(0);
      const old = await open(fx.store, 'Old');
      expect(old.state.messages).toHaveLength(2);
      expect((await old.read(old.state.messages[1]!.uid)).toString('latin1')).toBe(crlf(msg(2)));
    });

    it('keeps subscriptions', async () => {
      await fx.store.create('A');
      await fx.store.subscribe('A');
      await fx.store.subscribe('INBOX');
      await fx.store.subscribe('A');
      expect((await fx.store.subscriptions()).sort()).toEqual(['A', 'INBOX']);
      await fx.store.unsubscribe('A');
      const other = await fx.openSession();
      expect(await other.subscriptions()).toEqual(['INBOX']);
    });

    it('refuses names that would leave the mail area', async () => {
      for (const bad of ['../x', 'a/../../x', '/etc/passwd', 'a\0b', '..']) {
        const err = await fx.store.create(bad).then(() => undefined, (e: unknown) => e);
        expect(err, bad).toBeInstanceOf(StoreError);
        await expect(fx.store.open(bad)).rejects.toBeInstanceOf(StoreError);
      }
    });

    it('opens read-only without changing anything and reports usage', async () => {
      await fx.deliver(msg(1));
      const ro = await open(fx.store, 'INBOX', { readOnly: true });
      expect(ro.readOnly).toBe(true);
      expect(ro.state.messages).toHaveLength(1);
      await expect(ro.setFlags([ro.state.messages[0]!.uid], 'add', ['\\Seen'])).rejects.toBeInstanceOf(StoreError);
      expect(await fx.store.usage()).toBeGreaterThan(0);
    });
  });
}
