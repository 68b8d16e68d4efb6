// Issue 14: a process that serves session after session (a resident worker) keeps each mailbox's decoded
// index between them (mbox: src/store/mbox/index-cache.ts; maildir: dmail-index, facts-cache.ts), so a
// warm SELECT decodes nothing that did not change. Here, between sessions of one user (in the resident
// project all of them served by one worker), other processes change the mailbox every way: procmail
// delivers, a per-connection imapd claims \Recent (mbox: only the index changes), sets and clears flags
// and expunges, dpop deletes, another program rewrites the mailbox under a new UIDVALIDITY, and the index
// file is replaced by an older copy or removed. Every session must then see what a fresh process sees.
// The \Recent claim is the change a cache that believed its tables without checking the index file would
// miss: the spool stays as it was, only the index says the message is no longer new.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanEnv } from '../helpers/inetd.js';
import { BIN, simpleMessage } from '../helpers/site.js';
import { TEST_STORE, userMaildir } from '../maildir/site-store.js';
import { pop } from '../pop3/pop-client.js';
import { haveProcmail, imapFixture, last, procmailDeliver, type TestSite } from './imap-client.js';

const fx = imapFixture();

/** A per-connection imapd on pipes, whatever the test project: always a process of its own (in the
 *  resident project the sessions under test all go to one worker). Commands must answer OK. */
async function otherProcess(t: TestSite, ...cmds: string[]): Promise<string[][]> {
  const p = spawn(BIN.imapd, ['-i', t.site.conf], { stdio: ['pipe', 'pipe', 'pipe'], env: cleanEnv() });
  fx.onCleanup(() => p.kill('SIGKILL'));
  let buf = '';
  let wake: (() => void) | null = null;
  p.stdout.on('data', (d: Buffer) => { buf += d.toString('latin1'); wake?.(); });
  p.stdout.on('close', () => wake?.());
  const until = async (prefix: string): Promise<string[]> => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const lines = buf.split('\r\n');
      const i = lines.findIndex((l) => l.startsWith(prefix));
      if (i >= 0) {
        buf = lines.slice(i + 1).join('\r\n');
        return lines.slice(0, i + 1);
      }
      if (p.exitCode !== null || Date.now() > deadline) throw new Error(`no ${prefix} from imapd: ${buf}`);
      await new Promise<void>((r) => { wake = r; setTimeout(r, 200); });
      wake = null;
    }
  };
  await until('* OK');
  const out: string[][] = [];
  let n = 0;
  for (const c of ['LOGIN bob secret', ...cmds, 'LOGOUT']) {
    const tag = `o${++n}`;
    p.stdin.write(`${tag} ${c}\r\n`);
    const lines = await until(`${tag} `);
    expect(last(lines), c).toMatch(new RegExp(`^${tag} OK`));
    out.push(lines);
  }
  await new Promise<void>((r) => (p.exitCode !== null ? r() : p.once('exit', () => r())));
  return out.slice(1, -1);
}

interface View {
  exists: number;
  recent: number;
  uidValidity: number;
  uidNext: number;
  /** `uid size (flags)` per message, flags sorted. */
  messages: string[];
}

function viewOf(select: string[], fetch: string[]): View {
  const num = (re: RegExp) => {
    const m = select.map((l) => re.exec(l)).find((x) => x);
    expect(m, String(re)).toBeTruthy();
    return Number(m![1]);
  };
  const messages = fetch.flatMap((l) => {
    const m = /^\* \d+ FETCH \((.*)\)$/.exec(l);
    if (!m) return [];
    const uid = /UID (\d+)/.exec(m[1]!)![1];
    const size = /RFC822\.SIZE (\d+)/.exec(m[1]!)![1];
    const flags = /FLAGS \(([^)]*)\)/.exec(m[1]!)![1]!.split(' ').filter((f) => f && f !== '\\Recent').sort().join(' ');
    return [`${uid} ${size} (${flags})`];
  });
  return {
    exists: num(/^\* (\d+) EXISTS/), recent: num(/^\* (\d+) RECENT/), uidValidity: num(/\[UIDVALIDITY (\d+)\]/),
    uidNext: num(/\[UIDNEXT (\d+)\]/), messages,
  };
}

