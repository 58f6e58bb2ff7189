import { Redis } from 'ioredis';
import { createRedisSlotStore, runJanitor } from 'middy-pushgateway';

// Scheduled: puts back on the gateway what it lost or what a slot stored but did not POST yet, and deletes
// groups not pushed for a day.
export async function handler() {
  const { PUSHGATEWAY_URL, REDIS_URL, METRICS_JOB } = process.env;
  if (!PUSHGATEWAY_URL) return { skipped: 'PUSHGATEWAY_URL is not set' };
  const job = METRICS_JOB || undefined;
  const redis = REDIS_URL ? new Redis(REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 1000 }) : undefined;
  try {
    // The slot store of the functions' job: the same Redis keys their pushes use.
    return await runJanitor({ gatewayUrl: PUSHGATEWAY_URL, slots: redis && createRedisSlotStore(redis, job), staleAfterSeconds: 24 * 3600, job });
  } finally {
    redis?.disconnect();
  }
}
