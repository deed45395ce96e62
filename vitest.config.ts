import { defineConfig } from 'vitest/config';

// One process per test file (the Temporal core bridge is a native addon that misbehaves under worker
// threads) and files run one after another, because integration tests share the lab's ports and CPU.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 300_000,
    reporters: ['default'],
  },
});
