// Push slots leased in Redis. A slot is one Pushgateway group (instance="<function>-<n>"); only the holder
// of its lease writes it, so every series on the gateway has a single writer. Beside the lease, Redis keeps
// the slot's cumulative values, a hash field per series: the next holder continues from them, so a slot never
// goes backwards. A store writes the series that changed, not the whole state (an invocation moves a few
// dozen of a few hundred); a field holds an absolute value, so writing it again is harmless.
import { randomUUID } from 'node:crypto';
import { parseSeriesKey, seriesKey } from './exposition.ts';
import { connectRedis } from '../redis.ts';

export type StoredSeries = [family: string, metricName: string, labels: Record<string, string>, value: number];

export interface Lease {
  slot: number;
  token: string;
  /** Our own clock's view: past this, the lease may already be someone else's. */
  validUntil: number;
}

/**
 * A store that never reached Redis (no connection: ioredis refuses at once without an offline queue). Any
 * other failure of a store may have been applied with only its answer lost (a timeout, a connection closed
 * under it): the pusher then asks `lastWrite` once Redis answers again.
 */
export class NotSentError extends Error {}

export interface SlotStore {
  /** Takes a free slot below `max` (NX), or returns undefined when all are held. */
  claim(fn: string, max: number, ttlMs: number): Promise<Lease | undefined>;
  /** The values stored for a group (a slot number or an overflow id), or undefined if none were. */
  load(fn: string, id: string): Promise<StoredSeries[] | undefined>;
  /**
   * Renews the lease and stores the values about to be pushed (the series given; the others keep theirs),
   * atomically, recording `write` (the lease's store number) as applied; false if the lease is lost. Throws
   * NotSentError when it never reached Redis.
   */
  renewAndStore(fn: string, lease: Lease, ttlMs: number, values: StoredSeries[], write: number): Promise<boolean>;
  /** The number of the last store of this lease that Redis applied (0: none it remembers). */
  lastWrite(lease: Lease): Promise<number>;
  /**
   * Stores an overflow group's values (the series given; the others keep theirs). Its id is random and only
   * its container pushes it, so it needs no lease; stored, the janitor can put it back on a gateway that lost it.
   */
  storeOverflow(fn: string, id: string, values: StoredSeries[]): Promise<void>;
  /** Every group with stored values, of every function. */
  storedGroups(): Promise<{ fn: string; id: string }[]>;
  /** Briefly takes an unheld group for the janitor (same fencing as containers), then lets it go. */
  withIdleGroup<T>(fn: string, id: string, work: (values: StoredSeries[] | undefined) => Promise<T>): Promise<T | undefined>;
  close(): void;
}

const leaseKey = (fn: string, id: string | number) => `metrics:lease:${fn}:${id}`;
// A hash of "<family>|<series key>" -> value. (The earlier state, one JSON string under metrics:state:, is not
// read any more and expires on its own.)
const STATE_PREFIX = 'metrics:series:';
const stateKey = (fn: string, id: string | number) => `${STATE_PREFIX}${fn}:${id}`;
const STATE_KEY = new RegExp(`^${STATE_PREFIX}(.+):([^:]+)$`);
const writtenKey = (token: string) => `metrics:written:${token}`;
// Long enough to settle a store whose answer was lost once Redis is back; a lease's marker is one small key.
const WRITTEN_TTL_SECONDS = 3600;
// Continuity outlives idle periods, but not forever: a slot unused for a week starts again from zero.
const STATE_TTL_SECONDS = 7 * 24 * 3600;
// Our clock and Redis's may drift, and a push is in flight while we decide: stop early.
const CLOCK_MARGIN_MS = 1000;

// HSET of the field/value pairs from ARGV[first] on, in chunks: Lua's unpack() has a stack limit.
const hsetFrom = (key: string, first: number) => `
for i = ${first}, #ARGV, 1000 do redis.call('HSET', ${key}, unpack(ARGV, i, math.min(i + 999, #ARGV))) end`;
const RENEW_AND_STORE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ${hsetFrom('KEYS[2]', 6)}
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[5])
  return 1
