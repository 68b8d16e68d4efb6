// The shared storage-interface suite, run against the maildir store.
import { rmSync } from 'node:fs';
import { storeSuite } from '../store/suite.js';
import { mdaDeliver, storeAt, tempDir } from './fixture.js';

storeSuite('maildir', async () => {
  const root = tempDir();
  return {
    store: storeAt(root),
    deliver: async (raw: string) => { await mdaDeliver(root, raw); },
    openSession: async () => storeAt(root),
    cleanup: async () => rmSync(root, { recursive: true, force: true }),
  };
}, { folderHoldsBoth: true });
