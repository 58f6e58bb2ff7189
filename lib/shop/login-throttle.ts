// Per-account login throttling. Every attempt on one email is counted before its password is read, so a
// burst of concurrent guesses cannot slip past the limit; a successful login forgets the count. An attempt
// that ends without a verdict on its password (the database is down, a bug) is given back: only wrong
// credentials count, so an outage locks no one out, while the attempts in flight still hold their places
// under the limit. Once `maxFailures` attempts are counted, the account's logins are refused unread, and
// uncounted, until `lockSeconds` after the last attempt that was let through. The rule is keyed by a hash of
// the normalised email: accounts that exist and ones that do not are treated alike (nothing to enumerate),
// and no address is stored in Redis.
import { createHash } from 'node:crypto';
import { config } from '../config.ts';
import { connectRedis } from '../redis.ts';
import { countError } from '../metrics/errors.ts';

/** A refused attempt learns how long until the count is forgotten. */
export type Hit = { counted: true } | { counted: false; ttlMs: number };

export interface AttemptStore {
  /** Counts one attempt, and (re)starts the expiry of `windowMs`, unless `limit` are counted already. A refused
   * attempt is not counted, so hammering a lock neither prolongs it nor leaves anything to give back. */
  hit(key: string, windowMs: number, limit: number): Promise<Hit>;
  /** Takes one counted attempt back. */
  release(key: string): Promise<void>;
  clear(key: string): Promise<void>;
}

export interface ThrottlePolicy {
  maxFailures: number;
  lockSeconds: number;
}

export type Verdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface LoginThrottle {
  /** Counts an attempt on this (normalised) email and says whether its password may be checked. */
  attempt(email: string): Promise<Verdict>;
  succeeded(email: string): Promise<void>;
  /** An allowed attempt ended without a verdict on its credentials: it is not held against the account. */
  inconclusive(email: string): Promise<void>;
}

const keyOf = (email: string) => `login:attempts:${createHash('sha256').update(email).digest('hex')}`;

export function createLoginThrottle(store: AttemptStore, policy: ThrottlePolicy): LoginThrottle {
  return {
    async attempt(email) {
      const hit = await store.hit(keyOf(email), policy.lockSeconds * 1000, policy.maxFailures);
      if (hit.counted) return { allowed: true };
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(hit.ttlMs / 1000)) };
    },
    succeeded: (email) => store.clear(keyOf(email)),
    inconclusive: (email) => store.release(keyOf(email)),
  };
}

// A spray of made-up addresses must not grow a container without bound; past this, the oldest go first.
const MAX_TRACKED_KEYS = 10_000;

/** For runs without Redis, and the stand-in while Redis is down: counts per container. */
export function createMemoryAttemptStore(now: () => number = Date.now): AttemptStore {
  const entries = new Map<string, { count: number; expiresAt: number }>();
  const makeRoom = (at: number) => {
    for (const [key, entry] of entries) if (entry.expiresAt <= at) entries.delete(key);
    for (const key of entries.keys()) {
      if (entries.size < MAX_TRACKED_KEYS) break;
      entries.delete(key);
    }
  };
  return {
    async hit(key, windowMs, limit) {
      const at = now();
      let entry = entries.get(key);
      if (!entry || entry.expiresAt <= at) {
        entries.delete(key);
        if (entries.size >= MAX_TRACKED_KEYS) makeRoom(at);
        entry = { count: 0, expiresAt: at };
        entries.set(key, entry);
      }
      if (entry.count >= limit) return { counted: false, ttlMs: entry.expiresAt - at };
      entry.count++;
      entry.expiresAt = at + windowMs;
      return { counted: true };
    },
    async release(key) {
      const entry = entries.get(key);
      if (entry && entry.count > 1) entry.count--;
      else entries.delete(key);
    },
    async clear(key) {
      entries.delete(key);
    },
  };
}

// Scripts, so that a count and its expiry change together and concurrent attempts see each other's counts.
// SET ... PX counts and starts the window in one write: no attempt is counted without an expiry.
const HIT = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[2]) then return {0, redis.call('PTTL', KEYS[1])} end
redis.call('SET', KEYS[1], count + 1, 'PX', ARGV[1])
return {1, 0}`;
// DECR keeps the expiry; the last attempt given back removes the key rather than leave a count of 0.
const RELEASE = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 1 then redis.call('DECR', KEYS[1]) else redis.call('DEL', KEYS[1]) end`;

/** Shared by every container, so the limit holds for the account however many containers serve it. */
export function createRedisAttemptStore(url: string, commandTimeoutMs: number): AttemptStore {
  const { redis, connected } = connectRedis(url, commandTimeoutMs);
  return {
    async hit(key, windowMs, limit) {
      await connected();
      const [counted, ttlMs] = (await redis.eval(HIT, 1, key, String(windowMs), String(limit))) as [number, number];
      return counted ? { counted: true } : { counted: false, ttlMs };
    },
    async release(key) {
      await connected();
      await redis.eval(RELEASE, 1, key);
    },
    async clear(key) {
      await connected();
      await redis.del(key);
    },
  };
}

/** Redis down must not lock everybody out nor let anybody guess freely: the container counts on its own. */
export function withFallback(primary: AttemptStore, fallback: AttemptStore): AttemptStore {
  const run = async <T>(work: (store: AttemptStore) => Promise<T>): Promise<T> => {
    try {
      return await work(primary);
    } catch {
      countError('cache_unavailable', 'login_throttle', 'warning');
      return work(fallback);
    }
  };
  return {
    hit: (key, windowMs, limit) => run((store) => store.hit(key, windowMs, limit)),
    release: (key) => run((store) => store.release(key)),
    clear: (key) => run((store) => store.clear(key)),
  };
}

let current: LoginThrottle | undefined;

export function loginThrottle(): LoginThrottle {
  const { redisUrl, commandTimeoutMs } = config.cache;
  current ??= createLoginThrottle(
    redisUrl ? withFallback(createRedisAttemptStore(redisUrl, commandTimeoutMs), createMemoryAttemptStore()) : createMemoryAttemptStore(),
    config.auth.login,
  );
  return current;
}
