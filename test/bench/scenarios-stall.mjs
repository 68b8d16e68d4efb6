// Issue 12: how long a long mbox rewrite freezes the other sessions of the process serving it. Ours is a
// resident master (`bin/imapd --daemon`, one worker for the bench uid: resident_workers_per_uid 1) on the
// bench site; Dovecot is its daemon (a process per connection, so its figure is the machine's floor).
// Session A (the expunge user, a fresh copy of the large spool, no X-UIDs yet) runs the long command;
// session B (the warm user: same uid, same worker) sends NOOPs back to back meanwhile. The row's value is
// B's slowest NOOP while A's command runs (extra: A's command time and how many NOOPs B got answered).
//   stall-first-store-100k   A: STORE 1 +FLAGS (\Seen) — the first STORE stamps every message (a rewrite
//                            of the whole spool)
//   stall-expunge-first-100k A: (spool stamped and message 1 \Deleted first, not measured) EXPUNGE, then
//                            CLOSE — the deferred removal of message 1 rewrites the spool from it on
// run.mjs spreads stallScenarios(ctx) into its SCENARIOS.
import { openClient } from './client.mjs';
import { startResidentMaster } from './resident-master.mjs';

const now = () => performance.now();

/**
 * @param {object} ctx run.mjs's helpers: U (users), PASS (password of a user), Skip, plan (corpora),
 *   heavy (runs).
 */
export function stallScenarios({ U, PASS, Skip, plan, heavy }) {
  const residents = new WeakMap();

  /** One worker for the bench uid, so A and B share it (stopped at the bench's exit). */
  const startResident = (t) => startResidentMaster({
    name: 'ours-stall', siteConf: t.site.conf, dir: t.site.dir,
    extra: ['resident_workers_per_uid 1', 'resident_worker_sessions 100', 'resident_worker_idle 600'],
  }).then((m) => m.port);

  async function portOf(t) {
    if (t.kind === 'dovecot') return t.imap.port;
    if (!t.site) throw new Skip('ours not built');
    let p = residents.get(t);
    if (!p) { p = startResident(t); residents.set(t, p); }
    return p;
  }

  async function ok(c, cmd) {
    const r = await c.imap(cmd, { ms: 600_000 });
    if (!r.ok) throw new Skip(`${cmd.split(' ')[0]} failed: ${r.status.slice(0, 100)}`);
    return r;
  }

  /** A: LOGIN, SELECT, `before` (not measured), then `long` while B sends NOOPs. */
  const row = (before, long) => async (t) => {
    const port = await portOf(t);
    const a = (await openClient(port, { timeoutMs: 600_000 })).client;
    const b = (await openClient(port, { timeoutMs: 600_000 })).client;
    try {
      await ok(a, `LOGIN ${U.exp} ${PASS(U.exp)}`);
      await ok(a, 'SELECT INBOX');
      for (const cmd of before) await ok(a, cmd);
      await ok(b, `LOGIN ${U.warm} ${PASS(U.warm)}`);
      await ok(b, 'SELECT INBOX');
      let done = false;
      const t0 = now();
      const work = (async () => { for (const cmd of long) await ok(a, cmd); })().finally(() => { done = true; });
      let worst = 0;
      let noops = 0;
      while (!done) {
        const r = await ok(b, 'NOOP');
        noops++;
        if (r.ms > worst) worst = r.ms;
      }
      await work;
      const longMs = now() - t0;
      return { value: worst, wallMs: longMs, extra: { commandMs: longMs, noops } };
    } finally { a.close(); b.close(); }
  };

  return [
    {
      id: 'stall-first-store-100k', title: `another session's slowest NOOP during a first STORE on ${plan.large.label} (same worker)`, unit: 'ms', lower: true,
      runs: heavy(2), warmup: 0,
      who: ['ours', 'dovecot'],
      prepare: (t) => t.place(U.exp, plan.large, true),
      once: row([], ['STORE 1 +FLAGS (\\Seen)']),
      target: { text: '<= 100 ms', abs: 100 },
    },
    {
      id: 'stall-expunge-first-100k', title: `another session's slowest NOOP during EXPUNGE + CLOSE of message 1 of ${plan.large.label} (same worker)`, unit: 'ms', lower: true,
      runs: heavy(2), warmup: 0,
      who: ['ours', 'dovecot'],
      prepare: (t) => t.place(U.exp, plan.large, true),
      once: row(['STORE 1:* +FLAGS.SILENT (\\Seen)', 'STORE 1 +FLAGS.SILENT (\\Deleted)'], ['EXPUNGE', 'CLOSE']),
      target: { text: '<= 100 ms', abs: 100 },
    },
  ];
}
