// The in-process mailbox bus (store/bus.ts): a Mailbox.watch() subscribes to its mailbox's key, and a
// change made through another store of the same process (another session) publishes that key, on both
// back ends. End to end (IDLE woken by another session of one process) is in test/imap/host.test.ts.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MailboxBus } from '../../src/store/bus.js';
import { MboxStore } from '../../src/store/mbox/store.js';
import { createMaildirStore } from '../../src/store/maildir/index.js';
import type { MailStore } from '../../src/store/types.js';
import { defaultSettings, quietLog, tempUser } from './helpers.js';

const cleanup: (() => void)[] = [];
afterEach(() => { for (const f of cleanup.splice(0)) f(); });
const turn = () => new Promise((r) => setImmediate(r));

async function wiring(open: () => Promise<MailStore>, bus: MailboxBus): Promise<void> {
  const a = await open();
  const b = await open();
  await a.append('INBOX', Buffer.from('Subject: one\r\n\r\nbody\r\n'));
  const boxA = await a.open('INBOX');
  const boxB = await b.open('INBOX');
  expect(bus.keys()).toEqual([]);
  const stop = boxA.watch(() => undefined);
  const keys = bus.keys();
  expect(keys).toHaveLength(1);
  let heard = 0;
  const probe = bus.subscribe(keys[0]!, () => { heard++; });
  await boxB.setFlags([boxB.state.messages[0]!.uid], 'add', ['\\Flagged']);
  await turn();
  expect(heard).toBe(1);
  await b.append('INBOX', Buffer.from('Subject: two\r\n\r\nbody\r\n'));
  await turn();
  expect(heard).toBe(2);
  await boxB.expunge([boxB.state.messages[0]!.uid]);
  await turn();
  expect(heard).toBeGreaterThanOrEqual(3);
  probe();
  stop();
  expect(bus.keys()).toEqual([]);
  await boxA.close();
  await boxB.close();
}

describe('in-process mailbox bus', () => {
  it('mbox: a watch subscribes, another store\'s flag change, append and expunge publish', async () => {
    const u = tempUser();
    cleanup.push(() => u.cleanup());
    const bus = new MailboxBus();
    await wiring(async () => new MboxStore(u.paths, u.settings, quietLog, bus), bus);
  });

  it('maildir: the same', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-bus-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const root = join(dir, 'bob.mdir');
    mkdirSync(root);
    const settings = defaultSettings({ use_maildir: true, lock_timeout: 20 });
    const bus = new MailboxBus();
    await wiring(async () => createMaildirStore({ inbox: root, folders: root, indexDir: root, kind: 'maildir' }, settings, quietLog, bus), bus);
  });
});
