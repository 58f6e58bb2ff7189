// The scheduled metric jobs: the business collector (figures from Postgres into their own group), the janitor
// (stale groups out, lost or overtaken slot values back in; with remote write, idle groups retired) and, with
// remote write, the flusher (the fleet's sums from Redis into Prometheus).
import { config } from '../config.ts';
import { log } from '../log.ts';
import { shopStats } from '../shop/stats.ts';
import { businessRegistry, pushBusinessGauges, storeBusinessGauges } from '../metrics/business-gauges.ts';
import { authHeaders, createRedisSlotStore, runJanitor, startFlusher, type FlushReport, type JanitorReport, type SlotStore } from 'middy-pushgateway';
import { connectRedis } from '../redis.ts';
import { SHOP_JOB } from '../metrics/registry.ts';

const { gatewayUrl, remoteWrite } = config.metrics;

/**
 * Runs a scheduled job when metrics go somewhere. Without PUSHGATEWAY_URL (and without remote write) they are
 * recorded but not pushed (`npm start`'s default): the job then has nothing to do, and says so instead of
 * failing every minute.
 */
export async function whenDelivering<T>(job: string, run: () => Promise<T>): Promise<T | { skipped: string }> {
  if (gatewayUrl || remoteWrite) return run();
  log.info(`${job} skipped: PUSHGATEWAY_URL is not set`);
  return { skipped: 'PUSHGATEWAY_URL is not set' };
}

// A scheduled job has time, and a gateway holding many groups answers slowly (it checks every write against all
// of them, and its full read is large): within the jobs' timeout (serverless.yml), far beyond a request's deadline.
const SCHEDULED_GATEWAY_TIMEOUT_MS = 15_000;
// A job's commands may wait longer than a request's (lib/config.ts REDIS_COMMAND_TIMEOUT_MS): a flusher reads
// every group, and the janitor moves whole states.
const JOB_REDIS_TIMEOUT_MS = 1000;

/** The shop's slot store for one job run, or undefined without Redis. */
async function withSlots<T>(run: (slots: SlotStore | undefined) => Promise<T>): Promise<T> {
  const connection = config.cache.redisUrl ? connectRedis(config.cache.redisUrl, JOB_REDIS_TIMEOUT_MS) : undefined;
  try {
    return await run(connection && createRedisSlotStore(connection.redis, SHOP_JOB));
  } finally {
    connection?.release();
  }
}

export async function collectBusinessMetrics(): Promise<{ figures: Awaited<ReturnType<typeof shopStats>> }> {
  const figures = await shopStats();
  const registry = businessRegistry(figures);
  if (gatewayUrl) {
    await pushBusinessGauges({ gatewayUrl, registry, timeoutMs: SCHEDULED_GATEWAY_TIMEOUT_MS, headers: authHeaders(config.metrics.pushgatewayAuth), job: SHOP_JOB });
  }
  if (remoteWrite) await withSlots((slots) => storeBusinessGauges(slots!, registry));
  return { figures };
}

export function cleanMetrics(): Promise<JanitorReport> {
  return withSlots((slots) =>
    runJanitor({
      gatewayUrl,
      slots,
      remoteWrite: remoteWrite !== undefined,
      staleAfterSeconds: config.metrics.staleAfterSeconds,
      job: SHOP_JOB,
      headers: authHeaders(config.metrics.pushgatewayAuth),
      requestTimeoutMs: SCHEDULED_GATEWAY_TIMEOUT_MS,
    }),
  );
}

export interface FlushSummary {
  runs: number;
  written: number;
  failed: number;
  last?: FlushReport;
}

/**
 * Flushes every `flushIntervalMs` until `until` settles, then lets the run in progress finish. Runs that find
 * another flusher holding the lease write nothing: one writer at a time.
 */
export async function flushMetricsUntil(until: Promise<unknown>): Promise<FlushSummary> {
  const rw = remoteWrite!;
  const summary: FlushSummary = { runs: 0, written: 0, failed: 0 };
  await withSlots(async (slots) => {
    const loop = startFlusher({
      slots: slots!,
      url: rw.url,
      auth: rw.auth,
      headers: rw.headers,
      staleAfterSeconds: config.metrics.staleAfterSeconds,
      intervalMs: rw.flushIntervalMs,
      onReport: (report) => {
        summary.runs++;
        if (!report.skipped) summary.written++;
        summary.last = report;
      },
      onError: (err) => {
        summary.runs++;
        summary.failed++;
        log.warn('metrics flush failed', { error: err instanceof Error ? err.message : String(err) });
      },
    });
    await until;
    await loop.stop();
  });
  return summary;
}

/**
 * The scheduled function's share: `flushForMs` of flushes (less when the function has less time left). A
 * scheduled function runs at most once a minute, and Prometheus should see the fleet's sums as often as it scrapes.
 */
export function flushMetrics(remainingMs: number): Promise<FlushSummary> {
  const forMs = Math.max(0, Math.min(remoteWrite!.flushForMs, remainingMs - FLUSH_STOP_MARGIN_MS));
  return flushMetricsUntil(new Promise((resolve) => setTimeout(resolve, forMs)));
}

// Room for the run in progress to finish before the function's timeout: one write attempt's deadline and more.
const FLUSH_STOP_MARGIN_MS = 12_000;
