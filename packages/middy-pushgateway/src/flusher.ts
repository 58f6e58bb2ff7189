// The remote-write flusher: the fleet's totals straight into Prometheus (or Mimir, Thanos Receive...) without
// a Pushgateway between. Run on a schedule (a scheduled function of the application's) or as a long-lived
// process (`startFlusher`), it reads every group's cumulative state from Redis (slots, overflow groups and
// each function's retired total alike, slots.ts), sums it per series across the groups of a function, and
// writes one sample per series with remote write 1.0 (remote-write.ts), labelled `job` (the store's),
// `function` and the series' own labels: no `instance`, since the fleet's total is one series, whichever
// containers counted it.
//
// Gauges are not combined here. They are one container's readings (its memory, its pool), and a group keeps
// its last one after its container is gone: a sum would count the dead, a max could not tell a stale reading,
// and a stored state has no time to pick the last. So each group's readings are written as they are, with
// its `instance` and a `push_time_seconds` of when they were stored, exactly the series the Pushgateway path
// gives Prometheus, for groups that stored readings within `staleAfterSeconds` (as the janitor deletes idle
// groups from the gateway). The rule (sum, max, the freshest) is the query's, with the same freshness filter
// on both paths.
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
// Sums are exact, rounded once (exact-sum.ts): whatever the order of the groups, and however many of them were
// retired into their function's total, a sum that did not shrink is never written lower, even in its last
// digit (a histogram's `_sum` going down would be a counter reset to Prometheus).
import { seriesKey, type Family, type Labels } from './exposition.ts';
import type { RetiredSeries, SlotStore, StoredSeries } from './slots.ts';
import { addExact, roundExact } from './exact-sum.ts';
import { GROUPS_AT_ONCE, inBatches } from './in-batches.ts';
import { postWriteRequest, RemoteWriteError, writeRequestBody, type RemoteWriteAuth, type RemoteWriteOptions } from './remote-write.ts';

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
 * The cumulative series to write: per function and series, counters and histogram buckets, `_sum` and
 * `_count` summed exactly across the groups and the function's retired total (the stores hold nothing else).
 * A summary's quantiles cannot be combined and are left out (its `_sum` and `_count` add up).
 */
export function fleetSeries(groups: FleetGroup[], families: Map<string, Family>, job: string, retired: { fn: string; values: RetiredSeries[] }[] = []): FleetSeries[] {
  const sums = fleetSums(families, job);
  for (const { fn, values } of groups) sums.addGroup(fn, values);
  for (const { fn, values } of retired) sums.addRetired(fn, values);
  return sums.series();
}

/** The same sums, taken a group at a time: a flusher holds the sums, not every group's state. */
function fleetSums(families: Map<string, Family>, job: string) {
  const sums = new Map<string, { labels: Labels; partials: number[] }>();
  const sumOf = (fn: string, family: string, metricName: string, labels: Labels) => {
    if (families.get(family)?.type === 'summary' && labels.quantile !== undefined) return undefined;
    const key = `${fn}\n${seriesKey(metricName, labels)}`;
    let sum = sums.get(key);
    // Our labels over the series' own, as the gateway's grouping labels would be.
    if (!sum) sums.set(key, (sum = { labels: { ...labels, __name__: metricName, job, function: fn }, partials: [] }));
    return sum;
  };
  return {
    addGroup(fn: string, values: StoredSeries[]) {
      for (const [family, metricName, labels, value] of values) {
        const sum = sumOf(fn, family, metricName, labels);
        if (sum) addExact(sum.partials, value);
      }
    },
    addRetired(fn: string, values: RetiredSeries[]) {
      for (const [family, metricName, labels, partials] of values) {
        const sum = sumOf(fn, family, metricName, labels);
        if (sum) for (const p of partials) addExact(sum.partials, p);
      }
    },
    series: (): FleetSeries[] => [...sums.values()].map(({ labels, partials }) => ({ labels, value: roundExact(partials) })),
  };
}

/** Each group's gauge readings stored within `staleAfterMs` of `nowMs`, with its instance and push time. */
export function gaugeSeries(groups: (FleetGroup & { atMs: number })[], job: string, nowMs: number, staleAfterMs: number): FleetSeries[] {
  const out: FleetSeries[] = [];
  for (const { fn, id, atMs, values } of groups) {
    if (nowMs - atMs > staleAfterMs) continue;
    const group = { job, function: fn, instance: `${fn}-${id}` };
    out.push({ labels: { __name__: 'push_time_seconds', ...group }, value: atMs / 1000 });
    for (const [, metricName, labels, value] of values) out.push({ labels: { ...labels, __name__: metricName, ...group }, value });
  }
  return out;
}

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
  /** Groups whose gauge readings are older than this are not written (default 900 s, as the janitor's). */
  staleAfterSeconds?: number;
  /** How a body reaches the endpoint: `postWriteRequest`, or a model of a receiver in tests. */
  transport?: (url: string, body: Uint8Array, options: RemoteWriteOptions) => Promise<void>;
}

export interface FlushReport {
  /** Groups read from Redis (slots and overflow groups, every function; retired totals not counted). */
  groups: number;
  /** Groups whose gauge readings were fresh enough to write. */
  gaugeGroups: number;
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
const DEFAULT_STALE_AFTER_SECONDS = 900;
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 5000;
// An attempt with less time than this left is not worth making.
const MIN_ATTEMPT_MS = 250;

/**
 * Runs `work` under the flusher's lease, or not at all (undefined) while a flusher holds it: a flush, or
 * anything a flush must not read in the middle of (the janitor retiring groups).
 */
export const underFlusherLease = <T>(slots: SlotStore, work: () => Promise<T>) => slots.exclusive('flusher', FLUSH_LOCK_MS, work);

/** One run: under the lease, read, sum, write. Throws when the write failed for good (or Redis did). */
export async function flushFleet(options: FlushOptions): Promise<FlushReport> {
  const started = performance.now();
  const report = await underFlusherLease(options.slots, () => flush(options, started));
  return report ?? { groups: 0, gaugeGroups: 0, series: 0, bytes: 0, ms: Math.round(performance.now() - started), attempts: 0, skipped: 'another flusher holds the lease' };
}

async function flush(options: FlushOptions, started: number): Promise<FlushReport> {
  const { slots } = options;
  const deadline = started + FLUSH_LOCK_MS - RUN_MARGIN_MS;
  const sums = fleetSums(await slots.families(), slots.job);
  let groups = 0;
  await inBatches(await slots.storedGroups(), GROUPS_AT_ONCE, async ({ fn, id }) => {
    const values = await slots.load(fn, id);
    if (!values) return; // gone since the listing: its state expired
    sums.addGroup(fn, values);
    groups++;
  });
  for (const { fn, values } of await slots.retiredTotals()) sums.addRetired(fn, values);
  const now = options.now ?? Date.now;
  const readings = await slots.storedGauges();
  const gauges = gaugeSeries(readings, slots.job, now(), (options.staleAfterSeconds ?? DEFAULT_STALE_AFTER_SECONDS) * 1000);
  const series = [...sums.series(), ...gauges];
  const gaugeGroups = new Set(gauges.map((s) => s.labels.instance)).size;
  const report: FlushReport = { groups, gaugeGroups, series: series.length, bytes: 0, ms: 0, attempts: 0 };
  if (series.length > 0) {
    if (performance.now() > deadline) throw new Error('flusher: reading the groups took longer than the lease allows');
    const timestamp = await slots.nextTimestamp(now());
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
    const timeout = Math.floor(Math.min(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, deadline - performance.now()));
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
