import { describe, expect, it } from 'vitest';
import { createMemoryCache } from '../../../../lib/cache/memory-cache.ts';

describe('the in-process cache', () => {
  it('forgets an entry once its TTL has passed', async () => {
    let now = 1_000;
    const cache = createMemoryCache(() => now);
    await cache.set('k', 'v', 10);
    expect(await cache.get('k')).toBe('v');
    now += 10_000;
    expect(await cache.get('k')).toBeNull();
  });

  it('keeps hash fields together and drops them all with the hash', async () => {
    const cache = createMemoryCache();
    await cache.hset('lists', 'a', '1', 60);
    await cache.hset('lists', 'b', '2', 60);
    expect(await cache.hget('lists', 'b')).toBe('2');
    await cache.del(['lists']);
    expect(await cache.hget('lists', 'a')).toBeNull();
  });

  it('tells the other containers of this process about a deletion', async () => {
    // Prepare: two "containers" (serverless-offline runs each warm function in a worker of one process)
    const reader = createMemoryCache();
    const writer = createMemoryCache();
    await reader.set('products:item:1', 'stale', 60);
    // Act
    await writer.del(['products:item:1']);
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Assess
    expect(await reader.get('products:item:1')).toBeNull();
  });
});
