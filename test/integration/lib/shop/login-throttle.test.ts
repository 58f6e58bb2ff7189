// The Redis attempt store's scripts against a real Redis: the limit holds for a concurrent burst, refused
// attempts are not counted, and attempts given back free their places without leaving a key behind.
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createRedisAttemptStore } from '../../../../lib/shop/login-throttle.ts';
import { unique } from '../../../support/fixtures.ts';

const redisUrl = process.env.REDIS_URL;
const WINDOW_MS = 60_000;
const LIMIT = 5;

// Without REDIS_URL (a plain local `npm test`) there is no Redis to test; CI always sets it.
describe.runIf(redisUrl)('the Redis attempt store', () => {
  const store = () => createRedisAttemptStore(redisUrl!, 1000);
  const peek = async (key: string) => {
    const redis = new Redis(redisUrl!);
    try {
      return { count: await redis.get(key), ttlMs: await redis.pttl(key) };
    } finally {
      redis.disconnect();
    }
  };

  it('lets no more than the limit of a concurrent burst through, and does not count the refused ones', async () => {
    // Prepare
    const attempts = store();
    const key = unique('login:attempts:burst');
    // Act
    const hits = await Promise.all(Array.from({ length: 50 }, () => attempts.hit(key, WINDOW_MS, LIMIT)));
    // Assess
    expect(hits.filter((h) => h.counted)).toHaveLength(LIMIT);
    expect(hits.filter((h) => !h.counted)).toEqual(Array(50 - LIMIT).fill({ counted: false, ttlMs: expect.any(Number) }));
    const stored = await peek(key);
    expect(stored.count).toBe(String(LIMIT));
    expect(stored.ttlMs).toBeGreaterThan(WINDOW_MS - 5000);
    expect(stored.ttlMs).toBeLessThanOrEqual(WINDOW_MS);
  });

  it('frees the place of an attempt given back, and removes the key with the last one', async () => {
    // Prepare
    const attempts = store();
    const key = unique('login:attempts:release');
    for (let i = 0; i < LIMIT; i++) await attempts.hit(key, WINDOW_MS, LIMIT);
    // Act
    await attempts.release(key);
    const again = await attempts.hit(key, WINDOW_MS, LIMIT);
    const full = await attempts.hit(key, WINDOW_MS, LIMIT);
    for (let i = 0; i < LIMIT; i++) await attempts.release(key);
    await attempts.release(key); // one too many, as after a concurrent successful login cleared the count
    // Assess
    expect(again).toEqual({ counted: true });
    expect(full).toEqual({ counted: false, ttlMs: expect.any(Number) });
    expect(await peek(key)).toEqual({ count: null, ttlMs: -2 });
    expect(await attempts.hit(key, WINDOW_MS, LIMIT)).toEqual({ counted: true });
  });

  it('forgets the count with clear', async () => {
    const attempts = store();
    const key = unique('login:attempts:clear');
    for (let i = 0; i < LIMIT; i++) await attempts.hit(key, WINDOW_MS, LIMIT);
    await attempts.clear(key);
    expect(await attempts.hit(key, WINDOW_MS, LIMIT)).toEqual({ counted: true });
  });
});
