// Bench rows of issue 14's search/sort part: SORT (DATE) and THREAD REFERENCES on the medium (10k) and
// large (100k) spools, warm (index in place) and cold (fresh copy, indexes deleted), beside Dovecot.
// run.mjs spreads searchScenarios(ctx) into its SCENARIOS with the helpers these rows use.

/**
 * @param {object} ctx run.mjs's helpers: imapSession, Skip, U (users), plan (corpora), heavy (runs),
 *   CMD_MS (command timeout).
 */
export function searchScenarios({ imapSession, Skip, U, plan, heavy, CMD_MS }) {
  /** Run `cmd` after SELECT and check that its one untagged answer names every message. */
  const measure = (user, cmd, name, n) => async (t) => {
    const s = await imapSession(t, user, async (c, ms) => {
      const sel = await c.imap('SELECT INBOX', { ms: CMD_MS });
      if (!sel.ok) throw new Skip(`SELECT failed: ${sel.status.slice(0, 100)}`);
      ms.select = sel.ms;
      const r = await c.imap(cmd, { ms: CMD_MS, collect: true });
      if (!r.ok) throw new Skip(`${name} failed: ${r.status.slice(0, 100)}`);
      ms.cmd = r.ms;
      const line = r.lines.find((l) => l.startsWith(`* ${name}`)) ?? '';
      ms.count = (line.slice(name.length + 2).match(/\d+/g) ?? []).length;
    });
    if (s.ms.count !== n) throw new Skip(`${name} named ${s.ms.count} messages, want ${n}`);
    return { value: s.ms.cmd, wallMs: s.ms.wall, cpuMs: s.cpuMs, rssKB: s.rssKB, extra: { selectMs: s.ms.select } };
  };
  const cold = (user, corpus) => (t) => { t.place(user, corpus, true); t.wipeIndex(user); };
  const rows = [];
  for (const [what, cmd, name] of [['sort-date', 'SORT (DATE) UTF-8 ALL', 'SORT'], ['thread-refs', 'THREAD REFERENCES UTF-8 ALL', 'THREAD']]) {
    rows.push(
      {
        id: `${what}-warm-10k`, title: `${cmd} ${plan.medium.label} warm`, unit: 'ms', lower: true, runs: heavy(3),
        who: ['ours', 'ours-resident', 'dovecot'],
        once: measure(U.warm, cmd, name, plan.medium.n),
        target: { text: '<= dovecot warm', vs: 'dovecot', max: 1.0 },
      },
      {
        id: `${what}-cold-10k`, title: `${cmd} ${plan.medium.label} cold (fresh spool)`, unit: 'ms', lower: true, runs: heavy(3),
        who: ['ours', 'ours-resident', 'dovecot'],
        prepare: cold(U.cold, plan.medium),
        once: measure(U.cold, cmd, name, plan.medium.n),
      },
      {
        id: `${what}-warm-100k`, title: `${cmd} ${plan.large.label} warm`, unit: 'ms', lower: true, runs: heavy(3),
        who: ['ours', 'ours-resident', 'dovecot'],
        once: measure(U.large, cmd, name, plan.large.n),
        target: { text: '<= dovecot warm', vs: 'dovecot', max: 1.0 },
      },
      {
        // The expunge row's user: it gets its own fresh copy of the large spool before each run anyway.
        id: `${what}-cold-100k`, title: `${cmd} ${plan.large.label} cold (fresh spool)`, unit: 'ms', lower: true, runs: heavy(2),
        warmup: 0,
        who: ['ours', 'ours-resident', 'dovecot'],
        prepare: cold(U.exp, plan.large),
        once: measure(U.exp, cmd, name, plan.large.n),
      },
    );
  }
  return rows;
}
