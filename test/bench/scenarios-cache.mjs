// Bench rows of issue 14's store facts (Mailbox.facts and its per-mailbox cache, src/store/facts*.ts):
// FETCH 1:* ENVELOPE on the medium (10k) spool warm (facts cached by the warm-up run) and cold (fresh
// copy, indexes deleted), a header SEARCH warm, and a cold SELECT of the large (100k) spool, which the
// cache must not make slower (nothing of it is read at SELECT). SEARCH TEXT is run.mjs's search-rare-10k.
// run.mjs spreads cacheScenarios(ctx) into its SCENARIOS with the helpers these rows use.

/**
 * @param {object} ctx run.mjs's helpers: imapSession, Skip, U (users), plan (corpora), heavy (runs),
 *   CMD_MS (command timeout).
 */
export function cacheScenarios({ imapSession, Skip, U, plan, heavy, CMD_MS }) {
  /** SELECT, then `cmd` (unless null); checks the untagged answers with `check`. */
  const measure = (user, cmd, check) => async (t) => {
    const s = await imapSession(t, user, async (c, ms) => {
      const sel = await c.imap('SELECT INBOX', { ms: CMD_MS });
      if (!sel.ok) throw new Skip(`SELECT failed: ${sel.status.slice(0, 100)}`);
      ms.select = sel.ms;
      if (!cmd) return;
      const r = await c.imap(cmd, { ms: CMD_MS, collect: /SEARCH/.test(cmd) });
      if (!r.ok) throw new Skip(`${cmd} failed: ${r.status.slice(0, 100)}`);
      ms.cmd = r.ms;
      ms.problem = check(r);
    });
    if (s.ms.problem) throw new Skip(s.ms.problem);
    return { value: cmd ? s.ms.cmd : s.ms.select, wallMs: s.ms.wall, cpuMs: s.cpuMs, rssKB: s.rssKB, extra: { selectMs: s.ms.select } };
  };
  const everyMessage = (n) => (r) => (r.untagged < n ? `FETCH listed ${r.untagged} messages, want ${n}` : null);
  const cold = (user, corpus) => (t) => { t.place(user, corpus, true); t.wipeIndex(user); };
  const envelope = 'FETCH 1:* ENVELOPE';
  // A header key over every message: the corpus gives each message one of 24 first names in From.
  const fromSearch = 'UID SEARCH FROM "Victor"';
  const someHits = (r) => {
    const hits = r.lines.filter((l) => l.startsWith('* SEARCH')).flatMap((l) => l.slice(8).trim().split(/\s+/).filter(Boolean));
    return hits.length > 0 ? null : 'SEARCH FROM found nothing';
  };
  return [
    {
      id: 'cache-fetch-envelope-warm-10k', title: `${envelope} ${plan.medium.label} warm`, unit: 'ms', lower: true, runs: heavy(3),
      who: ['ours', 'ours-resident', 'dovecot'],
      once: measure(U.warm, envelope, everyMessage(plan.medium.n)),
      target: { text: '<= dovecot warm', vs: 'dovecot', max: 1.0 },
    },
    {
      id: 'cache-fetch-envelope-cold-10k', title: `${envelope} ${plan.medium.label} cold (fresh spool, no index)`, unit: 'ms', lower: true, runs: heavy(3),
      who: ['ours', 'ours-resident', 'dovecot'],
      prepare: cold(U.cold, plan.medium),
      once: measure(U.cold, envelope, everyMessage(plan.medium.n)),
    },
    {
      id: 'cache-search-from-10k', title: `${fromSearch} ${plan.medium.label} warm`, unit: 'ms', lower: true, runs: heavy(3),
      who: ['ours', 'ours-resident', 'dovecot'],
      once: measure(U.warm, fromSearch, someHits),
      target: { text: '<= dovecot warm', vs: 'dovecot', max: 1.0 },
    },
    {
      // The expunge row's user: it gets its own fresh copy of the large spool before each run anyway.
      id: 'cache-select-cold-100k', title: `SELECT ${plan.large.label} cold (fresh spool, no index)`, unit: 'ms', lower: true, runs: heavy(2),
      warmup: 0,
      who: ['ours', 'ours-resident', 'dovecot'],
      prepare: cold(U.exp, plan.large),
      once: measure(U.exp, null, () => null),
    },
  ];
}
