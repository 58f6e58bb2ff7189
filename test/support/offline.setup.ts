// serverless-offline for the e2e project: the real bundles (serverless-esbuild), the real HTTP API
// emulation and a worker per warm function, pointed at the servers that servers.setup.ts prepared. Started
// the way the load benchmark starts it (scripts/load/offline.ts).
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startOffline } from '../../scripts/load/offline.ts';
import { E2E_BASE_URL, E2E_PORT } from './test-env.ts';

export default async function setup(): Promise<() => Promise<void>> {
  // Kept whole in a file, for reading after a failed run; the handlers' logs go there too.
  const logFile = path.join(os.tmpdir(), 'serverless-shop-e2e-offline.log');
  writeFileSync(logFile, '');
  // A generous push timeout: e2e tests check what is pushed, and this machine is busy running them.
  const offline = await startOffline(E2E_PORT, { ...process.env, PUSH_TIMEOUT_MS: '2000', METRICS_PUSH_INTERVAL_MS: '1000' }, logFile);
  process.env.E2E_BASE_URL = E2E_BASE_URL;
  console.log(`serverless-offline ready on ${E2E_BASE_URL}; its output: ${logFile}`);
  return offline.stop;
}
