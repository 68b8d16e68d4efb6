// Issue 11: a scripted IMAP compliance run (test/imap/compliance/*.imap, format in its README.md), each
// run on ONE shared account like imaptest: once with each script starting the moment the previous one's
// connections have closed (no LOGOUT, no pause), once with a pause between scripts (the two runs side by
// side, on two accounts). Both runs must pass every script. The scripts are checked against Dovecot 2.3 too (when installed), so
// they say what a real server answers, not what ours happens to.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeSite } from '../helpers/site.js';
import { dovecotUnavailable } from '../store/dovecot-preauth.js';
import { TEST_STORE } from '../maildir/site-store.js';
import { siteWithMessages } from './imap-client.js';
import { loadScripts, matches, parseScript, runAll, runScript, tokenize, type ScriptResult } from './compliance/runner.js';
import { dovecotTarget, ourTarget } from './compliance/targets.js';

const scripts = loadScripts();
const PAUSE_MS = 300;

const failures = (rs: ScriptResult[]) => rs.filter((r) => !r.ok).map((r) => `${r.name}: ${r.error}`);
const summary = (rs: ScriptResult[]) => `${rs.filter((r) => r.ok).length}/${rs.length} passed in ${(rs.reduce((n, r) => n + r.ms, 0) / 1000).toFixed(1)} s`;

describe('the script matcher', () => {
  const m = (pattern: string, actual: string, vars = new Map<string, string>()) => matches(tokenize(pattern, true), tokenize(actual), vars);
  it('is order-insensitive only where RFC 3501 allows it', () => {
    expect(m('* 1 FETCH (FLAGS (\\Seen \\Draft) UID 4)', '* 1 FETCH (UID 4 FLAGS (\\Draft \\Seen))')).toBe(true);
    expect(m('* SEARCH 1 2 3', '* SEARCH 3 1 2')).toBe(true);
    expect(m('* SEARCH 1 2 3', '* SEARCH 1 2')).toBe(false);
    expect(m('* 1 FETCH (ENVELOPE ("a" "b"))', '* 1 FETCH (ENVELOPE ("b" "a"))')).toBe(false);
    expect(m('* 1 FETCH (FLAGS (\\Seen))', '* 1 FETCH (FLAGS (\\Seen \\Flagged))')).toBe(false);
    expect(m('* 1 FETCH (FLAGS (\\Seen ...))', '* 1 FETCH (FLAGS (\\Seen \\Flagged))')).toBe(true);
    expect(m('* 1 FETCH (BODY[TEXT] "a\\r\\n")', '* 1 FETCH (BODY[TEXT] {3}\r\na\r\n)')).toBe(true);
    expect(m('* 1 FETCH (BODY[TEXT] "a\\r\\n")', '* 1 FETCH (BODY[TEXT] {3}\r\nb\r\n)')).toBe(false);
    expect(m('OK [COPYUID ${v} 1:3 4:6]', 'OK [COPYUID 77 1,2,3 4,5,6] done')).toBe(true);
    expect(m('OK [COPYUID ${v} 1:3 4:6]', 'NO [COPYUID 77 1,2,3 4,5,6] done')).toBe(false);
    expect(m('* 2 EXISTS', '* 3 EXISTS')).toBe(false);
  });
  it('binds variables once and holds them to it', () => {
    const vars = new Map<string, string>();
    expect(m('* OK [UIDVALIDITY ${v}]', '* OK [UIDVALIDITY 42] ok', vars)).toBe(true);
    expect(vars.get('v')).toBe('42');
    expect(m('* STATUS x (UIDVALIDITY ${v})', '* STATUS x (UIDVALIDITY 43)', vars)).toBe(false);
    expect(m('* STATUS x (UIDVALIDITY ${v})', '* STATUS x (UIDVALIDITY 42)', vars)).toBe(true);
  });
  it('fails a script whose server answers otherwise', async () => {
    const t = siteWithMessages(0);
    const target = ourTarget(t.site);
    try {
      const wrong = parseScript('wrong', '%message ()\nSubject: 1\n\n1\n%end\n1> NOOP\nOK\n1> FETCH 1 FLAGS\n* 1 FETCH (FLAGS (\\Seen))\nOK\n');
      const r = await runScript(target, wrong);
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(/wrong:8 \[conn 1\]: expected \* 1 FETCH \(FLAGS \(\\Seen\)\)/);
    } finally {
      await target.drain();
      t.cleanup();
    }
  });
});

describe('IMAP compliance scripts', () => {
  const t = siteWithMessages(0);
  afterAll(() => t.cleanup());

  it(`has the scripts (${scripts.length})`, () => {
    expect(scripts.length).toBeGreaterThanOrEqual(20);
  });

  // Two runs of 30 scripts start ~110 server processes: generous time for a loaded CI machine.
  it('pass on our imapd back-to-back and with pauses, each run on one shared account', { timeout: 480_000 }, async () => {
    // The two runs go side by side, each on its own account (bob, alice): within a run every script
    // shares that run's one account, and the wall time is not twice that of one run.
    const target = ourTarget(t.site);
    const other = ourTarget(t.site, 'alice', 'wonder');
    try {
      const [backToBack, paused] = await Promise.all([runAll(target, scripts, 0), runAll(other, scripts, PAUSE_MS)]);
      console.log(`compliance on ${TEST_STORE}: back-to-back ${summary(backToBack)}; with ${PAUSE_MS} ms pauses ${summary(paused)}`);
      expect({ backToBack: failures(backToBack), paused: failures(paused) }).toEqual({ backToBack: [], paused: [] });
      expect(backToBack.length + paused.length).toBe(2 * scripts.length);
    } finally {
      await target.drain();
      await other.drain();
    }
  });

  // The scripts check the same answers from Dovecot (mail in a maildir of its own): once is enough.
  const why = TEST_STORE !== 'mbox' ? 'checked against Dovecot in the default project only' : dovecotUnavailable();
  it.skipIf(why !== null)(`say what Dovecot 2.3 answers too${why ? ` (skipped: ${why})` : ''}`, { timeout: 240_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dmail-compliance-dovecot-'));
    const target = dovecotTarget(dir);
    try {
      const rs = await runAll(target, scripts, 0);
      console.log(`compliance on Dovecot 2.3: back-to-back ${summary(rs)}`);
      expect(failures(rs)).toEqual([]);
    } finally {
      await target.drain();
      removeSite(dir);
    }
  });
});
