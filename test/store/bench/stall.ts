// Issue 12: how long each store operation holds the event loop of the process that runs it (in resident
// mode, every other session of that process waits that long). For each operation: its total time and
// the longest stretch without an event-loop turn (a setImmediate ticker). Not a test: figures.
// Run: node test/store/bench/run.mjs stall.ts [mbox messages] [maildir messages]
import { mkdtempSync, rmSync, writeSync, openSync, closeSync, unlinkSync, mkdirSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MboxStore } from '../../../src/store/mbox/store.js';
import { createMaildirStore } from '../../../src/store/maildir/index.js';
import { resolveMboxPaths } from '../../../src/store/paths.js';
import type { Mailbox, MailStore } from '../../../src/store/types.js';
import { defaultSettings, quietLog } from '../helpers.js';

async function measure(label: string, f: () => Promise<unknown>): Promise<void> {
  let stop = false;
  let last = process.hrtime.bigint();
  let worst = 0n;
  const tick = () => {
    const now = process.hrtime.bigint();
    if (now - last > worst) worst = now - last;
    last = now;
    if (!stop) setImmediate(tick);
  };
  setImmediate(tick);
  const s = process.hrtime.bigint();
  await f();
  const total = Number(process.hrtime.bigint() - s) / 1e6;
  stop = true;
  const now = process.hrtime.bigint();
  if (now - last > worst) worst = now - last;
  console.log(`${label.padEnd(52)} total ${total.toFixed(0).padStart(6)} ms   longest stall ${(Number(worst) / 1e6).toFixed(0).padStart(6)} ms`);
}

function message(i: number): string {
  return `From: Sender ${i} <sender${i}@example.com>\nTo: bob@example.com\nSubject: message number ${i}\nDate: Tue, 02 Jan 2024 03:04:05 +0000\nMessage-ID: <m${i}@example.com>\n\n` +
    `Hello, this is message ${i}.\n`.repeat(1 + (i % 20));
}

async function mbox(n: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'stall-mbox-'));
  try {
    const settings = defaultSettings({ drop_path: dir });
    const paths = resolveMboxPaths(settings, { login: 'bob', user: 'bob', dropName: 'bob', info: {} });
    const fd = openSync(paths.inbox, 'w');
    let chunk = '';
    for (let i = 0; i < n; i++) {
      chunk += `From sender${i}@example.com Tue Jan 02 03:04:05 2024\n${message(i)}\n`;
      if (chunk.length > 1 << 20) { writeSync(fd, chunk); chunk = ''; }
    }
    writeSync(fd, chunk);
    closeSync(fd);
    console.log(`mbox: ${n} messages, ${(statSync(paths.inbox).size / 1048576).toFixed(0)} MB`);
    const store = new MboxStore(paths, settings, quietLog);
    let box: Mailbox | undefined;
    await measure('cold open (full parse, index written)', async () => { box = await store.open('INBOX'); });
    await box!.close();
    await measure('warm open (index current)', async () => { box = await store.open('INBOX'); });
    const uids = box!.state.messages.map((m) => m.uid);
    await measure('STORE first message (stamps the whole spool once)', () => box!.setFlags([uids[0]!], 'add', ['\\Seen']));
    await measure('STORE first message again (in place)', () => box!.setFlags([uids[0]!], 'add', ['\\Flagged']));
    await measure('EXPUNGE first message (rewrites the whole spool)', async () => { await box!.expunge([uids[0]!]); box!.acknowledge(box!.state); await box!.setFlags([uids[1]!], 'add', ['\\Seen']); });
    await measure('EXPUNGE last message', async () => { await box!.expunge([uids[uids.length - 1]!]); box!.acknowledge(box!.state); await box!.setFlags([uids[1]!], 'add', ['\\Flagged']); });
    await box!.close();
    unlinkSync(join(paths.indexDir, 'INBOX.idx'));
    await measure('cold open again (index deleted: rebuild)', async () => { box = await store.open('INBOX'); });
    await box!.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function maildir(n: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'stall-maildir-'));
  try {
    const root = join(dir, 'bob.mdir');
    for (const d of ['new', 'cur', 'tmp']) mkdirSync(join(root, d), { recursive: true });
    for (let i = 0; i < n; i++) writeFileSync(join(root, 'cur', `${1700000000 + i}.M${i}P1.host:2,`), message(i));
    console.log(`maildir: ${n} messages`);
    const settings = defaultSettings({ use_maildir: true });
    const open = (): MailStore => createMaildirStore({ inbox: root, folders: root, indexDir: root, kind: 'maildir' }, settings, quietLog);
    let box: Mailbox | undefined;
    await measure('cold open (scan, uidlist and index written)', async () => { box = await open().open('INBOX'); });
    await box!.close();
    await measure('warm open (index current)', async () => { box = await open().open('INBOX'); });
    const uids = box!.state.messages.map((m) => m.uid);
    await measure('STORE first message', () => box!.setFlags([uids[0]!], 'add', ['\\Seen']));
    await measure('EXPUNGE first message', async () => { await box!.expunge([uids[0]!]); box!.acknowledge(box!.state); await box!.setFlags([uids[1]!], 'add', ['\\Seen']); });
    await box!.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  await mbox(Number(process.argv[2] ?? 100_000));
  await maildir(Number(process.argv[3] ?? 20_000));
}
main().catch((e) => { console.error(e); process.exit(1); });
