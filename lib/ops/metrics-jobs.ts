// The two scheduled metric jobs: the business collector (figures from Postgres into their own group) and the
// gateway janitor (stale groups out, lost or overtaken slot values back in).
import { config } from '../config.ts';
import { log } from '../log.ts';
import { shopStats } from '../shop/stats.ts';
import { pushBusinessGauges } from '../metrics/business-gauges.ts';
import { authHeaders, createRedisSlotStore, runJanitor, type JanitorReport } from 'middy-pushgateway';
import { connectRedis } from '../redis.ts';
import { SHOP_JOB } from '../metrics/registry.ts';

/**
 * Runs a scheduled job that needs the gateway. Without PUSHGATEWAY_URL metrics are recorded but not pushed
 * (`npm start`'s default): the job then has nothing to do, and says so instead of failing every minute.
 */
export async function withGateway<T>(job: string, run: (gatewayUrl: string) => Promise<T>): Promise<T | { skipped: string }> {
  if (config.metrics.pushgatewayUrl) return run(config.metrics.pushgatewayUrl);
  log.info(`${job} skipped: PUSHGATEWAY_URL is not set`);
  return { skipped: 'PUSHGATEWAY_URL is not set' };
}

// A scheduled job has time, and a gateway holding many groups answers slowly (it checks every write against all
// of them, and its full read is large): within the jobs' timeout (serverless.yml), far beyond a request's deadline.
const SCHEDULED_GATEWAY_TIMEOUT_MS = 15_000;

export async function collectBusinessMetrics(gatewayUrl: string): Promise<{ figures: Awaited<ReturnType<typeof shopStats>> }> {
  const figures = await shopStats();
  await pushBusinessGauges({
    gatewayUrl,
    figures,
    timeoutMs: SCHEDULED_GATEWAY_TIMEOUT_MS,
    headers: authHeaders(config.metrics.pushgatewayAuth),
    job: SHOP_JOB,
  });
  return { figures };
}

export async function cleanGateway(gatewayUrl: string): Promise<JanitorReport> {
  const connection = config.cache.redisUrl ? connectRedis(config.cache.redisUrl, 1000) : undefined;
  try {
    return await runJanitor({
      gatewayUrl,
      slots: connection && createRedisSlotStore(connection.redis, SHOP_JOB),
      staleAfterSeconds: config.metrics.staleAfterSeconds,
      job: SHOP_JOB,
      headers: authHeaders(config.metrics.pushgatewayAuth),
      requestTimeoutMs: SCHEDULED_GATEWAY_TIMEOUT_MS,
    });
  } finally {
    connection?.release();
  }
}
