// Crash safety of the sliced rewrites (issue 12, store/pace.ts): kill -9 at the named steps inside the
// sliced phases — a chunk of the journal written with more to come ('journal-slice'), a chunk of the
// journal copied into the spool with more to come ('copy-slice') — for each kind of long rewrite: the
// first STORE stamping the whole spool, an expunge of an unstamped first message, and the removal of an
// expunged first message (purge at close). The spool holds a message over 1 MB, so every one of these
// rewrites spans several slices. Afterwards a fresh store and a raw parse show every message that should
// be there, byte for byte (crash-kit.ts), exactly as for the other kill points (crash.test.ts).
import { describe, it, expect } from 'vitest';
import { tempUser } from './helpers.js';
import { N, seed, inspect, crashWorker } from './crash-kit.js';

const runWorker = crashWorker();

describe('kill -9 inside the sliced phase of a long rewrite', () => {
  for (const variant of ['flags', 'expunge-first', 'purge-first'] as const) {
    for (const point of ['journal-slice', 'copy-slice']) {
      it(`${variant} killed at ${point}`, async () => {
        const u = tempUser();
        try {
          const expected = seed(u);
          const pre = await inspect(u, expected);
          expect(pre.views).toHaveLength(N);
          if (variant === 'purge-first') {
            // Stamped and marked first: the worker's expunge touches nothing, its close removes it.
            const box = await u.store().open('INBOX');
            const uids = box.state.messages.map((m) => m.uid);
            await box.setFlags(uids, 'add', ['\\Answered']);
            await box.setFlags([uids[0]!], 'add', ['\\Deleted']);
            await box.close();
          }
          const op = variant === 'purge-first' ? 'expunge-first' : variant;
          const r = await runWorker(u, op, { DMAIL_STORE_KILLPOINT: point });
          expect(r.signal, `${variant}@${point}: ${r.stderr}`).toBe('SIGKILL');
          const out = await inspect(u, expected);
          if (op === 'expunge-first') {
            // Decided by its change-log record, written before any spool byte: never back.
            expect(out.base.size).toBe(N - 1);
            expect(out.base.has('<base-1@x>')).toBe(false);
          } else {
            expect(out.base.size).toBe(N);
            const box = await u.store().open('INBOX');
            const f = [...box.state.messages[0]!.flags].sort();
            // 'journal-slice' is before the journal is complete (old spool), 'copy-slice' after (new).
            expect(f).toEqual(point === 'copy-slice' ? ['Kw0', '\\Flagged', '\\Seen'] : []);
            await box.close();
          }
        } finally { u.cleanup(); }
      });
    }
  }
});
