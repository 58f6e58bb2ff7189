// The real servers for integration and e2e tests. DATABASE_URL, REDIS_URL, PUSHGATEWAY_URL and
// PROMETHEUS_URL, when set (.ci/run sets them all, and CI requires them), must answer or the run fails: a
// missing server is a failure, never a skip. Unset, the database is the embedded PostgreSQL (a fresh cluster in
// a temp dir, on a free port), the cache is in-process, and the tests that need Redis, a gateway or Prometheus do not run.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TEST_ADMIN } from './test-env.ts';
import { freePort } from '../../scripts/servers/process.ts';

export default async function setup(): Promise<(() => Promise<void>) | void> {
  // Each project runs its global setups in this one process: the first one to get here prepares everything.
  if (process.env.SHOP_TEST_SERVERS_READY) return;
  process.env.SHOP_TEST_SERVERS_READY = '1';
  process.env.ADMIN_EMAIL = TEST_ADMIN.email;
  process.env.ADMIN_PASSWORD = TEST_ADMIN.password;
  process.env.LOG_LEVEL ??= 'warn';

  const required = ['DATABASE_URL', 'REDIS_URL', 'PUSHGATEWAY_URL', 'PROMETHEUS_URL', 'PROMTOOL'];
  const missing = required.filter((name) => !process.env[name]);
  if (process.env.CI && missing.length > 0) {
    throw new Error(`CI must run the tests against real servers: ${missing.join(', ')} missing (see .ci/run)`);
  }

  let stop = async () => {};
  if (process.env.DATABASE_URL) {
    const { prepareDatabase } = await import('../../lib/db/prepare.ts');
    await prepareDatabase(process.env.DATABASE_URL).catch((err: unknown) => {
      throw new Error(`DATABASE_URL is set but the database is not usable: ${(err as Error).message}`, { cause: err });
    });
  } else {
    const { startEmbeddedDatabase } = await import('../../lib/db/embedded.ts');
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'shop-test-pg-'));
    const embedded = await startEmbeddedDatabase({ dataDir, port: await freePort() });
    process.env.DATABASE_URL = embedded.url;
    stop = async () => {
      await embedded.stop();
      await rm(dataDir, { recursive: true, force: true });
    };
  }

  if (process.env.REDIS_URL) {
    const { Redis } = await import('ioredis');
    const redis = new Redis(process.env.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000 });
    try {
      await redis.connect();
      await redis.flushdb(); // cached catalogue pages from an earlier run would not match this database
    } catch (err) {
      throw new Error(`REDIS_URL is set but Redis does not answer: ${(err as Error).message}`, { cause: err });
    } finally {
      redis.disconnect();
    }
  }
  for (const [name, path] of [['PUSHGATEWAY_URL', '/-/ready'], ['PROMETHEUS_URL', '/-/ready']] as const) {
    const url = process.env[name];
    if (!url) continue;
    const ready = await fetch(new URL(path, url)).then((r) => r.ok, () => false);
    if (!ready) throw new Error(`${name} is set but ${url} does not answer`);
  }
  return stop;
}
