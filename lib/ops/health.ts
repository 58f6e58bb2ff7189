// Dependency checks for GET /healthz. Only the database is essential: without Redis the catalogue comes
// from Postgres, and without the gateway only metrics wait. So: down (503) means the database, degraded
// (200) means one of the others.
import { ping as pingDatabase, ready as databaseReady } from '../db/ping.ts';
import { cacheKind, ping as pingCache } from '../cache/index.ts';
import { config } from '../config.ts';
import { authHeaders, gatewayRequest } from 'middy-pushgateway';

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
  const url = config.metrics.gatewayUrl;
  if (!url) return { ok: true, latencyMs: 0, configured: false };
  return timedCheck(async () => {
    // A gateway behind basic auth answers 401 to anyone else, /-/healthy included.
    const headers = authHeaders(config.metrics.pushgatewayAuth);
    await gatewayRequest(new URL('/-/healthy', url), { headers, signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
  }, { configured: true });
}

export async function checkHealth(): Promise<Health> {
  await databaseReady();
  const [database, cacheCheck, pushgateway] = await Promise.all([
    timedCheck(pingDatabase),
    timedCheck(pingCache, { kind: cacheKind() }),
    pushgatewayCheck(),
  ]);
  const status = !database.ok ? 'down' : cacheCheck.ok && pushgateway.ok ? 'ok' : 'degraded';
  return { status, checks: { database, cache: cacheCheck, pushgateway } };
}
