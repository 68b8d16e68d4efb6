// Crash safety: a child process doing real rewrites (expunge, purge, flags, append) is SIGKILLed at every
// named step of the change log and the journal; afterwards a fresh store (which replays the journal) and
// a raw parse must show every message that was not being expunged, byte for byte, nothing half-written
// and no expunged message back. Random moments and kills during recovery: crash-replay.test.ts.
import { describe, it, expect } from 'vitest';
import { tempUser } from './helpers.js';
import { N, seed, inspect, crashWorker, POINTS, COMMITTED, LOG_POINTS } from './crash-kit.js';

const runWorker = crashWorker();

describe('kill -9 at every step of a rewrite', () => {
  for (const variant of ['expunge-first', 'expunge-middle', 'expunge-last', 'purge-first', 'purge-last', 'flags', 'flags-in-place', 'append']) {
    const op = variant === 'flags-in-place' ? 'flags' : variant.replace(/^purge/, 'expunge');
    // Deferred expunge: the change-log record decides it; the spool is rewritten only to mark the
    // message (\Deleted + X-UID, for unstamped messages) and, later, to remove it (purge). Every
    // journal step of either comes after the record: the message never comes back.
    // Flag changes and appends are logged before the spool is touched: a kill after the record leaves
    // the old spool (an append record of a UID that never appeared, or a bumped modseq) and loses nothing.
    // (The purge variants' change-log steps are the expunge's, covered by the expunge variants.)
    let points = variant.startsWith('purge') ? [...POINTS, 'before-purge-record']
      : op.startsWith('expunge') ? [...LOG_POINTS, ...POINTS]
      : op === 'append' ? [...LOG_POINTS, 'append-logged', ...POINTS]
      : variant === 'flags' ? [...LOG_POINTS, ...POINTS] : POINTS;
    // Removing the last message writes no new bytes: its journal has no data to be killed in.
    if (variant === 'purge-last') points = points.filter((p) => p !== 'journal-partial' && p !== 'mid-write');
    it(`${variant}: all or nothing at each step`, async () => {
      for (const point of points) {
        const u = tempUser();
        try {
          const expected = seed(u);
          // Open once so UIDs are assigned and the index exists, as in a live system.
          const pre = await inspect(u, expected);
          expect(pre.views).toHaveLength(N);
          if (variant === 'flags-in-place' || variant.startsWith('purge')) {
            // Stamp every message first, so the worker's flag change is an in-place patch, and its
            // expunge touches no spool byte: the journal steps are then those of the purge at close.
            const box = await u.store().open('INBOX');
            const uids = box.state.messages.map((m) => m.uid);
            await box.setFlags(uids, 'add', ['\\Answered']);
            if (variant.startsWith('purge')) await box.setFlags([variant === 'purge-first' ? uids[0]! : uids[uids.length - 1]!], 'add', ['\\Deleted']);
            await box.close();
          }
          const r = await runWorker(u, op, { DMAIL_STORE_KILLPOINT: point });
          expect(r.signal, `${variant}@${point}: ${r.stderr}`).toBe('SIGKILL');
          const out = await inspect(u, expected);
          const present = out.base.size;
          if (op.startsWith('expunge')) {
            const done = point !== 'modlog-before-write';
            expect(present, `${variant}@${point}`).toBe(done ? N - 1 : N);
            const gone = op === 'expunge-first' ? 1 : op === 'expunge-last' ? N : N / 2 + 1;
            if (done) expect(out.base.has(`<base-${gone}@x>`)).toBe(false);
          } else if (op === 'append') {
            expect(present).toBe(N);
            expect(out.appended, `${op}@${point}`).toBe(COMMITTED.has(point) ? 1 : 0);
          } else {
            expect(present).toBe(N);
            // The flag change on the first message happened completely or not at all.
            const box = await u.store().open('INBOX');
            const f = [...box.state.messages[0]!.flags].filter((x) => x !== '\\Answered').sort();
            expect([[], ['Kw0', '\\Flagged', '\\Seen']]).toContainEqual(f);
            if (COMMITTED.has(point)) expect(f).toEqual(['Kw0', '\\Flagged', '\\Seen']);
          }
        } finally { u.cleanup(); }
      }
    });
  }
});

