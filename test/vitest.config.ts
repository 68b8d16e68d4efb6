import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    testTimeout: 60_000,
    // Builds dist/ once if it is missing or older than src/ (test files never rebuild it).
    globalSetup: ['test/helpers/global-build.ts'],
    hookTimeout: 120_000,
    // Protocol tests spawn real processes and the machine has two cores: keep the pool modest.
    maxWorkers: 3,
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
    // Issue 8: both stores pass the same IMAP/POP3 protocol tests. "default" runs everything (protocol
    // tests on mbox); "maildir" runs the protocol suites again with the sites' mail kept in maildirs
    // (test/maildir/site-store.ts reads DMAIL_TEST_STORE).
    projects: [
      { extends: true, test: { name: 'default', include: ['test/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'maildir',
          include: ['test/imap/**/*.test.ts', 'test/pop3/**/*.test.ts'],
          // Pure unit tests never touch a store; running them twice proves nothing.
          exclude: ['test/imap/engine-units.test.ts', 'test/pop3/units.test.ts', 'test/pop3/message-writer.test.ts', 'test/pop3/maildrop-lock.test.ts'],
          env: { DMAIL_TEST_STORE: 'maildir' },
        },
      },
      // Issue 12: the same protocol suites with every site served by the resident mode (one
      // `--daemon --listen 127.0.0.1:0` master per site and program, started at the site's first connection,
      // stopped when the site is removed; test/helpers/resident.ts reads DMAIL_TEST_MODE). Mail on mbox.
      {
        extends: true,
        test: {
          name: 'resident',
          include: ['test/imap/**/*.test.ts', 'test/pop3/**/*.test.ts'],
          exclude: [
            // Pure unit tests: no server at all.
            'test/imap/engine-units.test.ts', 'test/pop3/units.test.ts', 'test/pop3/message-writer.test.ts', 'test/pop3/maildrop-lock.test.ts',
            'test/imap/selected-tracker.test.ts', 'test/imap/search-two-pass.test.ts',
            // Runs its own in-process host (test/helpers/host.ts), not a site's server: the same in every mode.
            'test/imap/host.test.ts',
          ],
          env: { DMAIL_TEST_MODE: 'resident' },
          setupFiles: ['test/helpers/resident-setup.ts'],
        },
      },
    ],
  },
});
