import { describe, expect, it } from 'vitest';
import { createRedisCache } from '../../../../lib/cache/redis-cache.ts';
import { resilient } from '../../../../lib/cache/index.ts';
import { registry } from '../../../../lib/metrics/registry.ts';
import { unique } from '../../../support/fixtures.ts';

const redisUrl = process.env.REDIS_URL;
const errors = async () =>
  (await registry.getSingleMetric('cache_operations_total')!.get()).values
    .filter((v) => v.labels.result === 'error')
    .reduce((sum, v) => sum + v.value, 0);

// Without REDIS_URL (a plain local `npm test`) there is no Redis to test; .ci/run always sets it.
describe.runIf(redisUrl)('the Redis cache', () => {
  it('stores, reads and deletes values and hash fields', async () => {
    const cache = createRedisCache(redisUrl!, 100);
    const [key, hash] = [unique('k'), unique('h')];
    await cache.set(key, 'v', 60);
    await cache.hset(hash, 'f1', 'one', 60);
    await cache.hset(hash, 'f2', 'two', 60);
    expect(await cache.get(key)).toBe('v');
    expect(await cache.hget(hash, 'f2')).toBe('two');
    await cache.del([key, hash]);
    expect(await cache.get(key)).toBeNull();
    expect(await cache.hget(hash, 'f1')).toBeNull();
  });

  it('expires entries after their TTL', async () => {
    const cache = createRedisCache(redisUrl!, 100);
    const key = unique('ttl');
    await cache.set(key, 'v', 1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await cache.get(key)).toBeNull();
  });
});

describe('a cache whose Redis is down', () => {
  it('answers a miss within a bounded delay and counts the error', async () => {
    // Prepare: a port nothing listens on
    const cache = resilient(createRedisCache('redis://127.0.0.1:1', 100));
    const before = await errors();
    // Act
    const started = performance.now();
    const value = await cache.get('anything');
    await cache.set('anything', 'v', 10);
    const elapsed = performance.now() - started;
    // Assess
    expect(value).toBeNull();
    expect(elapsed).toBeLessThan(1000);
    expect(await errors()).toBe(before + 2);
  });
});
