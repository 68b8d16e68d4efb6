// FETCH 1:* ENVELOPE over N messages through the built imapd (real socket, inetd style): the cost of
// reading every message under the store's locks. Usage: node test/store/bench/run.mjs fetch-envelope.ts [N] [runs]
import { writeFileSync, rmSync } from 'node:fs';
import { BIN, makeSite, mbox, simpleMessage } from '../../helpers/site.js';
import { inetdConnect } from '../../helpers/inetd.js';

const n = Number(process.argv[2] ?? 5000);
const runs = Number(process.argv[3] ?? 3);
async function main(): Promise<void> {
const site = makeSite();
try {
  site.addUser('bob', { pass: 'secret' });
  writeFileSync(site.drop('bob'), mbox(Array.from({ length: n }, (_, i) => ({ text: simpleMessage(i + 1) }))));
  const times: number[] = [];
  for (let r = 0; r < runs + 1; r++) {
    const c = await inetdConnect(BIN.imapd, ['-i', site.conf]);
    await c.line();
    c.send('a LOGIN bob secret\r\nb SELECT INBOX\r\n');
    await c.until('b ');
    const t0 = process.hrtime.bigint();
    c.send('c FETCH 1:* ENVELOPE\r\n');
    const lines = await c.until('c ', 120_000);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (lines.length !== n + 1 || !lines[n]!.startsWith('c OK')) throw new Error(`bad answer: ${lines.length} lines, ${lines[lines.length - 1]}`);
    c.send('z LOGOUT\r\n');
    await c.exited();
    if (r > 0) times.push(ms); // the first run builds the index
  }
  times.sort((a, b) => a - b);
  console.log(`FETCH 1:* ENVELOPE, ${n} messages: median ${times[times.length >> 1]!.toFixed(0)} ms (runs: ${times.map((t) => t.toFixed(0)).join(', ')})`);
} finally {
  rmSync(site.dir, { recursive: true, force: true });
}
}

void main();
