// Dependency checks for GET /healthz. Only the database is essential: without Redis the catalogue comes
// from Postgres, and without the gateway only metrics wait. So: down (503) means the database, degraded
// (200) means one of the others.
import { db } from '../db/query.ts';
import { getPool } from '../db/pool.ts';
import { getCache } from '../cache/index.ts';
import { config } from '../config.ts';
import { authHeaders, gatewayRequest } from '../metrics/gateway.ts';

export interface Check {
  ok: boolean;
  latencyMs: number;
  error?: string;
  [detail: string]: unknown;
}
export interface Health {
  status: 'ok' | 'degraded' | 'down';
  checks: { database: Check; cache: Check; pushgateway: Check };
}

const CHECK_TIMEOUT_MS = 1000;

async function timedCheck(run: () => Promise<unknown>, extra: Record<string, unknown> = {}): Promise<Check> {
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      run(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { ok: true, latencyMs: elapsed(), ...extra };
  } catch (err) {
    // The message names the failure class (refused, timeout); no connection strings or credentials.
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, latencyMs: elapsed(), error: message, ...extra };
  } finally {
    clearTimeout(timer);
  }
}

async function pushgatewayCheck(): Promise<Check> {
  const url = config.metrics.pushgatewayUrl;
  if (!url) return { ok: true, latencyMs: 0, configured: false };
  return timedCheck(async () => {
    // A gateway behind basic auth answers 401 to anyone else, /-/healthy included.
    const headers = authHeaders(config.metrics.pushgatewayAuth);
    await gatewayRequest(new URL('/-/healthy', url), { headers, signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
  }, { configured: true });
}

export async function checkHealth(): Promise<Health> {
  const cache = getCache();
  // Getting the pool is free when deployed; locally it may first start the embedded database, which is
  // start-up time, not the database's latency. A failure here shows up in the check below.
  await getPool().catch(() => undefined);
  const [database, cacheCheck, pushgateway] = await Promise.all([
    timedCheck(() => db.query({ operation: 'select', table: 'health' }, 'SELECT 1')),
    timedCheck(() => cache.ping(), { kind: cache.kind }),
    pushgatewayCheck(),
  ]);
  const status = !database.ok ? 'down' : cacheCheck.ok && pushgateway.ok ? 'ok' : 'degraded';
  return { status, checks: { database, cache: cacheCheck, pushgateway } };
}
