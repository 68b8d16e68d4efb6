import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Protocol tests spawn real processes and the machine has two cores: keep the pool modest.
    maxWorkers: 3,
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
  },
});
