import { defineConfig } from 'vitest/config';

// Projects, as in Powertools and prom-client: unit (no servers), integration (real Postgres and Redis: the URLs
// from the environment, else the embedded defaults) and e2e (HTTP through serverless-offline); then, one group at
// a time, the exactness suite and the default path, which each start a serverless-offline of their own.
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
        // Its own servers and serverless-offline, which it breaks on purpose: after the others, alone, so that
        // two serverless-offline instances never share the 2 cores.
        test: {
          name: 'exactness',
          include: ['test/exactness/**/*.test.ts'],
          sequence: { groupOrder: 1 },
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 240_000,
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
