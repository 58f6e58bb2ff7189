import type { Cache } from './cache.ts';
import { connectRedis } from '../redis.ts';
import { log, describeError } from '../log.ts';

/** A cache failure reaches the caller as an error after at most one command timeout; it then serves from Postgres. */
export function createRedisCache(url: string, commandTimeoutMs: number): Cache {
  const { redis: client, connected } = connectRedis(url, commandTimeoutMs);
  let healthy = true;
  client.on('error', (err) => {
    if (healthy) log.warn('redis unavailable, serving from the database', describeError(err));
    healthy = false;
  });
  client.on('ready', () => {
    if (!healthy) log.info('redis reconnected');
    healthy = true;
  });

  return {
    kind: 'redis',
    async get(key) {
      await connected();
      return client.get(key);
    },
    async set(key, value, ttlSeconds) {
      await connected();
      await client.set(key, value, 'EX', ttlSeconds);
    },
    async hget(hash, field) {
      await connected();
      return client.hget(hash, field);
    },
    async hset(hash, field, value, ttlSeconds) {
      await connected();
      await client.multi().hset(hash, field, value).expire(hash, ttlSeconds, 'NX').exec();
    },
    async del(keys) {
      await connected();
      if (keys.length > 0) await client.del(...keys);
    },
    async ping() {
      await connected();
      await client.ping();
    },
  };
}
