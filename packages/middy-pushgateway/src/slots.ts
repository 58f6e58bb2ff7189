// Push groups leased in Redis. A slot is one Pushgateway group (instance="<function>-<n>", n below the slot
// count); an overflow group (instance="<function>-overflow-<random>") is a container's own fallback. Only the
// holder of a group's lease writes it, so every series on the gateway has a single writer. Beside the lease,
// Redis keeps the group's cumulative values, a hash field per series: the next holder of a slot continues from
// them, so a slot never goes backwards, and the janitor can put any group back on a gateway that lost it.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { parseSeriesKey, seriesKey, type Family } from './exposition.ts';
import { DEFAULT_JOB } from './gateway.ts';
import { GROUPS_AT_ONCE, inBatches } from './in-batches.ts';

export type StoredSeries = [family: string, metricName: string, labels: Record<string, string>, value: number];

export interface Lease {
  /** The group's id: a slot number ("3") or an overflow id ("overflow-1a2b3c4d"). */
  id: string;
  token: string;
  /** Our own clock's view: past this, the lease may already be someone else's. */
  validUntil: number;
}

/**
 * A command that never reached Redis (no connection: ioredis refuses at once without an offline queue). Any
 * other failure may have been applied with only its answer lost (a timeout, a connection closed under it).
 */
export class NotSentError extends Error {}

export interface SlotStore {
  /** The job whose groups this store holds: its keys are the job's alone. */
  readonly job: string;
  /**
   * Takes the lowest free slot below `max` (NX) for `token`, or returns undefined when all are held. Idempotent
   * for a token: a claim whose answer was lost and that is tried again gets the slot the first one took.
   * `waitMs`: how long a connection still being made may be waited for (a cold start's first command).
   */
  claim(fn: string, max: number, ttlMs: number, token: string, waitMs?: number): Promise<Lease | undefined>;
  /** The values stored for a group, or undefined if none were. */
  load(fn: string, id: string): Promise<StoredSeries[] | undefined>;
  /**
   * Renews the lease and stores the values given (the other series keep theirs), atomically, recording `write`
   * (a number that grows with every store of the container) as applied; false if the lease is someone else's.
   * `retake`: a lapsed lease is taken again (NX): only for an overflow group, whose id nobody else uses, never
   * for a slot, whose next holder may have stored newer values since. Throws NotSentError when it never reached Redis.
   */
  renewAndStore(fn: string, lease: Lease, ttlMs: number, values: StoredSeries[], write: number, retake: boolean): Promise<boolean>;
  /** The highest store number of this lease's token that Redis applied (0: none it remembers). */
  lastWrite(lease: Lease): Promise<number>;
  /** Gives the lease up (if still ours), so the next container takes the slot at once, not after its TTL. */
  release(fn: string, lease: Lease): Promise<void>;
  /** Records the families' HELP and TYPE, so the janitor can write any group whatever its own code registers. */
  saveFamilies(families: Iterable<Family>): Promise<void>;
  families(): Promise<Map<string, Family>>;
  /** Every group with stored values, of every function. */
  storedGroups(): Promise<{ fn: string; id: string }[]>;
  /** Each function's retired total (`IdleGroup.retire`): per series, the exact sum as partials (exact-sum.ts). */
  retiredTotals(): Promise<{ fn: string; values: RetiredSeries[] }[]>;
  /**
   * Replaces the group's gauge readings, stamped `atMs`: what the remote-write flusher writes for it (with its
   * `instance`) while the readings are fresh. Gauges are one container's readings, not amounts: never summed.
   */
  storeGauges(fn: string, id: string, values: StoredSeries[], atMs: number): Promise<void>;
  /** Every group's last gauge readings, with when they were stored. */
  storedGauges(): Promise<{ fn: string; id: string; atMs: number; values: StoredSeries[] }[]>;
  /**
   * Briefly takes an unheld group for the janitor (same fencing as containers), then lets it go; undefined if
   * it is held. `save` stores values in it; `forget` drops its stored values; `retire` moves them into the
   * function's retired total (below).
   */
  withIdleGroup<T>(fn: string, id: string, work: (values: StoredSeries[] | undefined, group: IdleGroup) => Promise<T>): Promise<T | undefined>;
  /**
   * max(`now`, the last one it returned for this job + 1), recorded as the last: the remote-write flusher's
   * timestamps, strictly increasing across its runs and runners whatever their clocks say.
   */
  nextTimestamp(now: number): Promise<number>;
  /** Runs `work` unless another holder has the lock `name` (held at most `ttlMs`); undefined if it had. */
  exclusive<T>(name: string, ttlMs: number, work: () => Promise<T>): Promise<T | undefined>;
}

