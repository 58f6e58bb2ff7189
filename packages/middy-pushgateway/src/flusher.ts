// The remote-write flusher: the fleet's totals straight into Prometheus (or Mimir, Thanos Receive...) without
// a Pushgateway between. Run on a schedule (a scheduled function of the application's) or as a long-lived
// process (`startFlusher`), it reads every group's cumulative state from Redis (slots and overflow groups
// alike, slots.ts), sums it per series across the groups of a function, and writes one sample per series with
// remote write 1.0 (remote-write.ts), labelled `job` (the store's), `function` and the series' own labels:
// no `instance`, since the fleet's total is one series, whichever containers counted it.
//
// One writer per series: a run holds the store's 'flusher' lock (a Redis lease, `exclusive`) and finishes,
// retries included, well within it; a run that finds the lock held does nothing. Every run writes every series,
// changed or not, so an idle function's series stay within Prometheus's 5-minute lookback.
//
// Timestamps: one per run, strictly increasing from run to run whatever the runners' clocks say. The last one
// written is kept in Redis under the store's job (`SlotStore.nextTimestamp`); a run takes max(its clock,
// last + 1 ms) and records it, in one script, after reading the groups and just before sending. Runs never overlap (the lease), so a later
// timestamp always carries a later (never lower) reading. A runner whose clock is behind writes 1 ms after
// the last run; one whose clock is ahead pulls the timestamps ahead of real time until real time catches up
// (they never go back).
//
// Retries never double a value: a failed send is retried with the very same body (same values, same
// timestamp). What a receiver already took of it is then a duplicate sample: Prometheus's TSDB takes a
// sample equal in timestamp and value to a series' latest one as a no-op (a different value at that timestamp
// would be refused, never stored), and a receiver applies a remote-write request whole or not at all
// (Prometheus appends it in one transaction). Only 5xx, 429 and no answer are retried (the spec's rule); a
// 400 (out of order, invalid) would be refused again.
//
// Sums are taken in a fixed order of the groups (by function, then id), so that an unchanged state gives the
// same float to the last bit, and a grown one never a smaller one (rounding is monotonic): a histogram's
// `_sum` never shows Prometheus a spurious counter reset.
import { seriesKey, type Family, type Labels } from './exposition.ts';
import type { SlotStore, StoredSeries } from './slots.ts';
import { inBatches } from './in-batches.ts';
import { postWriteRequest, RemoteWriteError, writeRequestBody, type RemoteWriteAuth, type RemoteWriteOptions } from './remote-write.ts';

/**
 * How a gauge's values are combined across a function's groups (a container's reading each):
 * - 'max' (the default): the highest reading, for the gauges a container reports about itself (memory, heap,
 *   start time): the fleet's worst container, never above a real reading however many groups keep an old
 *   one, and right as well for a fleet-wide figure that every container reports alike.
 * - 'sum': for a gauge that counts the container's share of something (requests in flight, connections),
 *   right only while every group's reading is current.
 * There is no 'last': a group's state carries no time of its own to tell which reading is the latest.
 * (The pusher stores counters and histograms only, today; this applies to any gauge a store holds.)
 */
export type GaugeRule = 'max' | 'sum';

export interface FleetGroup {
  fn: string;
  id: string;
  values: StoredSeries[];
}

export interface FleetSeries {
  /** `__name__`, `job`, `function` and the series' own labels. */
  labels: Labels;
  value: number;
}

/**
 * The series to write: per function and series, counters and histogram buckets, `_sum` and `_count` summed
 * across the groups, gauges (and untyped series) combined by their family's rule. A family Redis has no
 * HELP/TYPE for is summed: the pusher stores only what adds up. A summary's quantiles cannot be combined and
 * are left out (its `_sum` and `_count` add up).
 */
