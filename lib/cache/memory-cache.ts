import type { Cache } from './cache.ts';

interface Entry {
  value: string | Map<string, string>;
  expiresAt: number;
}

const CHANNEL = 'serverless-shop:cache-invalidation';

/**
 * The cache used when REDIS_URL is unset. Each container keeps its own entries, as a Lambda container
 * would; deletions are broadcast to the other containers of this process (serverless-offline runs each
 * warm function in a worker thread of one process), so a read right after a write sees the write.
 */
export function createMemoryCache(now: () => number = Date.now): Cache {
  const entries = new Map<string, Entry>();
  const channel = new BroadcastChannel(CHANNEL);
  channel.unref(); // must not keep a finished `invoke local` or test process alive
  channel.onmessage = (event) => {
    for (const key of (event as MessageEvent).data as string[]) entries.delete(key);
  };

  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };

  return {
    kind: 'memory',
    async get(key) {
      const value = live(key)?.value;
      return typeof value === 'string' ? value : null;
    },
    async set(key, value, ttlSeconds) {
      entries.set(key, { value, expiresAt: now() + ttlSeconds * 1000 });
    },
    async hget(hash, field) {
      const value = live(hash)?.value;
      return value instanceof Map ? (value.get(field) ?? null) : null;
    },
    async hset(hash, field, value, ttlSeconds) {
      const entry = live(hash);
      if (entry?.value instanceof Map) entry.value.set(field, value);
      else entries.set(hash, { value: new Map([[field, value]]), expiresAt: now() + ttlSeconds * 1000 });
    },
    async del(keys) {
      for (const key of keys) entries.delete(key);
      channel.postMessage(keys);
    },
    async ping() {},
  };
}
