// One way to talk to Redis, for the cache, the push-slot leases and the login throttle alike. Redis is optional
// at run time: no offline queue and no per-request retries, so a dead Redis costs a call one bounded command
// timeout; ioredis keeps reconnecting in the background, so each comes back without a restart.
//
// They share one connection per container (per URL and timeout): a fleet of containers would otherwise hold
// three connections each against Redis's client limit, and each would pay its own connect and ready check.
import { Redis } from 'ioredis';

export interface RedisConnection {
  redis: Redis;
  /** Resolves once the first connection is up, or after one command timeout: a fresh container's first
   * command would otherwise race the handshake and always fail. */
  connected(): Promise<void>;
  /** This user is done with it; the connection closes when its last user is. */
  release(): void;
}

interface Shared {
  redis: Redis;
  first: Promise<void> | undefined;
  users: number;
}

const shared = new Map<string, Shared>();

export function connectRedis(url: string, commandTimeoutMs: number): RedisConnection {
  const key = `${commandTimeoutMs} ${url}`;
  let connection = shared.get(key);
  if (!connection) {
    const redis = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: commandTimeoutMs,
      connectTimeout: 1000,
      retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    });
    // Each user counts or logs failures its own way; without a listener, an error event would throw.
    redis.on('error', () => {});
    const first = new Promise<void>((resolve) => {
      redis.once('ready', () => resolve());
      setTimeout(resolve, commandTimeoutMs).unref();
    });
    const created: Shared = { redis, first, users: 0 };
    void first.then(() => (created.first = undefined));
    connection = created;
    shared.set(key, connection);
  }
  const mine = connection;
  mine.users++;
  let released = false;
  return {
    redis: mine.redis,
    async connected() {
      if (mine.first) await mine.first;
    },
    release() {
      if (released) return;
      released = true;
      if (--mine.users > 0) return;
      shared.delete(key);
      mine.redis.disconnect();
    },
  };
}
