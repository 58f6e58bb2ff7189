// What the benchmark needs, on loopback: the database (for the first, missing read), Redis (the cache, and our
// push slots) and a Pushgateway. Each one comes from the environment when set (DATABASE_URL, REDIS_URL,
// PUSHGATEWAY_URL), else it is started here on a free port and stopped by stop().
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './no-metrics.ts';
import { freePort, ServerProcess } from '../servers/process.ts';
import { pushgatewayLaunch } from '../servers/pushgateway.ts';
import { redisLaunch } from '../servers/redis.ts';

export interface Servers {
  databaseUrl: string;
  redisUrl: string;
  gatewayUrl: string;
  started: string[];
  stop(): Promise<void>;
}

/** A Pushgateway of our own, in memory only (always started here: the bench fills it on purpose). */
export async function startPushgateway(extraArgs: string[] = []): Promise<{ url: string; version: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const server = await ServerProcess.start(pushgatewayLaunch(port, { args: extraArgs }));
  const url = `http://127.0.0.1:${port}`;
  const status = (await (await fetch(`${url}/api/v1/status`)).json()) as { data?: { build_information?: { version?: string } } };
  return { url, version: status.data?.build_information?.version ?? '?', stop: () => server.stop() };
}

export async function startServers(log: (line: string) => void): Promise<Servers> {
  const stops: (() => Promise<void>)[] = [];
  const started: string[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
    stops.length = 0;
  };
  try {
    let redisUrl = process.env.REDIS_URL;
    if (!redisUrl) {
      const port = await freePort();
      // Memory only: its dir is never written to.
      const redis = await ServerProcess.start(redisLaunch(port, os.tmpdir(), 'none'));
      stops.push(() => redis.stop());
      redisUrl = `redis://127.0.0.1:${port}`;
      started.push('redis-server');
    }

    let gatewayUrl = process.env.PUSHGATEWAY_URL;
    if (!gatewayUrl) {
      const gateway = await startPushgateway();
      stops.push(gateway.stop);
      gatewayUrl = gateway.url;
      started.push(`prometheus-pushgateway ${gateway.version}`);
    }

    let databaseUrl = process.env.DATABASE_URL;
    if (!databaseUrl) {
      // A fresh cluster in a temp dir; the children only read from it once, on their first miss. The server's
      // process takes its environment at spawn: quiet its seeding log, then put it back.
      const { startEmbeddedDatabase } = await import('../../lib/db/embedded.ts');
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'shop-bench-pg-'));
      stops.push(() => rm(dataDir, { recursive: true, force: true }));
      const logLevel = process.env.LOG_LEVEL;
      process.env.LOG_LEVEL = 'warn';
      const embedded = await startEmbeddedDatabase({ dataDir, port: await freePort(), migrationsDir: path.join(ROOT, 'lib', 'db', 'migrations') }).finally(() => {
        if (logLevel === undefined) delete process.env.LOG_LEVEL;
        else process.env.LOG_LEVEL = logLevel;
      });
      stops.push(() => embedded.stop());
      databaseUrl = embedded.url;
      started.push('embedded PostgreSQL');
    }
    log(`database ${databaseUrl}, redis ${redisUrl}, gateway ${gatewayUrl}${started.length ? ` (started here: ${started.join(', ')})` : ''}`);
    return { databaseUrl, redisUrl, gatewayUrl, started, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
