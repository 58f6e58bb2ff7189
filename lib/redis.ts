// One way to talk to Redis, for the cache and the push-slot leases alike. Redis is optional at run time:
// no offline queue and no per-request retries, so a dead Redis costs a call one bounded command timeout;
// ioredis keeps reconnecting in the background, so both come back without a restart.
import { Redis } from 'ioredis';

export interface RedisConnection {
  redis: Redis;
  /** Resolves once the first connection is up, or after one command timeout: a fresh container's first
   * command would otherwise race the handshake and always fail. */
  connected(): Promise<void>;
}

export function connectRedis(url: string, commandTimeoutMs: number): RedisConnection {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    connectTimeout: 1000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
  });
  let first: Promise<void> | undefined = new Promise<void>((resolve) => {
    redis.once('ready', () => resolve());
    setTimeout(resolve, commandTimeoutMs).unref();
  });
  return {
    redis,
    async connected() {
      if (first) await first;
      first = undefined;
    },
  };
}