export interface IdleGroup {
  save(values: StoredSeries[]): Promise<void>;
  forget(): Promise<void>;
  /** How long since the group's state was last stored. */
  idleMs(): Promise<number>;
  /**
   * Adds the group's values to its function's retired total (which never expires) and drops its state and
   * gauges, in one script: the fleet's sum stays the same, so a counter written from it by remote write never
   * goes down when a group is let go. The total is kept exact (partials): a float sum regrouped could lose a
   * last digit. Not while a flusher reads (the caller holds the flusher's lease). A container that held the
   * group and comes back has its store refused: a slot's lease has lapsed (its next holder starts from zero,
   * which is right: its values are retired), and an overflow group's lease, which its holder may take again,
   * is fenced for as long as a state lives.
   */
  retire(): Promise<void>;
}

export type RetiredSeries = [family: string, metricName: string, labels: Record<string, string>, partials: number[]];

export const isOverflow = (id: string) => id.startsWith('overflow-');

// Every key of a job under its own prefix: services sharing one Redis (each its own job) never meet. The job
// is escaped so that a ':' in it cannot make one job's keys look like another's. Write markers are per token.
function keysOf(job: string) {
  const prefix = `metrics:${encodeURIComponent(job)}:`;
  const statePrefix = `${prefix}series:`;
  // A hash of "<family>|<series key>" -> value, per group.
  const stateKey = (fn: string, id: string | number) => `${statePrefix}${fn}:${id}`;
  const gaugesPrefix = `${prefix}gauges:`;
  const retiredPrefix = `${prefix}retired:`;
  /** The function and group id after a key's prefix, or undefined for another job's key. */
  const parseGroup = (key: string, groupPrefix: string): { fn: string; id: string } | undefined => {
    if (!key.startsWith(groupPrefix)) return undefined;
    const rest = key.slice(groupPrefix.length);
    const colon = rest.lastIndexOf(':');
    return colon > 0 ? { fn: rest.slice(0, colon), id: rest.slice(colon + 1) } : undefined;
  };
  return {
    lease: (fn: string, id: string | number) => `${prefix}lease:${fn}:${id}`,
    state: stateKey,
    stateMatch: `${statePrefix}*`,
    parseState: (key: string) => parseGroup(key, statePrefix),
    gauges: (fn: string, id: string) => `${gaugesPrefix}${fn}:${id}`,
    gaugesMatch: `${gaugesPrefix}*`,
    parseGauges: (key: string) => parseGroup(key, gaugesPrefix),
    retired: (fn: string) => `${retiredPrefix}${fn}`,
    retiredMatch: `${retiredPrefix}*`,
    parseRetired: (key: string) => (key.startsWith(retiredPrefix) ? key.slice(retiredPrefix.length) : undefined),
    // HELP and TYPE per family name, as JSON [type, help] (the gateway wants one HELP per family).
    families: `${prefix}families`,
    lock: (name: string) => `${prefix}lock:${name}`,
    timestamp: `${prefix}flusher:timestamp`,
  };
}
// The field of a gauge hash that holds when it was stored ('|' never starts a family name).
const GAUGES_STORED_AT = '|at';
const writtenKey = (token: string) => `metrics:written:${token}`;
// Long enough to settle a store whose answer was lost once Redis is back; a lease's marker is one small key.
const WRITTEN_TTL_SECONDS = 3600;
// Continuity outlives idle periods, but not forever: a slot unused for a week starts again from zero.
const STATE_TTL_SECONDS = 7 * 24 * 3600;
// Our clock and Redis's may drift, and a push is in flight while we decide: stop early.
const CLOCK_MARGIN_MS = 1000;
// The janitor's hold on an idle group: longer than one group's read and re-push.
const JANITOR_LEASE_MS = 10_000;
// How long the janitor waits for its connection: a scheduled run on a busy machine may take a while to connect.
const JANITOR_CONNECT_WAIT_MS = 5000;