export function fleetSeries(groups: FleetGroup[], families: Map<string, Family>, job: string, gaugeRule: GaugeRule | ((family: string) => GaugeRule) = 'max'): FleetSeries[] {
  const ruleOf = typeof gaugeRule === 'function' ? gaugeRule : () => gaugeRule;
  const ordered = [...groups].sort((a, b) => compare(a.fn, b.fn) || compare(a.id, b.id));
  const out = new Map<string, FleetSeries>();
  for (const { fn, values } of ordered) {
    for (const [family, metricName, labels, value] of values) {
      const type = families.get(family)?.type ?? 'counter';
      if (type === 'summary' && labels.quantile !== undefined) continue;
      const rule = type === 'gauge' || type === 'untyped' ? ruleOf(family) : 'sum';
      const key = `${fn}\n${seriesKey(metricName, labels)}`;
      const seen = out.get(key);
      // Our labels over the series' own, as the gateway's grouping labels would be.
      if (!seen) out.set(key, { labels: { ...labels, __name__: metricName, job, function: fn }, value });
      else seen.value = rule === 'sum' ? seen.value + value : Math.max(seen.value, value);
    }
  }
  return [...out.values()];
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export interface FlushOptions {
  slots: SlotStore;
  /** The remote write endpoint, e.g. http://prometheus:9090/api/v1/write. */
  url: string;
  auth?: RemoteWriteAuth;
  /** Mimir/Cortex/Thanos tenant (X-Scope-OrgID). */
  tenant?: string;
  headers?: Record<string, string>;
  /** The clock the timestamps start from (ms). */
  now?: () => number;
  /** Deadline of each write attempt; default 10 s. The whole run, retries included, stays within the lease. */
  timeoutMs?: number;
  gaugeRule?: GaugeRule | ((family: string) => GaugeRule);
  /** How a body reaches the endpoint: `postWriteRequest`, or a model of a receiver in tests. */
  transport?: (url: string, body: Uint8Array, options: RemoteWriteOptions) => Promise<void>;
}

export interface FlushReport {
  /** Groups read from Redis (slots and overflow groups, every function). */
  groups: number;
  series: number;
  /** Size of the compressed body. */
  bytes: number;
  ms: number;
  /** The samples' timestamp (ms), when something was written. */
  timestamp?: number;
  /** Sends it took (1 when the first succeeded). */
  attempts: number;
  /** Why the run wrote nothing (another flusher held the lease). */
  skipped?: string;
}

// The lease of a run. A run gives up sending RUN_MARGIN_MS before it lapses: the lease is timed by Redis from
// when it was taken, the run from just before, and a send still in flight must not meet the next run's.
export const FLUSH_LOCK_MS = 60_000;
const RUN_MARGIN_MS = 10_000;
const DEFAULT_TIMEOUT_MS = 10_000;
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 5000;
// An attempt with less time than this left is not worth making.
const MIN_ATTEMPT_MS = 250;
// Groups read at once: their Redis round trips overlap without flooding Redis.
const GROUPS_AT_ONCE = 8;

/** One run: under the lease, read, sum, write. Throws when the write failed for good (or Redis did). */
export async function flushFleet(options: FlushOptions): Promise<FlushReport> {
  const started = performance.now();
  const report = await options.slots.exclusive('flusher', FLUSH_LOCK_MS, () => flush(options, started));
  return report ?? { groups: 0, series: 0, bytes: 0, ms: Math.round(performance.now() - started), attempts: 0, skipped: 'another flusher holds the lease' };
}

async function flush(options: FlushOptions, started: number): Promise<FlushReport> {
  const { slots } = options;
  const deadline = started + FLUSH_LOCK_MS - RUN_MARGIN_MS;
  const families = await slots.families();
  const groups: FleetGroup[] = [];
  await inBatches(await slots.storedGroups(), GROUPS_AT_ONCE, async ({ fn, id }) => {
    const values = await slots.load(fn, id);
    if (values) groups.push({ fn, id, values }); // gone since the listing: its state expired
  });
  const series = fleetSeries(groups, families, slots.job, options.gaugeRule);
  const report: FlushReport = { groups: groups.length, series: series.length, bytes: 0, ms: 0, attempts: 0 };
  if (series.length > 0) {
    if (performance.now() > deadline) throw new Error('flusher: reading the groups took longer than the lease allows');
    const timestamp = await slots.nextTimestamp((options.now ?? Date.now)());
    // Made once: every attempt sends these bytes.
    const body = writeRequestBody(series.map((s) => ({ labels: s.labels, samples: [{ value: s.value, timestamp }] })));
    Object.assign(report, { timestamp, bytes: body.byteLength });
    report.attempts = await sendWithRetries(options, body, deadline);
  }
  report.ms = Math.round(performance.now() - started);
  return report;
}

async function sendWithRetries(options: FlushOptions, body: Uint8Array, deadline: number): Promise<number> {
  const send = options.transport ?? postWriteRequest;
  const init = { auth: options.auth, tenant: options.tenant, headers: options.headers };
  let delay = FIRST_RETRY_MS;
  for (let attempt = 1; ; attempt++) {
    const timeout = Math.min(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, deadline - performance.now());
    if (timeout < MIN_ATTEMPT_MS) throw new RemoteWriteError('flusher: no time left in the lease to write', undefined);
    try {
      await send(options.url, body, { ...init, signal: AbortSignal.timeout(timeout) });
      return attempt;
    } catch (err) {
      const retryable = !(err instanceof RemoteWriteError) || err.retryable;
      if (!retryable || performance.now() + delay + MIN_ATTEMPT_MS > deadline) {
        throw new RemoteWriteError(`flusher: write failed after ${attempt} attempt(s): ${(err as Error).message}`, (err as RemoteWriteError).status, { cause: err });
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  }
}

export interface FlusherLoop {
  /** Stops after the run in progress, if any. */
  stop(): Promise<void>;
}

/**
 * The same runs as a long-lived process: one every `intervalMs` (default 30 s: at least two samples in a
 * one-minute rate() window, far within the 5-minute lookback). Several such processes may run: each run goes
 * to whichever holds the lease. A failed run is reported and the next one tries again.
 */
export function startFlusher(options: FlushOptions & { intervalMs?: number; onReport?: (report: FlushReport) => void; onError?: (err: unknown) => void }): FlusherLoop {
  const interval = options.intervalMs ?? 30_000;
  let stopped = false;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (!stopped) {
      const began = performance.now();
      await flushFleet(options).then(options.onReport, options.onError ?? (() => {}));
      if (stopped) break;
      const wait = Math.max(0, interval - (performance.now() - began));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}
