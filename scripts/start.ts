// `npm start`: the shop on this machine with nothing else installed. Without DATABASE_URL it serves the
// embedded Postgres (PGlite, data in .data/pglite) from this process; with it, it migrates and seeds that
// database. Then it runs serverless-offline until Ctrl-C.
import { spawn } from 'node:child_process';

import { config } from '../lib/config.ts';
import { prepareDatabase } from '../lib/db/prepare.ts';
import { startEmbeddedDatabase } from '../lib/db/embedded.ts';

let stopDatabase = async () => {};
if (config.database.url) {
  await prepareDatabase(config.database.url);
} else {
  const embedded = await startEmbeddedDatabase({ dataDir: config.database.embeddedDir, port: config.database.embeddedPort });
  process.env.DATABASE_URL = embedded.url;
  stopDatabase = embedded.stop;
  console.log(`Embedded Postgres (PGlite) on ${embedded.url}, data in ${config.database.embeddedDir}`);
}
if (!config.cache.redisUrl) console.log('No REDIS_URL: using the in-process cache');
if (!config.metrics.pushgatewayUrl) console.log('No PUSHGATEWAY_URL: metrics are recorded but not pushed');

const port = process.env.HTTP_PORT ?? '3000';
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
