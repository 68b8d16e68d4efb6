// Opens one mailbox again and again in one process, as a resident worker's sessions do (open, read the
// state, close), with another writer appending between some of them. Reports the time per open and the
// CPU time. Run: node test/store/bench/run.mjs reopen.ts [messages] (mbox)
import { mkdtempSync, rmSync, writeSync, openSync, closeSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MboxStore } from '../../../src/store/mbox/store.js';
import { resolveMboxPaths } from '../../../src/store/paths.js';
import { defaultSettings, quietLog } from '../helpers.js';

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 10_000);
  const dir = mkdtempSync(join(tmpdir(), 'store-reopen-'));
  try {
    const settings = defaultSettings({ drop_path: dir });
    const paths = resolveMboxPaths(settings, { login: 'bob', user: 'bob', dropName: 'bob', info: {} });
    const fd = openSync(paths.inbox, 'w');
    let chunk = '';
    for (let i = 0; i < n; i++) {
      chunk += `From sender${i}@example.com Tue Jan 02 03:04:05 2024\nFrom: Sender ${i} <sender${i}@example.com>\nSubject: message ${i}\nMessage-ID: <m${i}@example.com>\n\nHello ${i}.\n\n`;
      if (chunk.length > 1 << 20) { writeSync(fd, chunk); chunk = ''; }
    }
    writeSync(fd, chunk);
    closeSync(fd);
    const store = new MboxStore(paths, settings, quietLog);
    const session = async () => { const b = await store.open('INBOX'); const k = b.state.messages.length; await b.close(); return k; };
    await session();
    const t = async (label: string, runs: number, between?: (i: number) => void) => {
      const times: number[] = [];
      const cpu0 = process.cpuUsage();
      for (let i = 0; i < runs; i++) {
        between?.(i);
        const s = process.hrtime.bigint();
        await session();
        times.push(Number(process.hrtime.bigint() - s) / 1e6);
      }
      times.sort((a, b) => a - b);
      const cpu = process.cpuUsage(cpu0);
      console.log(`${label.padEnd(40)} median ${times[runs >> 1]!.toFixed(2).padStart(8)} ms  min ${times[0]!.toFixed(2)}  cpu ${((cpu.user + cpu.system) / 1000 / runs).toFixed(2)} ms/open`);
    };
    await t('open unchanged', 30);
    await t('open after 1 delivery', 20, (i) => appendFileSync(paths.inbox, `From x Tue Jan 02 03:04:05 2024\nSubject: new ${i}\n\nnew\n\n`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
