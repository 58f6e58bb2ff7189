import { defineConfig } from 'vitest/config';

// Three projects, as in Powertools and prom-client: unit (no servers), integration (real Postgres and
// Redis: the URLs from the environment, else the embedded defaults) and e2e (HTTP through serverless-offline).
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/servers.setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/support/servers.setup.ts', 'test/support/offline.setup.ts'],
          // One serverless-offline serves every file: files in parallel would load it past its Lambda timeouts
          // on a 2-core machine and race each other's cache and stock expectations.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        // `npm start` with no URLs, spawned by the test itself (no global setup: it needs none of the servers).
        // After every other project, alone: its bursts from cold are measured against the Lambda timeout.
        test: {
          name: 'default-path',
          include: ['test/default-path/**/*.test.ts'],
          sequence: { groupOrder: 2 },
          testTimeout: 120_000,
        },
      },
    ],
  },
});
