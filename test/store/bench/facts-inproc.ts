// Issue 14 speed, in one process (CPU time as well as wall time, steadier on a loaded machine): what a
// warm SORT (DATE), THREAD REFERENCES and FETCH ENVELOPE cost in the store and sort-keys layer over a
// spool (default: the bench's 10k corpus), each run on a fresh MboxStore (a new session's first call).
// Usage: node test/store/bench/run.mjs facts-inproc.ts [spool] [runs]
import { copyFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { timeCases } from './inproc-kit.js';
import { tempUser } from '../helpers.js';
import { messageFacts } from '../../../src/imap/sort-keys.js';
import { sortItems, type SortItem } from '../../../src/imap/sort.js';
import { threadReferences, formatThreads, type ThreadMessage } from '../../../src/imap/thread.js';
import { sentDate } from '../../../src/imap/sort.js';
import type { FactsRequest } from '../../../src/store/types.js';

const spool = process.argv[2] ?? '.bench/corpus/mbox-10k';
const runs = Number(process.argv[3] ?? 3);

async function main(): Promise<void> {
  const u = tempUser();
  try {
    copyFileSync(spool, u.paths.inbox);
    const cases: Record<string, (box: Awaited<ReturnType<ReturnType<typeof u.store>['open']>>) => Promise<number>> = {
      'sort-date': async (box) => {
        const infos = box.state.messages;
        const f = await messageFacts(box, infos);
        const items: SortItem[] = infos.map((info, i) => ({ seq: i + 1, info, facts: f[i]! }));
        return sortItems(items, [{ key: 'DATE', reverse: false }]).length;
      },
      'sort-subject': async (box) => {
        const infos = box.state.messages;
        const f = await messageFacts(box, infos);
        const items: SortItem[] = infos.map((info, i) => ({ seq: i + 1, info, facts: f[i]! }));
        return sortItems(items, [{ key: 'SUBJECT', reverse: false }]).length;
      },
      'thread-refs': async (box) => {
        const infos = box.state.messages;
        const f = await messageFacts(box, infos);
        const msgs: ThreadMessage[] = infos.map((info, i) => ({ n: i + 1, seq: i + 1, date: sentDate(info, f[i]!), subjectKey: f[i]!.subjectKey, replyOrForward: f[i]!.replyOrForward, messageId: f[i]!.messageId, references: f[i]!.references }));
        return formatThreads(threadReferences(msgs)).length;
      },
      'keys-only': async (box) => {
        let n = 0;
        for await (const f of box.facts(box.state.messages.map((m) => m.uid), { sortKeys: true, threading: true })) if (f.exists) n++;
        return n;
      },
      'open-only': async () => 0,
      'envelope': async (box) => {
        let n = 0;
        const want: FactsRequest = { envelope: true };
        for await (const f of box.facts(box.state.messages.map((m) => m.uid), want)) n += f.envelope!.length;
        return n;
      },
    };
    // Cold: builds the index and both cache files.
    {
      const box = await u.store().open('INBOX');
      const t0 = performance.now();
      await cases['envelope']!(box);
      await cases['thread-refs']!(box);
      console.log(`cold (parse all): ${(performance.now() - t0).toFixed(0)} ms`);
      await box.close();
    }
    await timeCases(cases, () => u.store().open('INBOX'), runs, {
      afterRun: process.env.SIZES ? () => console.log(readdirSync(u.paths.indexDir).map((f) => `${f} ${statSync(join(u.paths.indexDir, f)).size}`).join('; ')) : undefined,
    });
  } finally {
    u.cleanup();
  }
}

void main();