end
return 0`;
const STORE = `
${hsetFrom('KEYS[1]', 2)}
redis.call('EXPIRE', KEYS[1], ARGV[1])`;
function fields(values: StoredSeries[]): string[] {
  const out: string[] = [];
  for (const [family, metricName, labels, value] of values) out.push(`${family}|${seriesKey(metricName, labels)}`, String(value));
  return out;
}
function fromFields(hash: Record<string, string>): StoredSeries[] {
  return Object.entries(hash).map(([field, value]) => {
    const bar = field.indexOf('|');
    const { metricName, labels } = parseSeriesKey(field.slice(bar + 1));
    return [field.slice(0, bar), metricName, labels, Number(value)];
  });
}
// The lowest free slot, in one round trip: the gateway then holds as many groups per function as it ever ran
// at once, not one per slot that a random pick once hit.
const CLAIM = `
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'PX', ARGV[2], 'NX') then return i - 1 end
end
return -1`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export function createRedisSlotStore(url: string, commandTimeoutMs: number): SlotStore {
  const { redis, connected, release } = connectRedis(url, commandTimeoutMs);
  // Sent by SHA (ioredis loads a script again when Redis answers NOSCRIPT): every invocation runs one.
  redis.defineCommand('metricsRenewAndStore', { numberOfKeys: 3, lua: RENEW_AND_STORE });
  redis.defineCommand('metricsStore', { numberOfKeys: 1, lua: STORE });
  redis.defineCommand('metricsClaim', { lua: CLAIM });
  const scripts = redis as unknown as Record<'metricsRenewAndStore' | 'metricsStore' | 'metricsClaim', (...args: string[]) => Promise<unknown>>;
  const validFrom = (started: number, ttlMs: number) => started + ttlMs - CLOCK_MARGIN_MS;

  return {
    async claim(fn, max, ttlMs) {
      await connected();
      const token = randomUUID();
      const started = Date.now();
      const keys = Array.from({ length: max }, (_, slot) => leaseKey(fn, slot));
      const slot = Number(await scripts.metricsClaim(String(max), ...keys, token, String(ttlMs)));
      return slot < 0 ? undefined : { slot, token, validUntil: validFrom(started, ttlMs) };
    },
    async load(fn, id) {
      await connected();
      const stored = fromFields(await redis.hgetall(stateKey(fn, id)));
      return stored.length === 0 ? undefined : stored;
    },
    async renewAndStore(fn, lease, ttlMs, values, write) {
      await connected();
      const started = Date.now();
      if (redis.status !== 'ready') throw new NotSentError(`redis is ${redis.status}`);
      const renewed = await scripts.metricsRenewAndStore(
        leaseKey(fn, lease.slot),
        stateKey(fn, lease.slot),
        writtenKey(lease.token),
        lease.token,
        String(ttlMs),
        String(STATE_TTL_SECONDS),
        String(write),
        String(WRITTEN_TTL_SECONDS),
        ...fields(values),
      );
      if (renewed !== 1) return false;
      lease.validUntil = validFrom(started, ttlMs);
      return true;
    },
    async lastWrite(lease) {
      await connected();
      return Number((await redis.get(writtenKey(lease.token))) ?? 0);
    },
    async storeOverflow(fn, id, values) {
      await connected();
      await scripts.metricsStore(stateKey(fn, id), String(STATE_TTL_SECONDS), ...fields(values));
    },
    async storedGroups() {
      await connected();
      const found: { fn: string; id: string }[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${STATE_PREFIX}*`, 'COUNT', 500);
        cursor = next;
        for (const key of keys) {
          const match = STATE_KEY.exec(key);
          if (match) found.push({ fn: match[1]!, id: match[2]! });
        }
      } while (cursor !== '0');
      return found;
    },
    async withIdleGroup(fn, id, work) {
      await connected();
      const token = randomUUID();
      if ((await redis.set(leaseKey(fn, id), token, 'PX', 10_000, 'NX')) !== 'OK') return undefined;
      try {
        return await work(await this.load(fn, id));
      } finally {
        await redis.eval(RELEASE, 1, leaseKey(fn, id), token).catch(() => {});
      }
    },
    close() {
      release();
    },
  };
}
