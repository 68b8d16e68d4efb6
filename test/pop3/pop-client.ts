// A tiny POP3 client over the inetd harness: one real dpop process per connection.
import { afterEach } from 'vitest';
import { inetdConnect, type Client } from '../helpers/inetd.js';
import { BIN, makeSite, removeSite, simpleMessage, type Site } from '../helpers/site.js';
import { deliver, setInbox, storeSettings, TEST_STORE } from '../maildir/site-store.js';

export interface PopClient extends Client {
  greeting: string;
  /** Send one command line, return the one-line answer. */
  cmd(line: string): Promise<string>;
  /** Read a multi-line answer (status line, un-stuffed lines). */
  multi(): Promise<{ status: string; lines: string[] }>;
  /** Send a command and read its multi-line answer. */
  multiCmd(line: string): Promise<{ status: string; lines: string[] }>;
  login(user?: string, pass?: string): Promise<string>;
}

/** A dpop session on `site`; `resident` (default: the test mode) picks the site's resident master. */
export async function pop(site: Site, resident?: boolean): Promise<PopClient> {
  const c = (await inetdConnect(BIN.dpop, ['-i', site.conf], {}, resident)) as PopClient;
  c.greeting = await c.line();
  c.cmd = async (line) => { c.send(line + '\r\n'); return c.line(); };
  c.multi = async () => {
    const status = await c.line();
    const lines: string[] = [];
    if (!status.startsWith('+OK')) return { status, lines };
    for (;;) {
      const l = await c.line();
      if (l === '.') return { status, lines };
      lines.push(l.startsWith('.') ? l.slice(1) : l);
    }
  };
  c.multiCmd = async (line) => { c.send(line + '\r\n'); return c.multi(); };
  c.login = async (user = 'bob', pass = 'secret') => {
    const u = await c.cmd(`USER ${user}`);
    if (!u.startsWith('+OK')) return u;
    return c.cmd(`PASS ${pass}`);
  };
  return c;
}

type Extra = Record<string, string | number | boolean | string[]>;

/** A site with user bob (password "secret") and `n` simple messages in his INBOX, kept in the store
 *  DMAIL_TEST_STORE selects (mbox by default, or maildir); later setConfig calls keep that store. */
export function siteWithMail(n: number, extra: Extra = {}): Site {
  const site = makeSite(extra);
  const setConfig = site.setConfig.bind(site);
  site.setConfig = (e: Extra) => setConfig({ ...storeSettings(site), ...e });
  site.setConfig(extra);
  site.addUser('bob', { pass: 'secret' });
  writeMail(site, 'bob', Array.from({ length: n }, (_, i) => simpleMessage(i + 1)));
  return site;
}

/** Replace a user's INBOX with these messages (LF endings, as an MDA writes them). */
export function writeMail(site: Site, user: string, texts: string[]): void {
  setInbox(site, user, texts.map((text) => ({ text })));
}

/** Deliver one more message, as the MDA would while sessions are open. */
export function deliverMail(site: Site, user: string, text: string): void {
  deliver(site, user, { text });
}

/** Tests that look at or write the mbox drop file itself run only on the mbox store. */
export const NOT_MBOX = TEST_STORE !== 'mbox';

/** The message as POP3 must deliver it: CRLF line endings. */
export const crlf = (text: string): string => text.replace(/\r?\n/g, '\r\n');

/** Per-test bookkeeping for a test file: sites and connections made through it (and anything pushed on
 *  `cleanup`) are closed and removed after each test, newest first. Call once at the top of the file. */
export function popFixture() {
  const cleanup: (() => void)[] = [];
  afterEach(() => { for (const f of cleanup.splice(0).reverse()) f(); });
  return {
    cleanup,
    site(n: number, extra: Extra = {}): Site {
      const s = siteWithMail(n, extra);
      cleanup.push(() => removeSite(s.dir));
      return s;
    },
    async connect(s: Site): Promise<PopClient> {
      const c = await pop(s);
      cleanup.push(() => c.close());
      return c;
    },
  };
}
