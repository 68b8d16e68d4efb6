// ACCEPTANCE TEST OF ISSUE 11 ("sessions that meet") — expected to FAIL until all of issue 11's work
// (store: change log and deferred expunge; IMAP: views, keywords, BYE; POP3; session end) is merged.
// Do not skip it: it is the short, bounded form of the bench's stress-5x20s row.
//
// Several real processes on ONE account at once, as users have them: four imapd connections running the
// random-command stress of test/bench/stress.mjs (FETCH, STORE, EXPUNGE, APPEND, SELECT, LOGOUT or a
// hang-up, reconnect), a POP3 client (real dpop processes) listing, retrieving and deleting, and procmail
// delivering. Asserts ZERO protocol errors (no NO/BAD/unasked BYE/dropped command/missing FETCH on the
// IMAP side, no -ERR on the POP3 side) and a readable, consistent mailbox afterwards. Both stores.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, simpleMessage } from '../helpers/site.js';
import { listen, type Listener } from '../helpers/listener.js';
import { siteWithMessages, type TestSite } from '../imap/imap-client.js';
import { storeSettings, userMaildir, type StoreKind } from '../maildir/site-store.js';

interface StressResult { logins: number; commands: number; errorCount: number; errors: { conn: number; cmd: string; got: string }[] }
type StressFn = (o: { port: number; user: string; pass: string; connections: number; durationMs: number; seed: number; cmdTimeoutMs: number }) => Promise<StressResult>;
interface BenchClient {
  mode: string;
  imap(cmd: string, o?: { collect?: boolean; ms?: number }): Promise<{ ok: boolean; status: string; lines: string[]; untagged: number }>;
  pop(cmd: string, o?: { multi?: boolean; ms?: number }): Promise<{ ok: boolean; status: string; lines: number }>;
  close(): void;
  closed(): Promise<void>;
}
type OpenClient = (port: number, o?: { timeoutMs?: number }) => Promise<{ client: BenchClient; greeting: string }>;
const load = <T>(m: string) => import(new URL(m, import.meta.url).href) as Promise<T>;

const haveProcmail = spawnSync('procmail', ['-v']).status === 0;
const DURATION_MS = 4000;
const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f(); });

function procmailLoop(rc: string, until: () => boolean, errors: string[]): Promise<number> {
  return (async () => {
    let n = 0;
    while (!until()) {
      n++;
      await new Promise<void>((resolve) => {
        const p = spawn('procmail', ['-m', rc], { stdio: ['pipe', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '' } });
        let err = '';
        p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        p.on('exit', (code) => { if (code !== 0) errors.push(`procmail exit ${code}: ${err}`); resolve(); });
        p.stdin!.end(`From mda@example.com Tue Jan  2 03:04:05 2024\n${simpleMessage(1000 + n)}`);
      });
      await new Promise((r) => setTimeout(r, 150));
    }
    return n;
  })();
}

async function popLoop(openClient: OpenClient, port: number, until: () => boolean, errors: string[]): Promise<number> {
  let sessions = 0;
  let k = 0;
  while (!until()) {
    const { client } = await openClient(port, { timeoutMs: 30_000 });
    client.mode = 'pop3';
    try {
      const step = async (cmd: string, multi = false) => {
        const r = await client.pop(cmd, { multi, ms: 30_000 });
        if (!r.ok) errors.push(`${cmd.split(' ')[0]}: ${r.status}`);
        return r;
      };
      await step('USER bob');
      if (!(await step('PASS secret')).ok) continue;
      sessions++;
      const n = Number((await step('STAT')).status.split(' ')[1] ?? 0);
      await step('UIDL', true);
      for (let i = 0; i < Math.min(n, 4); i++) {
        k++;
        await step(`RETR ${1 + ((k * 7) % n)}`, true);
        await step(`TOP ${1 + ((k * 11) % n)} 0`, true);
      }
      if (n > 5) await step(`DELE ${1 + (k % n)}`);
      await step('QUIT');
      await client.closed();
    } catch (e) {
      errors.push(`pop3: ${(e as Error).message}`);
    } finally {
      client.close();
    }
  }
  return sessions;
}