// HSET of the field/value pairs from ARGV[first] on, in chunks: Lua's unpack() has a stack limit.
const hsetFrom = (key: string, first: number) => `
for i = ${first}, #ARGV, 1000 do redis.call('HSET', ${key}, unpack(ARGV, i, math.min(i + 999, #ARGV))) end`;
const RENEW_AND_STORE = `
local holder = redis.call('GET', KEYS[1])
if holder ~= ARGV[1] and (holder or ARGV[6] ~= '1') then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
${hsetFrom('KEYS[2]', 7)}
redis.call('EXPIRE', KEYS[2], ARGV[3])
if tonumber(ARGV[4]) > tonumber(redis.call('GET', KEYS[3]) or '0') then redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[5]) end
return 1`;
// Lua numbers are doubles: milliseconds since 1970 are integers far below 2^53, exact.
const NEXT_TIMESTAMP = `
local t = math.max(tonumber(ARGV[1]), tonumber(redis.call('GET', KEYS[1]) or '0') + 1)
redis.call('SET', KEYS[1], string.format('%.0f', t), 'EX', ARGV[2])
return t`;
// The whole reading replaced: a gauge series the container no longer has must not linger.
const STORE_GAUGES = `
redis.call('DEL', KEYS[1])
${hsetFrom('KEYS[1]', 2)}
redis.call('EXPIRE', KEYS[1], ARGV[1])`;
// Each value added to its series' exact total (exact-sum.ts's addExact, in Lua: the same IEEE doubles), kept as
// a JSON list of partials, each printed with 17 digits, which read back as the same double.
const RETIRE = `
local function addExact(partials, x)
  local out = {}
  for _, y in ipairs(partials) do
    if math.abs(x) < math.abs(y) then x, y = y, x end
    local hi = x + y
    local lo = y - (hi - x)
    if lo ~= 0 then out[#out + 1] = lo end
    x = hi
  end
  out[#out + 1] = x
  return out
end
local values = redis.call('HGETALL', KEYS[1])
for i = 1, #values, 2 do
  local partials = {}
  for p in string.gmatch(redis.call('HGET', KEYS[2], values[i]) or '', '[^%[%],]+') do partials[#partials + 1] = tonumber(p) end
  local parts = {}
  for j, p in ipairs(addExact(partials, tonumber(values[i + 1]))) do parts[j] = string.format('%.17g', p) end
  redis.call('HSET', KEYS[2], values[i], '[' .. table.concat(parts, ',') .. ']')
end
redis.call('DEL', KEYS[1], KEYS[4])
if ARGV[2] == '1' then redis.call('SET', KEYS[3], 'retired', 'EX', ARGV[1]) end`;
const STORE = `
${hsetFrom('KEYS[1]', 2)}
redis.call('EXPIRE', KEYS[1], ARGV[1])`;
// The lowest free slot, in one round trip: the gateway then holds as many groups per function as ran at once.
// A slot this token already holds comes first, so a claim tried again after a lost answer takes no second slot.
const CLAIM = `
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('PEXPIRE', key, ARGV[2]) return i - 1 end
end
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'PX', ARGV[2], 'NX') then return i - 1 end
end
return -1`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

function fields(values: StoredSeries[]): string[] {
  const out: string[] = [];
  for (const [family, metricName, labels, value] of values) out.push(`${family}|${seriesKey(metricName, labels)}`, String(value));
  return out;
}
// Fields parsed once per process: a flusher reads the same few hundred fields in every group of a function, and
// parsing them was most of its CPU. The labels are shared, so frozen.
const parsedFields = new Map<string, [family: string, metricName: string, labels: Record<string, string>]>();
const PARSED_FIELDS_KEPT = 100_000;

function parseField(field: string): [family: string, metricName: string, labels: Record<string, string>] {
  let parsed = parsedFields.get(field);
  if (!parsed) {
    if (parsedFields.size >= PARSED_FIELDS_KEPT) parsedFields.clear();
    const bar = field.indexOf('|');
    const { metricName, labels } = parseSeriesKey(field.slice(bar + 1));
    parsedFields.set(field, (parsed = [field.slice(0, bar), metricName, Object.freeze(labels)]));
  }
  return parsed;
}

