// `npm start`: the shop on this machine with nothing else installed. Without DATABASE_URL it starts the
// embedded PostgreSQL (lib/db/embedded.ts; data kept between runs); with it, it migrates and seeds that
// database. Then it runs serverless-offline until Ctrl-C, which stops both.
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

import { config } from '../lib/config.ts';
import { prepareDatabase } from '../lib/db/prepare.ts';
import { embeddedDataDir, startEmbeddedDatabase } from '../lib/db/embedded.ts';
import { patchOffline } from './offline-patch.ts';

patchOffline();
let stopDatabase = async () => {};
let database = 'DATABASE_URL';
if (config.database.url) {
  await prepareDatabase(config.database.url);
} else {
  const dataDir = embeddedDataDir(config.database.embeddedDir);
  const embedded = await startEmbeddedDatabase({ dataDir, port: config.database.embeddedPort }).catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
  process.env.DATABASE_URL = embedded.url;
  stopDatabase = embedded.stop;
  database = `embedded PostgreSQL on port ${config.database.embeddedPort} (EMBEDDED_DB_PORT), data in ${dataDir} (EMBEDDED_DB_DIR)`;
}
if (!config.cache.redisUrl) console.log('No REDIS_URL: using the in-process cache');
if (config.metrics.remoteWrite) console.log(`Metrics by remote write to ${config.metrics.remoteWrite.url} (METRICS_DELIVERY)`);
else if (!config.metrics.gatewayUrl) console.log('No PUSHGATEWAY_URL: metrics are recorded but not pushed');

const port = process.env.HTTP_PORT ?? '3000';
// A few invocations per core at once, the rest queued (scripts/offline-patch.ts): a burst of cold starts
// would otherwise share the cores until every one of them times out.
process.env.OFFLINE_MAX_INVOCATIONS ??= String(2 * os.availableParallelism());
// V8's compiled code for the bundles, kept between runs: a fifth less CPU per container init once it is there.
process.env.NODE_COMPILE_CACHE ??= path.join(os.tmpdir(), 'serverless-shop-compile-cache');
// Its own process group: npx does not pass signals on to serverless, so stopping signals the whole group.
const offline = spawn('npx', ['serverless', 'offline', 'start'], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env, detached: true });
offline.stderr.pipe(process.stderr);
// serverless-offline says "Server ready" on one stream or the other depending on its version.
const watchForReady = (chunk: Buffer) => {
  if (chunk.toString().includes('Server ready')) {
    console.log(`
serverless-shop is up on http://127.0.0.1:${port}
  curl http://127.0.0.1:${port}/api/products?limit=3
  curl http://127.0.0.1:${port}/healthz
Database: ${database}
Admin: ${config.seed.adminEmail} / ${config.seed.adminPassword}. Ctrl-C stops everything.`);
  }
};
offline.stdout.on('data', (chunk: Buffer) => {
  process.stdout.write(chunk);
  watchForReady(chunk);
});
offline.stderr.on('data', watchForReady);

let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  try {
    process.kill(-offline.pid!, 'SIGTERM');
  } catch {
    // the group is already gone
  }
  await stopDatabase();
  process.exit(code);
};
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
offline.on('exit', (code) => void stop(code ?? 1));