describe.each(['mbox', 'maildir'] as StoreKind[])('ACCEPTANCE issue 11 (%s): IMAP x4 + POP3 + procmail on one account', (kind) => {
  it('zero protocol errors, and a consistent mailbox afterwards', { timeout: 120_000 }, async () => {
    const { stress } = await load<{ stress: StressFn }>('../bench/stress.mjs');
    const { openClient } = await load<{ openClient: OpenClient }>('../bench/client.mjs');
    const t: TestSite = siteWithMessages(30);
    cleanup.push(() => t.cleanup());
    t.site.setConfig({ ...storeSettings(t.site, kind) });
    if (kind === 'maildir') {
      // siteWithMessages put the messages where DMAIL_TEST_STORE said; this test chooses its store itself.
      const { setInbox } = await import('../maildir/site-store.js');
      setInbox(t.site, 'bob', Array.from({ length: 30 }, (_, i) => ({ text: simpleMessage(i + 1) })), 'maildir');
    } else {
      const { setInbox } = await import('../maildir/site-store.js');
      setInbox(t.site, 'bob', Array.from({ length: 30 }, (_, i) => ({ text: simpleMessage(i + 1) })), 'mbox');
    }
    const imapd: Listener = await listen(BIN.imapd, ['-i', t.site.conf]);
    cleanup.push(() => imapd.close());
    const dpop: Listener = await listen(BIN.dpop, ['-i', t.site.conf]);
    cleanup.push(() => dpop.close());

    const rc = join(t.site.dir, 'procmailrc');
    writeFileSync(rc, `LOGFILE=/dev/null\nVERBOSE=off\n${kind === 'mbox' ? `:0:\n${t.site.drop('bob')}` : `:0\n${userMaildir(t.site, 'bob')}/`}\n`);
    const end = Date.now() + DURATION_MS;
    const over = () => Date.now() >= end;
    const popErrors: string[] = [];
    const mdaErrors: string[] = [];
    const [imap, popSessions, delivered] = await Promise.all([
      stress({ port: imapd.port, user: 'bob', pass: 'secret', connections: 4, durationMs: DURATION_MS, seed: kind === 'mbox' ? 11 : 12, cmdTimeoutMs: 30_000 }),
      popLoop(openClient, dpop.port, over, popErrors),
      haveProcmail ? procmailLoop(rc, over, mdaErrors) : Promise.resolve(0),
    ]);

    expect(mdaErrors).toEqual([]);
    expect(imap.logins).toBeGreaterThan(0);
    expect(popSessions).toBeGreaterThan(0);
    expect({ imapErrors: imap.errorCount, first: imap.errors.slice(0, 10) }).toEqual({ imapErrors: 0, first: [] });
    expect(popErrors).toEqual([]);
    if (haveProcmail) expect(delivered).toBeGreaterThan(0);

    // Afterwards: one more session sees a mailbox it can read whole.
    const { client } = await openClient(imapd.port, { timeoutMs: 30_000 });
    try {
      expect((await client.imap('LOGIN bob secret')).ok).toBe(true);
      const sel = await client.imap('SELECT INBOX', { collect: true });
      expect(sel.ok).toBe(true);
      const exists = Number(/^\* (\d+) EXISTS/m.exec(sel.lines.join('\n'))?.[1]);
      const f = await client.imap('FETCH 1:* (UID FLAGS)', { collect: true });
      expect(f.ok).toBe(true);
      expect(f.lines.filter((l) => /^\* \d+ FETCH/.test(l))).toHaveLength(exists);
      await client.imap('LOGOUT');
    } finally {
      client.close();
    }
    rmSync(rc, { force: true });
  });
});
