// The container's cache: Redis when REDIS_URL is set, in-process otherwise. Calls never throw (except
// ping, for health checks): a cache failure is counted and the caller falls back to the database.
import type { Cache } from './cache.ts';
import { config } from '../config.ts';
import { createRedisCache } from './redis-cache.ts';
import { createMemoryCache } from './memory-cache.ts';
import { observeCacheOperation, type CacheOperation } from '../metrics/cache.ts';
import { countError } from '../metrics/errors.ts';

export type { Cache } from './cache.ts';

export function resilient(inner: Cache): Cache {
  async function run<T>(operation: CacheOperation, work: () => Promise<T>, fallback: T, result: (v: T) => 'hit' | 'miss' | 'ok'): Promise<T> {
    const started = performance.now();
    try {
      const value = await work();
      observeCacheOperation(operation, result(value), (performance.now() - started) / 1000);
      return value;
    } catch {
      observeCacheOperation(operation, 'error', (performance.now() - started) / 1000);
      countError('cache_unavailable', 'cache', 'warning');
      return fallback;
    }
  }
  const found = (v: string | null) => (v === null ? 'miss' : 'hit');
  const done = () => 'ok' as const;
  return {
    kind: inner.kind,
    get: (key) => run('get', () => inner.get(key), null, found),
    set: (key, value, ttl) => run('set', () => inner.set(key, value, ttl), undefined, done),
    hget: (hash, field) => run('get', () => inner.hget(hash, field), null, found),
    hset: (hash, field, value, ttl) => run('set', () => inner.hset(hash, field, value, ttl), undefined, done),
    del: (keys) => run('del', () => inner.del(keys), undefined, done),
    ping: () => inner.ping(),
  };
}

let current: Cache | undefined;

export function getCache(): Cache {
  current ??= resilient(
    config.cache.redisUrl ? createRedisCache(config.cache.redisUrl, config.cache.commandTimeoutMs) : createMemoryCache(),
  );
  return current;
}

/** Which cache this container has, for the health check's report. */
export const cacheKind = (): Cache['kind'] => getCache().kind;

/** One round trip to the container's cache; unlike every other call, it throws when the cache is down. */
export const ping = (): Promise<void> => getCache().ping();