const LOOK = ['EXAMINE INBOX', 'UID FETCH 1:* (UID RFC822.SIZE FLAGS)'];

/** A new session of the server under test (resident: the user's worker, warm from the sessions before). */
async function look(t: TestSite): Promise<View> {
  const c = await fx.session(t);
  const sel = await c.cmd(LOOK[0]!);
  expect(last(sel)).toMatch(/OK/);
  const f = await c.cmd(LOOK[1]!);
  expect(last(f)).toMatch(/OK/);
  expect(last(await c.cmd('LOGOUT'))).toMatch(/OK/);
  c.close();
  return viewOf(sel, f);
}

/** What a fresh process sees (nothing kept from before). */
async function truth(t: TestSite): Promise<View> {
  const [sel, f] = await otherProcess(t, ...LOOK);
  return viewOf(sel!, f!);
}

/** The mailbox's index file: the mbox `INBOX.idx`, or the maildir's `dmail-index`. */
function indexFile(t: TestSite): string {
  if (TEST_STORE === 'maildir') return join(userMaildir(t.site, 'bob'), 'dmail-index');
  const find = (dir: string): string | undefined => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) { const r = find(p); if (r) return r; } else if (e.name === 'INBOX.idx') return p;
    }
    return undefined;
  };
  const p = find(t.site.dir);
  expect(p, 'INBOX.idx').toBeTruthy();
  return p!;
}

/** Another program rewrites the mailbox under a new UIDVALIDITY (replaced by rename, as such tools do). */
function rewriteUnderNewUidValidity(t: TestSite, uv: number): void {
  if (TEST_STORE === 'maildir') {
    const path = join(userMaildir(t.site, 'bob'), 'dovecot-uidlist');
    const text = readFileSync(path, 'latin1');
    expect(text).toMatch(/^3 V\d+ /);
    writeFileSync(`${path}.new`, text.replace(/^3 V\d+ /, `3 V${uv} `));
    renameSync(`${path}.new`, path);
    return;
  }
  const path = t.site.drop('bob');
  const text = readFileSync(path, 'latin1');
  // UW's form: the mailbox's state in the first message's X-IMAPbase; no X-UIDs of the old UIDVALIDITY.
  const out = text.replace(/^X-IMAPbase:.*\n/gm, '').replace(/^X-UID:.*\n/gm, '')
    .replace(/^(From [^\n]*\n)/, `$1X-IMAPbase: ${uv} 0000000050\n`);
  writeFileSync(`${path}.new`, out);
  renameSync(`${path}.new`, path);
}

const append = (i: number, flags = '') => {
  const m = simpleMessage(i);
  return `APPEND INBOX ${flags}{${m.length}+}\r\n${m}`;
};

