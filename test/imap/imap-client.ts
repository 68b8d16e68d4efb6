// A tiny IMAP test client over the real binary (inetd-style socket), tagging commands itself.
import { inetdConnect, type Client } from '../helpers/inetd.js';
import { BIN, makeSite, removeSite, simpleMessage, type Site } from '../helpers/site.js';
import { setInbox, storeSettings } from '../maildir/site-store.js';

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
  const c = await inetdConnect(BIN.imapd, ['-i', site.conf]);
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
