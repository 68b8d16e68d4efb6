// A tiny IMAP test client over the real binary (inetd-style socket), tagging commands itself.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { inetdConnect, type Client } from '../helpers/inetd.js';
import { listen, type Listener } from '../helpers/listener.js';
import { BIN, makeSite, removeSite, simpleMessage, type Site } from '../helpers/site.js';
import { setInbox, storeSettings, TEST_STORE, userMaildir } from '../maildir/site-store.js';

export interface Imap {
  c: Client;
  greeting: string;
  /** Send `<tag> text` and return every line up to and including the tagged one. */
  cmd(text: string, timeoutMs?: number): Promise<string[]>;
  /** Raw send (no tag added). */
  send(data: string | Buffer): void;
  login(user?: string, pass?: string): Promise<string[]>;
  /** The tagged line of the last response. */
  close(): void;
  nextTag(): string;
}

export async function connectImap(site: Site): Promise<Imap> {
  return imapOver(await inetdConnect(BIN.imapd, ['-i', site.conf]));
}

/** The same client over any connection (a process serving many: test/helpers/host.ts). */
export async function imapOver(c: Client): Promise<Imap> {
  const greeting = await c.line(15_000);
  let n = 0;
  const imap: Imap = {
    c, greeting,
    nextTag: () => `t${++n}`,
    async cmd(text, ms = 15_000) {
      const tag = `t${++n}`;
      c.send(`${tag} ${text}\r\n`);
      return c.until(`${tag} `, ms);
    },
    send: (d) => c.send(d),
    login: (user = 'bob', pass = 'secret') => imap.cmd(`LOGIN ${user} ${pass}`),
    close: () => c.close(),
  };
  return imap;
}

export const last = (lines: string[]) => lines[lines.length - 1]!;

export interface TestSite {
  site: Site;
  cleanup(): void;
}

type Extra = Record<string, string | number | boolean | string[]>;

/** A site with user bob (password secret) and `count` simple messages in his INBOX, kept in the store
 *  DMAIL_TEST_STORE selects (mbox by default, or maildir); later setConfig calls keep that store. */
export function siteWithMessages(count: number, extra: Extra = {}, info?: Record<string, string>): TestSite {
  const site = makeSite(extra);
  const setConfig = site.setConfig.bind(site);
  site.setConfig = (e: Extra) => setConfig({ ...storeSettings(site), ...e });
  site.setConfig(extra);
  site.addUser('bob', { pass: 'secret', info });
  site.addUser('alice', { pass: 'wonder' });
  if (count > 0) {
    const msgs = Array.from({ length: count }, (_, i) => ({ text: simpleMessage(i + 1), date: new Date(Date.UTC(2024, 0, 2 + i, 3, 4, 5)) }));
    setInbox(site, 'bob', msgs);
  }
  return { site, cleanup: () => removeSite(site.dir) };
}

/** Per-test sites and logged-in sessions for the multi-session suites, closed and removed (newest
 *  first) after each test. Call once at the top of a test file. */
export function imapFixture() {
  const cleanup: (() => void)[] = [];
  afterEach(() => { for (const f of cleanup.splice(0).reverse()) f(); });
  return {
    onCleanup(f: () => void): void { cleanup.push(f); },
    site(count: number, extra: Extra = {}): TestSite {
      const t = siteWithMessages(count, extra);
      cleanup.push(() => t.cleanup());
      return t;
    },
    /** A logged-in session; each command given must answer OK (e.g. 'SELECT INBOX'). */
    async session(t: TestSite, ...cmds: string[]): Promise<Imap> {
      const c = await connectImap(t.site);
      cleanup.push(() => c.close());
      expect(last(await c.login())).toMatch(/OK/);
      for (const x of cmds) expect(last(await c.cmd(x))).toMatch(/OK/);
      return c;
    },
  };
}

export const haveProcmail = spawnSync('procmail', ['-v']).status === 0;

/** Deliver message `i` (or `text`, LF endings) to bob through the real procmail with its own locking (mbox `:0:`,
 *  maildir `dir/`). */
