// The store switch for protocol tests works with both stores against the real imapd.
import { afterAll, describe, expect, it } from 'vitest';
import { makeSite, simpleMessage, type Site, removeSite } from '../helpers/site.js';
import { connectImap, last } from '../imap/imap-client.js';
import { deliver, setInbox, storeSettings, type StoreKind } from './site-store.js';

const sites: Site[] = [];
afterAll(() => { for (const s of sites) removeSite(s.dir); });

describe.each<StoreKind>(['mbox', 'maildir'])('site-store helper on %s', (kind) => {
  it('puts mail in place and delivers more while a session is open', async () => {
    const site = makeSite();
    sites.push(site);
    site.setConfig(storeSettings(site, kind));
    site.addUser('bob', { pass: 'secret' });
    setInbox(site, 'bob', [{ text: simpleMessage(1) }, { text: simpleMessage(2), date: new Date('2024-03-04T05:06:07Z') }], kind);
    const s = await connectImap(site);
    try {
      expect(last(await s.login())).toMatch(/OK/);
      expect(await s.cmd('SELECT INBOX')).toContain('* 2 EXISTS');
      const f = await s.cmd('FETCH 2 INTERNALDATE');
      expect(f[0]).toContain('"04-Mar-2024 05:06:07 +0000"');
      deliver(site, 'bob', { text: simpleMessage(3) }, kind);
      expect(await s.cmd('NOOP')).toContain('* 3 EXISTS');
    } finally {
      s.close();
    }
  });
});
