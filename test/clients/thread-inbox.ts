// The four-message INBOX the client SORT/THREAD tests share (Python imaplib, Perl Mail::IMAPClient): 4 names
// 1 and 3 as its ancestors (1 → 3 → 4), 2 stands alone; dates out of arrival order. Served by bin/imapd
// over real TCP.
import { afterAll, beforeAll } from 'vitest';
import { BIN } from '../helpers/site.js';
import { listen, type Listener } from '../helpers/listener.js';
import { siteWithMessages, type TestSite } from '../imap/imap-client.js';
import { setInbox } from '../maildir/site-store.js';

export interface ThreadServer { port: number; close(): Promise<void> }

export async function threadInboxServer(): Promise<ThreadServer> {
  const t: TestSite = siteWithMessages(0);
  const m = (subject: string, date: string, id: string, refs = '') =>
    ({ text: `From: a@x.org\nSubject: ${subject}\nDate: ${date}\nMessage-ID: <${id}>\n${refs ? `References: ${refs}\n` : ''}\nbody\n` });
  setInbox(t.site, 'bob', [
    m('Plan', 'Mon, 01 Jan 2024 10:00:00 +0000', 'p1@x'),
    m('Other', 'Tue, 02 Jan 2024 10:00:00 +0000', 'o1@x'),
    m('Re: Plan', 'Wed, 03 Jan 2024 10:00:00 +0000', 'p2@x', '<p1@x>'),
    m('Re: Plan', 'Sun, 31 Dec 2023 10:00:00 +0000', 'p3@x', '<p1@x> <p2@x>'),
  ]);
  const l: Listener = await listen(BIN.imapd, ['-i', t.site.conf]);
  return { port: l.port, close: async () => { await l.close(); t.cleanup(); } };
}

/** The server for the whole file (started before its tests, stopped after them); its port, once started. */
export function useThreadInbox(): () => number {
  let srv: ThreadServer | undefined;
  beforeAll(async () => {
    srv = await threadInboxServer();
  });
  afterAll(async () => {
    await srv?.close();
  });
  return () => srv!.port;
}
