// Issue 14 speed, in one process: what SORT (DATE) and THREAD REFERENCES cost after SELECT (the
// store's keys file and the imap layer, as commands/sort.ts and thread.ts call them), each run on a
// fresh MboxStore handle as a resident worker's next session would, the process's cache budget as
// given (BUDGET bytes, default the process default). The spool and its index stay in DIR between runs
// of this script (the first run parses every message).
// Usage: DIR=/tmp/x [BUDGET=n] [PROF=file] [CASES=sort-date,thread-refs] [NODE_OPTIONS=--expose-gc] node test/store/bench/run.mjs keys-inproc.ts [spool] [runs]
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { timeCases } from './inproc-kit.js';
import { defaultSettings } from '../helpers.js';
import { resolveMboxPaths } from '../../../src/store/paths.js';
import { MboxStore } from '../../../src/store/mbox/store.js';
import { processCaches } from '../../../src/store/process-cache.js';
import { messageFacts } from '../../../src/imap/sort-keys.js';
import { numberLine, sortOrder } from '../../../src/imap/sort.js';
import { formatThreads } from '../../../src/imap/thread.js';
import { referencesTree } from '../../../src/imap/commands/thread.js';
import type { Mailbox } from '../../../src/store/types.js';

const spool = process.argv[2] ?? '.bench/corpus/mbox-10k';
const runs = Number(process.argv[3] ?? 5);
const quiet = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } } as never;

async function main(): Promise<void> {
  const dir = process.env.DIR ?? '/tmp/keys-inproc';
  const sp = join(dir, 'spool');
  mkdirSync(sp, { recursive: true });
  const settings = defaultSettings({ drop_path: sp });
  const paths = resolveMboxPaths(settings, { login: 'bob', user: 'bob', dropName: 'bob', info: {} });
  if (process.env.BUDGET) processCaches.setBudget(Number(process.env.BUDGET));
  const store = () => new MboxStore(paths, settings, quiet);
  const cases: Record<string, (box: Mailbox) => Promise<number>> = {
    'sort-date': async (box) => {
      const infos = box.state.messages;
      const seqs = new Uint32Array(infos.length);
      for (let i = 0; i < infos.length; i++) seqs[i] = i + 1;
      const kc = box.keyColumns ? await box.keyColumns(infos.map((m) => m.uid), {}) : null;
      const f = kc ? null : await messageFacts(box, infos);
      const order = sortOrder(infos, seqs, f, [{ key: 'DATE', reverse: false }], kc?.sentDate);
      const nums: number[] = [];
      for (let i = 0; i < order.length; i++) nums.push(seqs[order[i]!]!);
      return numberLine('* SORT', nums, '\r\n').length;
    },
    'thread-refs': async (box) => {
      const infos = box.state.messages;
      return formatThreads(await referencesTree(box, infos.map((info, i) => ({ info, index: i })), false)).length;
    },
  };
  if (!existsSync(paths.inbox)) {
    copyFileSync(spool, paths.inbox);
    const box = await store().open('INBOX');
    const t0 = performance.now();
    await cases['sort-date']!(box);
    await cases['thread-refs']!(box);
    console.log(`cold (parse all): ${(performance.now() - t0).toFixed(0)} ms`);
    await box.close();
  }
  await timeCases(cases, () => store().open('INBOX'), runs, {
    profileFrom: 1,
    ready: (box) => { void box.state.messages.length; }, // SELECT's part, not measured
    extra: () => {
      const st = processCaches.stats();
      const each = Object.entries(st.caches).map(([k, v]) => `${k} ${(v.bytes / 1e6).toFixed(1)}`).join(', ');
      return `cache ${(st.bytes / 1e6).toFixed(1)} MB (${each})`;
    },
  });
  // With NODE_OPTIONS=--expose-gc: what the idle entries really keep alive (heap and buffers after a full
  // GC, with them and after dropping them) beside the caches' own figures.
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    const live = () => { gc(); gc(); const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; };
    const caches = (processCaches as unknown as { caches: Set<{ name: string; clear(): void; stats(): { bytes: number } }> }).caches;
    for (const c of caches) {
      const figure = c.stats().bytes;
      if (!figure) continue;
      const kept = live();
      c.clear();
      console.log(`idle ${c.name}: figure ${(figure / 1e6).toFixed(1)} MB, freed when dropped ${((kept - live()) / 1e6).toFixed(1)} MB`);
    }
  }
}

void main();
