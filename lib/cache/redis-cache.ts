import { Redis } from 'ioredis';
import type { Cache } from './cache.ts';
import { log, describeError } from '../log.ts';

/**
 * Redis is optional at run time: no offline queue and no per-request retries, so a dead Redis costs a
 * request one bounded command timeout, after which the caller serves from Postgres. ioredis keeps
 * reconnecting in the background, so the cache comes back without a restart.
 */
export function createRedisCache(url: string, commandTimeoutMs: number): Cache {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    connectTimeout: 1000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
  });
  let healthy = true;
  client.on('error', (err) => {
    if (healthy) log.warn('redis unavailable, serving from the database', describeError(err));
    healthy = false;
  });
  client.on('ready', () => {
    if (!healthy) log.info('redis reconnected');
    healthy = true;
  });

  // A fresh container's first command would otherwise race the connection handshake and always miss.
  let firstConnect: Promise<void> | undefined = new Promise<void>((resolve) => {
    const done = () => resolve();
    client.once('ready', done);
    setTimeout(done, commandTimeoutMs).unref();
  });
  const connected = async () => {
    if (firstConnect) await firstConnect;
    firstConnect = undefined;
  };

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
