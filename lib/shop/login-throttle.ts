// Per-account login throttling. Every attempt on one email is counted before its password is read, so a
// burst of concurrent guesses cannot slip past the limit; a successful login forgets the count. Once
// `maxFailures` attempts are spent, the account's logins are refused unread until `lockSeconds` after the last
// attempt that was let through. The rule is keyed by a hash of the normalised email: accounts that exist and
// ones that do not are treated alike (nothing to enumerate), and no address is stored in Redis.
import { createHash } from 'node:crypto';
import { config } from '../config.ts';
import { connectRedis } from '../redis.ts';
import { countError } from '../metrics/errors.ts';

export interface Attempts {
  count: number;
  /** Until the count is forgotten. */
  ttlMs: number;
}

export interface AttemptStore {
  /** Counts one attempt. Attempts up to `limit` (re)start the expiry of `windowMs`; later ones do not, so a
   * lock cannot be prolonged by hammering it. */
  hit(key: string, windowMs: number, limit: number): Promise<Attempts>;
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
}

const keyOf = (email: string) => `login:attempts:${createHash('sha256').update(email).digest('hex')}`;

export function createLoginThrottle(store: AttemptStore, policy: ThrottlePolicy): LoginThrottle {
  return {
    async attempt(email) {
      const { count, ttlMs } = await store.hit(keyOf(email), policy.lockSeconds * 1000, policy.maxFailures);
      if (count <= policy.maxFailures) return { allowed: true };
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(ttlMs / 1000)) };
    },
    succeeded: (email) => store.clear(keyOf(email)),
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
      entry.count++;
      if (entry.count <= limit) entry.expiresAt = at + windowMs;
      return { count: entry.count, ttlMs: entry.expiresAt - at };
    },
    async clear(key) {
      entries.delete(key);
    },
  };
}

// INCR and PEXPIRE in one script: no attempt is counted without an expiry, whatever fails in between.
const HIT = `
local count = redis.call('INCR', KEYS[1])
if count <= tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('PTTL', KEYS[1])}`;

/** Shared by every container, so the limit holds for the account however many containers serve it. */
export function createRedisAttemptStore(url: string, commandTimeoutMs: number): AttemptStore {
  const { redis, connected } = connectRedis(url, commandTimeoutMs);
  return {
    async hit(key, windowMs, limit) {
      await connected();
      const [count, ttlMs] = (await redis.eval(HIT, 1, key, String(windowMs), String(limit))) as [number, number];
      return { count, ttlMs };
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
