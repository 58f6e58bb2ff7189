// Every function through `serverless invoke local` with its sample event, the way a developer runs them:
// no DATABASE_URL, so the first invocation starts the embedded database over a fresh data directory and
// each later one finds the data the earlier ones wrote.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);

// In the order a developer would try them: the order that orders-get and orders-update-status read is the
// one orders-create makes, and the admin is the local default (admin@shop.local).
const INVOCATIONS: [fn: string, event: string, status: number][] = [
  ['listProducts', 'products-list', 200],
  ['getProduct', 'products-get', 200],
  ['createProduct', 'products-create', 201],
  ['updateProduct', 'products-update', 200],
  ['deleteProduct', 'products-delete', 204],
  ['registerUser', 'users-register', 201],
  ['loginUser', 'users-login', 200],
  ['getMe', 'users-me', 200],
  ['createOrder', 'orders-create', 201],
  ['listOrders', 'orders-list', 200],
  ['getOrder', 'orders-get', 200],
  ['updateOrderStatus', 'orders-update-status', 200],
  ['healthz', 'healthz', 200],
  ['info', 'info', 200],
  ['healthzMetrics', 'healthz-metrics', 200],
  ['fallback', 'fallback', 404],
];
// The scheduled jobs push to a Pushgateway; they run here when there is one (flushMetrics then has nothing to
// do: METRICS_DELIVERY is pushgateway, and it says so).
const SCHEDULED = ['collectBusinessMetrics', 'metricsJanitor', 'flushMetrics'];

describe('serverless invoke local with the sample events', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'shop-invoke-'));
    // Its own build folder: serverless-offline (the other e2e tests) is serving bundles from .esbuild, and
    // rewriting those under a running worker breaks it.
    env = { ...process.env, EMBEDDED_DB_DIR: dataDir, EMBEDDED_DB_PORT: '54391', LOG_LEVEL: 'warn', ESBUILD_WORK_FOLDER: '.esbuild-invoke' };
    for (const name of ['DATABASE_URL', 'REDIS_URL', 'ADMIN_EMAIL', 'ADMIN_PASSWORD', 'EVENT_BUS_NAME']) delete env[name];
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
    await rm(`${dataDir}.lock`, { force: true });
  });

  // osls prints the handler's result as JSON after any log lines.
  const invoke = async (fn: string, event: string) => {
    const { stdout, stderr } = await run('npx', ['serverless', 'invoke', 'local', '-f', fn, '--path', `events/${event}.json`], { env, timeout: 110_000 }).catch(
      (err: Error & { stdout?: string; stderr?: string }) => {
        throw new Error(`${fn} failed:\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
      },
    );
    return { ...(JSON.parse(stdout.slice(stdout.indexOf('{\n'))) as Record<string, unknown>), logs: `${stdout}\n${stderr}` };
  };

  it.each(INVOCATIONS)('%s answers %s with %i', { timeout: 120_000 }, async (fn, event, status) => {
    const result = (await invoke(fn, event)) as { statusCode: number; body: string; logs: string };
    expect(result.statusCode, `${result.body}\n${result.logs}`).toBe(status);
    if (status !== 204) expect(() => JSON.parse(result.body)).not.toThrow();
  });

  it.runIf(process.env.PUSHGATEWAY_URL).each(SCHEDULED)('%s runs on a scheduled event', { timeout: 120_000 }, async (fn) => {
    const result = await invoke(fn, 'scheduled');
    expect(result).toBeTypeOf('object');
  });

  // Needs no server. Without an event bus, the OrderCreated of orders-create was marked skipped at once.
  it('relayOutbox runs on a scheduled event and leaves nothing pending', { timeout: 120_000 }, async () => {
    const result = await invoke('relayOutbox', 'scheduled');
    expect(result).toMatchObject({ published: 0, failed: 0, pending: 0 });
  });
});
