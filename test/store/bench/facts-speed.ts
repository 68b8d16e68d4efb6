// Issue 14 speed: the commands the facts cache serves, through the built imapd (inetd style), warm (the
// cache written by a first session) over a given spool (default: the bench's 10k corpus). Prints each
// command's time; with PROF=dir the measured sessions run with --cpu-prof into dir.
// Usage: node test/store/bench/run.mjs facts-speed.ts [spool] [runs]
import { copyFileSync, readFileSync, rmSync } from 'node:fs';

/** CPU ms (user + system) a process used so far (Linux /proc, 10 ms ticks). */
function cpuOf(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(x[11]) + Number(x[12])) * 10;
  } catch { return NaN; }
}
import { BIN, makeSite } from '../../helpers/site.js';
import { inetdConnect } from '../../helpers/inetd.js';

const spool = process.argv[2] ?? '.bench/corpus/mbox-10k';
const runs = Number(process.argv[3] ?? 2);
const CMDS = (process.env.CMDS ?? 'FETCH 1:* ENVELOPE|UID SEARCH FROM "Victor"|SORT (DATE) UTF-8 ALL|THREAD REFERENCES UTF-8 ALL|SORT (SUBJECT) UTF-8 ALL|UID SEARCH TEXT "zqxj"').split('|');

const cpu: number[] = [];
async function session(conf: string, cmds: string[], prof?: string): Promise<number[]> {
  const c = prof
    ? await inetdConnect(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${prof}`, BIN.imapd, '-i', conf])
    : await inetdConnect(BIN.imapd, ['-i', conf]);
  await c.line();
  c.send('a LOGIN bob secret\r\nb SELECT INBOX\r\n');
  await c.until('b ', 300_000);
  const out: number[] = [];
  for (const [i, cmd] of cmds.entries()) {
    const c0 = cpuOf(c.child.pid);
    const t0 = process.hrtime.bigint();
    c.send(`c${i} ${cmd}\r\n`);
    const lines = await c.until(`c${i} `, 300_000);
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
    cpu.push(cpuOf(c.child.pid) - c0);
    if (!lines[lines.length - 1]!.startsWith(`c${i} OK`)) throw new Error(`${cmd}: ${lines[lines.length - 1]}`);
  }
  c.send('z LOGOUT\r\n');
  await c.exited();
  return out;
}

async function main(): Promise<void> {
  const site = makeSite();
  try {
    site.addUser('bob', { pass: 'secret' });
    copyFileSync(spool, site.drop('bob'));
    let t0 = Date.now();
    const cold = await session(site.conf, CMDS);
    console.log(`cold (index + cache built): ${CMDS.map((c, i) => `${c}: ${cold[i]!.toFixed(0)}`).join(' | ')}  [${Date.now() - t0} ms]`);
    for (const cmd of CMDS) {
      const times: number[] = [];
      cpu.length = 0;
      for (let r = 0; r < runs; r++) times.push((await session(site.conf, [cmd], process.env.PROF))[0]!);
      console.log(`warm ${cmd}: wall ${times.map((t) => t.toFixed(0)).join(', ')} ms; server cpu ${cpu.join(', ')} ms`);
    }
  } finally {
    rmSync(site.dir, { recursive: true, force: true });
  }
}

void main();