export function procmailDeliver(t: TestSite, i: number, text = simpleMessage(i)): Promise<void> {
  const rc = join(t.site.dir, 'procmailrc');
  const dest = TEST_STORE === 'mbox' ? `:0:\n${t.site.drop('bob')}\n` : `:0\n${userMaildir(t.site, 'bob')}/\n`;
  if (TEST_STORE === 'maildir') for (const d of ['new', 'cur', 'tmp']) mkdirSync(join(userMaildir(t.site, 'bob'), d), { recursive: true });
  writeFileSync(rc, `LOGFILE=/dev/null\nVERBOSE=off\nLOCKTIMEOUT=60\nLOCKSLEEP=1\n${dest}`);
  return new Promise((resolve, reject) => {
    const p = spawn('procmail', ['-m', rc], { stdio: ['pipe', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '' } });
    let err = '';
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`procmail exit ${code}: ${err}`))));
    p.stdin.end(`From mda${i}@example.com Tue Jan  2 03:04:05 2024\n${text}`);
  });
}

/** Small deterministic PRNG (mulberry32): the same run every time, different per session. */
export function rng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/** An IMAP session that keeps the message count it was told, and checks every response against it. */
export class Tracked {
  exists = 0;
  problems: string[] = [];
  constructor(readonly c: Imap, readonly name: string) {}

  async cmd(text: string): Promise<string[]> {
    const lines = await this.c.cmd(text);
    for (const l of lines.slice(0, -1)) {
      let m: RegExpExecArray | null;
      if ((m = /^\* (\d+) EXISTS$/.exec(l))) this.exists = Number(m[1]);
      else if ((m = /^\* (\d+) EXPUNGE$/.exec(l))) {
        if (Number(m[1]) > this.exists) this.problems.push(`${this.name}: ${l} with ${this.exists} messages`);
        this.exists--;
      } else if ((m = /^\* (\d+) FETCH /.exec(l)) && Number(m[1]) > this.exists) {
        this.problems.push(`${this.name}: ${l.slice(0, 80)} with ${this.exists} messages`);
      }
    }
    if (!/^t\d+ OK /.test(last(lines))) this.problems.push(`${this.name}: ${text.slice(0, 60)} -> ${last(lines)}`);
    return lines;
  }
}

/** The racing suites' end check: after a NOOP every session's view (its UIDs) is the same, as long as the
 *  count it was told, and agrees with STATUS on `setup`; no session (nor `otherProblems`) saw an error. */
export async function expectViewsAgree(sessions: Tracked[], setup: Imap, otherProblems: string[] = []): Promise<void> {
  const views: string[] = [];
  for (const s of sessions) {
    await s.cmd('NOOP');
    const u = await s.cmd('UID FETCH 1:* (UID)');
    const uids = u.filter((l) => /^\* \d+ FETCH /.test(l)).map((l) => /UID (\d+)/.exec(l)![1]);
    expect(uids.length).toBe(s.exists);
    views.push(uids.join(','));
  }
  expect(new Set(views).size).toBe(1);
  const st = await setup.cmd('STATUS INBOX (MESSAGES)');
  expect(st[0]).toBe(`* STATUS INBOX (MESSAGES ${sessions[0]!.exists})`);
  expect([...sessions.flatMap((s) => s.problems), ...otherProblems]).toEqual([]);
}

/** For the real-client suites: a site with `count` messages for bob and bin/imapd behind a TCP listener
 *  (a process per connection), made before the file's tests and removed after; `ready` receives them. */
export function imapdOverTcp(count: number, ready: (t: TestSite, l: Listener) => void): void {
  let t: TestSite | undefined;
  let l: Listener | undefined;
  beforeAll(async () => {
    t = siteWithMessages(count);
    l = await listen(BIN.imapd, ['-i', t.site.conf]);
    ready(t, l);
  });
  afterAll(async () => {
    await l?.close();
    t?.cleanup();
  });
}