describe('a mailbox index kept between sessions (resident worker) follows every change by other processes', () => {
  it('deliveries, \\Recent claims, flags, expunges, POP3 DELE, a new UIDVALIDITY, a replaced or lost index', async () => {
    const t = fx.site(4);
    await otherProcess(t, 'SELECT INBOX'); // the site's messages are no longer \Recent
    const steps: string[] = [];
    /** The next session's view equals the truth: `known` (what the process that made the change sees
     *  afterwards, or an earlier truth when nothing changed since), else a fresh process's view. */
    const check = async (what: string, known?: View): Promise<View> => {
      steps.push(what);
      const got = await look(t);
      expect(got, `after: ${steps.join(' / ')}`).toEqual(known ?? await truth(t));
      return got;
    };
    /** Commands of another process, then what that process sees afterwards. */
    const change = async (...cmds: string[]): Promise<View> => {
      const out = await otherProcess(t, ...cmds, ...LOOK);
      return viewOf(out[out.length - 2]!, out[out.length - 1]!);
    };
    // Cold, then warm (from what the first kept).
    const first = await check('first look');
    expect(first.exists).toBe(4);
    expect(await check('again', first)).toEqual(first);
    const oldIndex = join(t.site.dir, 'old-index');
    copyFileSync(indexFile(t), oldIndex);

    // New mail from an MDA that is not us (the spool grew: read from where the kept index ends).
    if (haveProcmail) await procmailDeliver(t, 11);
    else await otherProcess(t, append(11));
    let v = await check('delivery');
    expect([v.exists, v.recent]).toEqual([5, 1]);
    // A session of another process claims its \Recent: only the index changes (mbox), not the spool.
    v = await check('\\Recent claimed by another process', await change('SELECT INBOX', 'CLOSE'));
    expect(v.recent).toBe(0);

    // Flags set and cleared, a keyword, an expunge and appends, by another process.
    v = await check('flags, expunge, appends by another process', await change('SELECT INBOX',
      'STORE 1 +FLAGS.SILENT (\\Flagged \\Seen)', 'STORE 2 +FLAGS.SILENT ($Work)', 'STORE 5 +FLAGS.SILENT (\\Answered)',
      'STORE 1 -FLAGS.SILENT (\\Seen)', 'STORE 3 +FLAGS.SILENT (\\Deleted)', 'EXPUNGE', 'CLOSE', append(12, '(\\Seen) '), append(13)));
    expect(v.exists).toBe(6);
    expect(v.messages[0]).toMatch(/\(\\Flagged\)$/);
    expect(v.messages[1]).toMatch(/\(\$Work\)$/);

    // Deleted by POP3 (dpop: another process in every project).
    const p = await pop(t.site);
    fx.onCleanup(() => p.close());
    expect(await p.login()).toMatch(/^\+OK/);
    expect(await p.cmd('DELE 1')).toMatch(/^\+OK/);
    expect(await p.cmd('QUIT')).toMatch(/^\+OK/);
    await p.exited();
    v = await check('POP3 DELE');
    expect(v.exists).toBe(5);

    // The index replaced by an older copy of itself (it no longer describes the spool).
    const index = indexFile(t);
    copyFileSync(oldIndex, `${index}.tmp`);
    renameSync(`${index}.tmp`, index);
    expect(await check('index replaced by an old copy', v)).toEqual(v);

    // Rewritten by another program under a new UIDVALIDITY, and the index removed.
    const uv = first.uidValidity + 1000;
    rewriteUnderNewUidValidity(t, uv);
    v = await check('new UIDVALIDITY');
    expect([v.uidValidity, v.exists]).toEqual([uv, 5]);
    rmSync(index);
    expect(await check('index removed', v)).toEqual(v);
  });

  it('an index replaced with the old one\'s size and times is not believed from memory', async () => {
    // The claimed index put back with the mtime of the one the worker decoded (mbox: the same size too):
    // a cache that went by size and mtime alone would keep showing the message as \Recent.
    const t = fx.site(2);
    await otherProcess(t, 'SELECT INBOX');
    if (haveProcmail) await procmailDeliver(t, 21);
    else await otherProcess(t, append(21));
    const before = await look(t);
    expect(before.recent).toBe(1);
    expect(await look(t)).toEqual(before); // from what was kept
    const path = indexFile(t);
    const ns = statSync(path, { bigint: true }).mtimeNs;
    await otherProcess(t, 'SELECT INBOX'); // claims \Recent
    const claimed = readFileSync(path);
    writeFileSync(`${path}.x`, claimed);
    // To the nanosecond (utimes() takes seconds as a double), as touch(1) can.
    const touch = spawnSync('touch', ['-m', '-d', `@${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`, `${path}.x`]);
    expect(touch.status).toBe(0);
    expect(statSync(`${path}.x`, { bigint: true }).mtimeNs).toBe(ns);
    renameSync(`${path}.x`, path);
    const after = await look(t);
    expect(after).toEqual(await truth(t));
    expect(after.recent).toBe(0);
  });
});