function fromFields(hash: Record<string, string>): StoredSeries[] {
  return Object.entries(hash).map(([field, value]) => {
    const [family, metricName, labels] = parseField(field);
    return [family, metricName, labels, Number(value)];
  });
}

/**
 * The slot store on an ioredis client of the caller's, which must neither queue commands while disconnected nor
 * retry them (`enableOfflineQueue: false`, `maxRetriesPerRequest: 0`): a command sent again behind the pusher's
 * back could apply an old store after a newer one, and one queued while Redis is down could not be told from
 * one that reached it. A `commandTimeout` bounds every command, as the push's deadline needs.
 */
export function createRedisSlotStore(redis: Redis, job: string = DEFAULT_JOB): SlotStore {
  const keys = keysOf(job);
  const { enableOfflineQueue, maxRetriesPerRequest, commandTimeout } = redis.options;
  if (enableOfflineQueue !== false || maxRetriesPerRequest !== 0 || !commandTimeout) {
    throw new TypeError('middy-pushgateway: the slots Redis client needs enableOfflineQueue: false, maxRetriesPerRequest: 0 and a commandTimeout');
  }
  // A fresh container's first command would otherwise race the handshake and always fail.
  let firstReady: Promise<void> | undefined =
    redis.status === 'ready'
      ? undefined
      : new Promise<void>((resolve) => {
          redis.once('ready', () => resolve());
          setTimeout(resolve, commandTimeout).unref();
        }).then(() => void (firstReady = undefined));
  const connected = async () => {
    if (firstReady) await firstReady;
  };
  // Sent by SHA (ioredis loads a script again when Redis answers NOSCRIPT): every invocation runs one.
  redis.defineCommand('metricsRenewAndStore', { numberOfKeys: 3, lua: RENEW_AND_STORE });
  redis.defineCommand('metricsStore', { numberOfKeys: 1, lua: STORE });
  redis.defineCommand('metricsClaim', { lua: CLAIM });
  redis.defineCommand('metricsStoreGauges', { numberOfKeys: 1, lua: STORE_GAUGES });
  const scripts = redis as unknown as Record<'metricsRenewAndStore' | 'metricsStore' | 'metricsClaim' | 'metricsStoreGauges', (...args: string[]) => Promise<unknown>>;
  const validFrom = (started: number, ttlMs: number) => started + ttlMs - CLOCK_MARGIN_MS;
  // ioredis refuses commands at once while it is not connected (no offline queue): such a command never ran.
  const ensureSent = async (waitMs = 0) => {
    await connected();
    if (redis.status !== 'ready' && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          redis.off('ready', done);
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        redis.once('ready', done);
      });
    }
    if (redis.status !== 'ready') throw new NotSentError(`redis is ${redis.status}`);
  };

  const scan = async (match: string): Promise<string[]> => {
    await ensureSent(JANITOR_CONNECT_WAIT_MS);
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, page] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 500);
      cursor = next;
      found.push(...page);
    } while (cursor !== '0');
    return found;
  };

  const store: SlotStore = {
    job,
    async claim(fn, max, ttlMs, token, waitMs) {
      await ensureSent(waitMs);
      const started = Date.now();
      const leases = Array.from({ length: max }, (_, slot) => keys.lease(fn, slot));
      const slot = Number(await scripts.metricsClaim(String(max), ...leases, token, String(ttlMs)));
      return slot < 0 ? undefined : { id: String(slot), token, validUntil: validFrom(started, ttlMs) };
    },
    async load(fn, id) {
      await connected();
      const stored = fromFields(await redis.hgetall(keys.state(fn, id)));
      return stored.length === 0 ? undefined : stored;
    },
    async renewAndStore(fn, lease, ttlMs, values, write, retake) {
      await ensureSent();
      const started = Date.now();
      const renewed = await scripts.metricsRenewAndStore(
        keys.lease(fn, lease.id),
        keys.state(fn, lease.id),
        writtenKey(lease.token),
        lease.token,
        String(ttlMs),
        String(STATE_TTL_SECONDS),
        String(write),
        String(WRITTEN_TTL_SECONDS),
        retake ? '1' : '0',
        ...fields(values),
      );
      if (renewed !== 1) return false;
      lease.validUntil = validFrom(started, ttlMs);
      return true;
    },
    async lastWrite(lease) {
      await ensureSent();
      return Number((await redis.get(writtenKey(lease.token))) ?? 0);
    },
    async release(fn, lease) {
      await ensureSent();
      await redis.eval(RELEASE, 1, keys.lease(fn, lease.id), lease.token);
    },
    async saveFamilies(families) {
      await ensureSent();
      const pairs = [...families].flatMap((f) => [f.name, JSON.stringify([f.type, f.help])]);
      if (pairs.length > 0) await redis.hset(keys.families, ...pairs);
    },
    async families() {
      await ensureSent(JANITOR_CONNECT_WAIT_MS); // the janitor's first command
      const hash = await redis.hgetall(keys.families);
      return new Map(
        Object.entries(hash).map(([name, json]) => {
          const [type, help] = JSON.parse(json) as [Family['type'], string];
          return [name, { name, type, help }];
        }),
      );
    },
    async storedGroups() {
      return (await scan(keys.stateMatch)).flatMap((key) => keys.parseState(key) ?? []);
    },
    async storeGauges(fn, id, values, atMs) {
      await ensureSent();
      await scripts.metricsStoreGauges(keys.gauges(fn, id), String(STATE_TTL_SECONDS), GAUGES_STORED_AT, String(atMs), ...fields(values));
    },
    async storedGauges() {
      const out: { fn: string; id: string; atMs: number; values: StoredSeries[] }[] = [];
      // A few at once, as the flusher reads the states: one hash per live container.
      await inBatches(await scan(keys.gaugesMatch), GROUPS_AT_ONCE, async (key) => {
        const group = keys.parseGauges(key);
        if (!group) return;
        const { [GAUGES_STORED_AT]: at, ...hash } = await redis.hgetall(key);
        if (at !== undefined) out.push({ ...group, atMs: Number(at), values: fromFields(hash) });
      });
      return out;
    },
    async retiredTotals() {
      const out: { fn: string; values: RetiredSeries[] }[] = [];
      for (const key of await scan(keys.retiredMatch)) {
        const fn = keys.parseRetired(key);
        if (fn === undefined) continue;
        const values = Object.entries(await redis.hgetall(key)).map(([field, json]): RetiredSeries => [...parseField(field), JSON.parse(json) as number[]]);
        out.push({ fn, values });
      }
      return out;
    },
    async withIdleGroup(fn, id, work) {
      await connected();
      const token = randomUUID();
      if ((await redis.set(keys.lease(fn, id), token, 'PX', JANITOR_LEASE_MS, 'NX')) !== 'OK') return undefined;
      try {
        return await work(await store.load(fn, id), {
          save: async (values) => void (await scripts.metricsStore(keys.state(fn, id), String(STATE_TTL_SECONDS), ...fields(values))),
          forget: async () => void (await redis.del(keys.state(fn, id))),
          idleMs: async () => {
            const ttl = await redis.pttl(keys.state(fn, id));
            return ttl < 0 ? Infinity : STATE_TTL_SECONDS * 1000 - ttl;
          },
          retire: async () =>
            void (await redis.eval(RETIRE, 4, keys.state(fn, id), keys.retired(fn), keys.lease(fn, id), keys.gauges(fn, id), String(STATE_TTL_SECONDS), isOverflow(id) ? '1' : '0')),
        });
      } finally {
        await redis.eval(RELEASE, 1, keys.lease(fn, id), token).catch(() => {});
      }
    },
    async nextTimestamp(now) {
      await ensureSent();
      return Number(await redis.eval(NEXT_TIMESTAMP, 1, keys.timestamp, String(Math.floor(now)), String(STATE_TTL_SECONDS)));
    },
    async exclusive(name, ttlMs, work) {
      await ensureSent(JANITOR_CONNECT_WAIT_MS);
      const key = keys.lock(name);
      const token = randomUUID();
      // A lost answer may hide a lock we took: then the key holds our token.
      const taken = await redis.set(key, token, 'PX', ttlMs, 'NX').then(
        (answer) => answer === 'OK',
        async () => (await redis.get(key)) === token,
      );
      if (!taken) return undefined;
      try {
        return await work();
      } finally {
        await redis.eval(RELEASE, 1, key, token).catch(() => {});
      }
    },
  };
  return store;
}
