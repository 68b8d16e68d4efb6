// Issue 12's per-connection targets, as ratios of rows run.mjs already measures: the per-connection greeting
// (bin/imapd under inetd-style spawning, greeting-imap) against the bare-node floor, and the warm 10k
// session (session-warm-10k: LOGIN, SELECT, FETCH 1:* (FLAGS), LOGOUT, one new process) against Dovecot —
// in wall time and in server CPU. run.mjs spreads snapshotDerived(get) into its derived rows.
//
// A V8 start-up snapshot of the bundle (node --snapshot-blob) was built, tested and measured for these rows
// and left out (see the history of this file's branch, h3/snapshot): on Node 20 it saved ~20 M instructions
// (3.5%) per process but read and materialised a 6 MB blob (+2000 page faults), a net CPU loss.

/** Derived rows: get(id, who) is a finished row's summary for one system ({ value, cpu, rss, wall });
 *  medium: the label of the session's corpus (10k, or 2k with --quick). */
export function snapshotDerived(get, medium) {
  const rows = [];
  const ratio = (title, unit, a, b, target, max) => {
    const r = a && b ? a.median / b.median : null;
    rows.push({ title, unit, ours: a, base: b, ratio: r, target, met: r === null || max === null ? null : r <= max });
  };
  ratio('per-connection greeting vs floor (issue 12)', 'ms', get('greeting-imap', 'ours')?.value, get('greeting-imap', 'floor')?.value, '<= 1.2x floor', 1.2);
  ratio('per-connection greeting CPU vs floor', 'ms', get('greeting-imap', 'ours')?.cpu, get('greeting-imap', 'floor')?.cpu, 'info', null);
  ratio(`per-connection warm ${medium} session vs Dovecot (issue 12)`, 'ms', get('session-warm-10k', 'ours')?.value, get('session-warm-10k', 'dovecot')?.value, '<= 3x dovecot', 3);
  ratio(`per-connection warm ${medium} session CPU vs Dovecot`, 'ms', get('session-warm-10k', 'ours')?.cpu, get('session-warm-10k', 'dovecot')?.cpu, 'info', null);
  return rows;
}
