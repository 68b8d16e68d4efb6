// Bench row of CONTEXT=SEARCH/SORT (RFC 5267 §4.3): what a live context costs the session that holds
// it. A `SEARCH RETURN (UPDATE COUNT) BODY ...` context on the medium (10k) spool, another session
// flips message 1's \Flagged, and the NOOP that brings the FETCH (and any ADDTO/REMOVEFROM) is timed:
// a server that re-reads every body on each change is slow here. Beside Dovecot (CONTEXT=SEARCH only).
// run.mjs spreads contextScenarios(ctx) into its SCENARIOS.

/**
 * @param {object} ctx run.mjs's helpers: imapSession, openClient, ok, PASS, Skip, U (users), plan
 *   (corpora), light (runs), CMD_MS (command timeout).
 */
export function contextScenarios({ imapSession, openClient, ok, PASS, Skip, U, plan, light, CMD_MS }) {
  // The same NOOP without a context: what the context adds.
  return [true, false].map((withContext) => ({
      id: withContext ? 'context-update-10k' : 'context-update-10k-none',
      title: `NOOP after another session's STORE, ${withContext ? 'holding SEARCH RETURN (UPDATE) BODY' : 'no context (base)'}, ${plan.medium.label}`,
      unit: 'ms', lower: true, runs: light(3),
      who: ['ours', 'ours-resident', 'dovecot'],
      once: async (t) => {
        const s = await imapSession(t, U.warm, async (c, ms) => {
          await ok(c, 'SELECT INBOX', ms, 'select');
          if (withContext) {
            const ctx = await c.imap('SEARCH RETURN (UPDATE COUNT) BODY "zq-no-such-word"', { ms: CMD_MS, collect: true });
            if (!ctx.ok) throw new Skip(`SEARCH RETURN (UPDATE) failed: ${ctx.status.slice(0, 100)}`);
            ms.search = ctx.ms;
          }
          const { client: other } = await openClient(t.imap.port, { timeoutMs: CMD_MS });
          try {
            await ok(other, `LOGIN ${U.warm} ${PASS(U.warm)}`, {});
            await ok(other, 'SELECT INBOX', {});
            const f = await other.imap('FETCH 1 (FLAGS)', { collect: true, ms: CMD_MS });
            const flagged = f.lines.some((l) => /^\* 1 FETCH .*\\Flagged/.test(l));
            await ok(other, `STORE 1 ${flagged ? '-' : '+'}FLAGS.SILENT (\\Flagged)`, {});
            await ok(other, 'LOGOUT', {});
          } finally { other.close(); }
          const n = await c.imap('NOOP', { ms: CMD_MS, collect: true });
          if (!n.ok) throw new Skip(`NOOP failed: ${n.status.slice(0, 100)}`);
          // Dovecot may see an mbox change only at a later check: then the row says so rather than lie.
          if (!n.lines.some((l) => /^\* 1 FETCH /.test(l))) throw new Skip('NOOP did not bring the change');
          ms.noop = n.ms;
        });
        return { value: s.ms.noop, wallMs: s.ms.wall, cpuMs: s.cpuMs, rssKB: s.rssKB, extra: { searchMs: s.ms.search } };
      },
  }));
}
