// Measures opening a 100,000-message spool: cold (full parse, no index), warm (index current: read the
// index + stat), grown (index current + 100 new messages: tail parse), refresh when unchanged.
// Run: node test/store/bench/run.mjs [messages]
import { mkdtempSync, rmSync, writeSync, openSync, closeSync, unlinkSync, appendFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { MboxStore } from '../../../src/store/mbox/store.js';
import { resolveMboxPaths } from '../../../src/store/paths.js';
import { defaultSettings, quietLog } from '../helpers.js';

/** Child mode: one warm open in a fresh process, as a per-connection server does it. */
async function openOnce(dir: string): Promise<void> {
  const settings = defaultSettings({ drop_path: dir });
  const paths = resolveMboxPaths(settings, { login: 'bob', user: 'bob', dropName: 'bob', info: {} });
  const s = process.hrtime.bigint();
  const box = await new MboxStore(paths, settings, quietLog).open('INBOX');
  const ms = Number(process.hrtime.bigint() - s) / 1e6;
  console.log(`${'warm open in a fresh process'.padEnd(46)} ${ms.toFixed(1).padStart(9)} ms  (${box.state.messages.length} messages)`);
}

async function main(): Promise<void> {
  if (process.argv[2] === 'open') return openOnce(process.argv[3]!);
  const n = Number(process.argv[2] ?? 100_000);
  const dir = mkdtempSync(join(tmpdir(), 'store-bench-'));
  try {
    const settings = defaultSettings({ drop_path: dir });
    const paths = resolveMboxPaths(settings, { login: 'bob', user: 'bob', dropName: 'bob', info: {} });
    const fd = openSync(paths.inbox, 'w');
    let chunk = '';
    for (let i = 0; i < n; i++) {
      chunk += `From sender${i}@example.com Tue Jan 02 03:04:05 2024\nReturn-Path: <sender${i}@example.com>\nFrom: Sender ${i} <sender${i}@example.com>\nTo: bob@example.com\nSubject: message number ${i}\nDate: Tue, 02 Jan 2024 03:04:05 +0000\nMessage-ID: <m${i}@example.com>\n\n` +
        `Hello, this is message ${i}.\n`.repeat(1 + (i % 20)) + '\n';
      if (chunk.length > 1 << 20) { writeSync(fd, chunk); chunk = ''; }
    }
    writeSync(fd, chunk);
    closeSync(fd);
    const size = statSync(paths.inbox).size;
    const t = async (label: string, f: () => Promise<unknown>) => {
      const s = process.hrtime.bigint();
      await f();
      const ms = Number(process.hrtime.bigint() - s) / 1e6;
      console.log(`${label.padEnd(46)} ${ms.toFixed(1).padStart(9)} ms`);
      return ms;
    };
    console.log(`spool: ${n} messages, ${(size / 1048576).toFixed(1)} MB`);
    const open = async () => { const b = await new MboxStore(paths, settings, quietLog).open('INBOX'); if (b.state.messages.length < n) throw new Error('short'); return b; };
    const cold = await t('cold open (full parse, writes index)', open);
    const idx = join(paths.indexDir, 'INBOX.idx');
    console.log(`index: ${(statSync(idx).size / 1048576).toFixed(1)} MB`);
    const warm: number[] = [];
    for (let i = 0; i < 3; i++) warm.push(await t(`warm open #${i + 1} (index current)`, open));
    for (let i = 0; i < 3; i++) execFileSync(process.execPath, [process.argv[1]!, 'open', dir], { stdio: 'inherit' });
    for (let i = 0; i < 100; i++) appendFileSync(paths.inbox, `From x Tue Jan 02 03:04:05 2024\nSubject: new ${i}\n\nnew\n\n`);
    await t('open after 100 deliveries (tail parse)', open);
    const box = await open();
    await t('refresh, unchanged (stat only)', () => box.refresh());
    const first = box.state.messages[0]!.uid;
    await t('STORE first message (stamps whole spool once)', () => box.setFlags([first], 'add', ['\\Seen']));
    await t('STORE first message again (in place)', () => box.setFlags([first], 'add', ['\\Flagged']));
    await t('FETCH one message (lock + read)', () => box.read(box.state.messages[n >> 1]!.uid));
    await t('EXPUNGE last message', () => box.expunge([box.state.messages[box.state.messages.length - 1]!.uid]));
    unlinkSync(idx);
    await t('cold open again (index deleted)', open);
    const w = Math.min(...warm);
    console.log(`warm/cold = ${(w / cold * 100).toFixed(1)}%`);
  } finally {
    if (process.env.KEEP) console.log("kept", dir); else rmSync(dir, { recursive: true, force: true });
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
