import { storeSuite } from './suite.js';
import { tempUser } from './helpers.js';

storeSuite('mbox', async () => {
  const u = tempUser();
  return {
    store: u.store(),
    async deliver(raw: string) { u.deliver(raw); },
    async openSession() { return u.store(); },
    async cleanup() { u.cleanup(); },
  };
});
