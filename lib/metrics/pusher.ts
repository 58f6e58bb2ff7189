// Pushes one container's registry to the Pushgateway so that fleet totals stay exact (DESIGN.md, "Push
// semantics"). What it pushes to a slot is the slot's stored base plus this container's increments not yet
// accounted anywhere durable; it never throws, and it never takes longer than its timeout per attempt.
//
// Every invocation records its values in Redis (the series that changed, renewing the lease); the gateway
// POST, the costly part, is sent at most once per `pushIntervalMs` per slot. What an invocation does not send is
// already durable: the slot's next push sends it, and once the holder is gone (its lease lapsed) the janitor
// puts the stored state on the gateway. Anything not safely stored in Redis is sent at once.
import { randomUUID } from 'node:crypto';
import { Counter, Histogram, type Registry } from 'prom-client';
import { isCumulative, render, storedSeriesMap, type Family, type Series, type Snapshot } from './exposition.ts';
import { createSeriesReader } from './series-reader.ts';
import { NotSentError, type Lease, type SlotStore, type StoredSeries } from './slots.ts';
import { authHeaders, groupSeries, groupUrl, JOB, readGroups, gatewayRequest, TEXT_FORMAT, type GatewayAuth } from './gateway.ts';

export interface PusherOptions {
  registry: Registry;
  functionName: string;
  gatewayUrl: string;
  timeoutMs: number;
  /** Without a slot store (no Redis): one group per container, with a random instance id. */
  slots?: SlotStore;
  maxSlots: number;
  leaseTtlMs: number;
  auth?: GatewayAuth;
  job?: string;
  /** How often a container on an overflow group tries again to get a slot. */
  reclaimIntervalMs?: number;
  /** Least time between two gateway POSTs of a slot whose values are stored in Redis; 0 sends every push. */
  pushIntervalMs?: number;
}

export interface PushStatus {
  instance: string | undefined;
  target: 'slot' | 'overflow' | 'solo' | 'none';
  lastPushAt: string | undefined;
  lastPushOk: boolean | undefined;
  lastPushError: string | undefined;
  lastPushBytes: number;
  /** Invocations whose values went to the gateway, and those only stored in Redis for the slot's next push. */
  pushes: number;
  deferred: number;
  failures: number;
}

type Target =
  | { kind: 'slot'; instance: string; lease: Lease }
  | { kind: 'overflow'; instance: string; id: string; since: number }
  | { kind: 'solo'; instance: string };

export function createPusher(options: PusherOptions) {
  const job = options.job ?? JOB;
  const fn = options.functionName;
  const labels = { function: fn };
  const pushDuration = new Histogram({
    name: 'metrics_push_duration_seconds',
    help: 'Duration of metric pushes to the Pushgateway, including failed ones.',
    labelNames: ['function'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [options.registry],
  });
  const pushFailures = new Counter({
    name: 'metrics_push_failures_total',
    help: 'Metric pushes that failed or timed out; the next push carries their values.',
    labelNames: ['function'] as const,
    registers: [options.registry],
  });
  const slotOverflow = new Counter({
    name: 'metrics_slot_overflow_total',
    help: 'Times a container found no free push slot (or no Redis) and pushed to an overflow group.',
    labelNames: ['function'] as const,
    registers: [options.registry],
  });
  pushFailures.inc(labels, 0);
  slotOverflow.inc(labels, 0);

  // Our own series, without the group's `function` label: a series' own `function` label repeats the
  // group's (function_invocations_total{function}, ...). The gateway adds group labels to every series anyway
  // and reads them back without telling which were the series' own: keyed without them, our values, the
  // stored state and the gateway's copy line up.
  const reader = createSeriesReader(options.registry, { function: fn });
  const own = reader.snapshot;
  let target: Target | undefined;
  /** The slot's values when we took it (zero for overflow and solo groups). */
  let base = new Map<string, Series>();
  /** Our own cumulative values already recorded durably: in a slot's Redis state, or in an overflow group. */
  let accounted = new Map<string, number>();
  /** The target's series whose value Redis has not acknowledged yet: what the next store writes. */
  let unstored = new Set<string>();
  /** Our own values as of the last durable record, for the next target's `accounted`. */
  const durable = new Map<string, number>();
  /** Our series whose `durable` value is behind: moved since the last durable record, or lowered by `settle`. */
  const sinceDurable = new Set<string>();
  /**
   * Stores of a slot whose answer was lost: applied or not, only Redis knows. `durable` presumes the latest
   * was applied (carrying it into the next target could count it twice); `settle` corrects that once Redis
   * answers, from `before`, what was durable before the first of them.
   */
  let unsure: { lease: Lease; before: Map<string, number>; stores: { write: number; cumulative: Map<string, number> }[] } | undefined;
  let writes = 0;
  let lastPushed = new Map<string, number>();
  let fullPushNeeded = true;
  let zerosNeeded = false;
  /** When the current target's values last reached the gateway. */
  let lastSentAt = 0;
  let inFlight: Promise<void> | undefined;
  const status: PushStatus = {
    instance: undefined,
    target: 'none',
    lastPushAt: undefined,
    lastPushOk: undefined,
    lastPushError: undefined,
    lastPushBytes: 0,
    pushes: 0,
    deferred: 0,
    failures: 0,
  };

  const headers = { 'Content-Type': TEXT_FORMAT, ...authHeaders(options.auth) };

  // One deadline for everything a push sends (the gateway read on a claim, the zeros, the values), so an
  // invocation waits at most `timeoutMs` for the gateway, however many requests the push needed. Its timer is
  // made on the first request: most pushes only store in Redis and never need one.
  let pushStarted = 0;
  let deadline: AbortSignal | undefined;
  const signal = () => (deadline ??= AbortSignal.timeout(Math.max(1, Math.round(options.timeoutMs - (performance.now() - pushStarted)))));

  async function send(instance: string, body: string): Promise<void> {
    const started = performance.now();
    try {
      await gatewayRequest(groupUrl(options.gatewayUrl, fn, instance, job), { method: 'POST', body, headers, signal: signal() });
    } finally {
      pushDuration.observe(labels, (performance.now() - started) / 1000);
    }
  }

  function adopt(next: Target, start: Map<string, Series>): void {
    target = next;
    base = start;
    accounted = new Map(durable);
    unstored = new Set(base.keys());
    for (const [key, s] of own.series) if (cumulative(own, s)) unstored.add(key);
    lastPushed = new Map();
    fullPushNeeded = true;
    status.instance = next.instance;
    status.target = next.kind;
  }

  async function claimSlot(): Promise<boolean> {
    const lease = await options.slots!.claim(fn, options.maxSlots, options.leaseTtlMs);
    if (!lease) return false;
    const instance = `${fn}-${lease.slot}`;
    const stored = (await options.slots!.load(fn, String(lease.slot))) ?? (await fromGateway(instance));
    adopt({ kind: 'slot', instance, lease }, storedSeriesMap(stored ?? []));
    zerosNeeded = stored === undefined;
    return true;
  }

  function overflow(): void {
    slotOverflow.inc(labels);
    const id = `overflow-${randomUUID().slice(0, 8)}`;
    adopt({ kind: 'overflow', instance: `${fn}-${id}`, id, since: Date.now() }, new Map());
    zerosNeeded = true;
  }

  async function ensureTarget(): Promise<void> {
    if (!options.slots) {
      if (!target) {
        adopt({ kind: 'solo', instance: `${fn}-${randomUUID().slice(0, 8)}` }, new Map());
        zerosNeeded = true;
      }
      return;
    }
    if (target?.kind === 'slot') return;
    if (target?.kind === 'overflow' && Date.now() - target.since < (options.reclaimIntervalMs ?? 5000)) return;
    try {
      if (await claimSlot()) return;
    } catch {
      // Redis is unreachable: no slot can be taken safely
    }
    if (target?.kind === 'overflow') target.since = Date.now();
    else overflow();
  }

  /** A series as the target shows it: the slot's base plus our increments not accounted before, for cumulatives. */
  function composed(key: string): Series | undefined {
    const s = own.series.get(key);
    const start = base.get(key);
    if (!s) return start;
    if (!cumulative(own, s)) return s;
    return { ...s, value: (start?.value ?? 0) + s.value - (accounted.get(key) ?? 0) };
  }

  function compose(): Map<string, Series> {
    const values = new Map<string, Series>();
    for (const [key, s] of base) if (!own.series.has(key)) values.set(key, s);
    for (const key of own.series.keys()) values.set(key, composed(key)!);
    return values;
  }

  /** Brings `durable` up to our current values, touching only the series that moved. */
  function markDurable(): void {
    for (const key of sinceDurable) durable.set(key, own.series.get(key)!.value);
    sinceDurable.clear();
  }

  /**
   * Records the values in Redis before they are pushed: a slot's state (renewing its lease), or an overflow
   * group's. 'lost' when someone else holds the slot now; 'unstored' when the values reached no store (no
   * Redis, or Redis down while our lease is still valid by our own clock), so the gateway is their only record.
   */
  async function recordDurably(): Promise<'stored' | 'unstored' | 'lost'> {
    if (target?.kind === 'solo' || !target) return 'unstored';
    const stored: StoredSeries[] = [];
    for (const key of unstored) {
      const s = composed(key);
      if (s && cumulative(own, s)) stored.push([s.family, s.metricName, s.labels, s.value]);
    }
    if (target.kind === 'overflow') {
      return options.slots!.storeOverflow(fn, target.id, stored).then(
        () => {
          markDurable();
          unstored.clear();
          return 'stored' as const;
        },
        () => 'unstored' as const,
      );
    }
    const lease = target.lease;
    const write = ++writes;
    try {
      if (!(await options.slots!.renewAndStore(fn, lease, options.leaseTtlMs, stored, write))) return 'lost';
      markDurable();
      unstored.clear();
      if (unsure?.lease === lease) unsure = undefined; // the slot's state holds all of ours, whatever became of those
      return 'stored';
    } catch (err) {
      if (!(err instanceof NotSentError) && (!unsure || unsure.lease === lease)) {
        unsure ??= { lease, before: new Map(durable), stores: [] };
        markDurable();
        unsure.stores.push({ write, cumulative: new Map(durable) });
      }
      // Redis is down: the lease is still ours until it runs out by our own clock
      return Date.now() < lease.validUntil ? 'unstored' : 'lost';
    }
  }

  /**
   * Learns which of the unsure stores Redis applied, once it answers again and we are off that slot (on it,
   * the next store supersedes them all), and gives the current target what the slot does not hold.
   */
  async function settle(): Promise<void> {
    if (!unsure || (target?.kind === 'slot' && target.lease === unsure.lease)) return;
    let applied: number;
    try {
      applied = await options.slots!.lastWrite(unsure.lease);
    } catch {
      return; // still unreachable: ask again next time
    }
    const presumed = unsure.stores.at(-1)!.cumulative;
    const truth = unsure.stores.filter((u) => u.write <= applied).at(-1)?.cumulative ?? unsure.before;
    for (const [key, value] of presumed) {
      const missing = value - (truth.get(key) ?? 0);
      accounted.set(key, (accounted.get(key) ?? 0) - missing);
      durable.set(key, (durable.get(key) ?? 0) - missing);
      sinceDurable.add(key);
      unstored.add(key);
    }
    unsure = undefined;
  }

  function changedFamilies(families: Map<string, Family>, values: Map<string, Series>): Family[] {
    if (fullPushNeeded) return [...families.values()];
    const changed = new Set<string>();
    for (const [key, s] of values) if (lastPushed.get(key) !== s.value) changed.add(s.family);
    return [...families.values()].filter((f) => changed.has(f.name));
  }

  /** Whether this push may leave the gateway behind: only a slot's, whose values Redis holds. */
  function mayDefer(record: 'stored' | 'unstored' | 'lost'): boolean {
    const interval = options.pushIntervalMs ?? 0;
    return record === 'stored' && target?.kind === 'slot' && !zerosNeeded && !fullPushNeeded && Date.now() - lastSentAt < interval;
  }

  async function pushOnce(): Promise<'sent' | 'deferred'> {
    pushStarted = performance.now();
    deadline = undefined;
    // Only what adds up is stored; gauges are read when a POST goes out, never between a store and its POST,
    // so the gateway never shows a cumulative value that Redis does not hold.
    const changed = await reader.read('cumulative');
    await ensureTarget();
    for (const key of changed) {
      unstored.add(key);
      sinceDurable.add(key);
    }
    if (unsure) await settle();
    let record = await recordDurably();
    if (record === 'lost') {
      // Someone else holds our slot now: carry what we never recorded into a new slot (or an overflow group).
      target = undefined;
      await ensureTarget();
      record = await recordDurably();
      if (record === 'lost') {
        overflow();
        record = await recordDurably();
      }
    }
    if (mayDefer(record)) return 'deferred';
    await reader.read('gauges');
    const values = compose();
    const current = target!;
    if (zerosNeeded) {
      // A series' first sample is invisible to increase(): the gateway sees every new series at 0 first.
      const zeros = [...values.values()].map((s) => (cumulative(own, s) ? { ...s, value: 0 } : s));
      await send(current.instance, render(own.families.values(), zeros));
      zerosNeeded = false;
    }
    const families = changedFamilies(own.families, values);
    if (families.length > 0) {
      const names = new Set(families.map((f) => f.name));
      const body = render(families, [...values.values()].filter((s) => names.has(s.family)));
      status.lastPushBytes = Buffer.byteLength(body);
      await send(current.instance, body);
    }
    if (record === 'unstored' && current.kind === 'overflow') markDurable(); // the gateway is its only record
    for (const [key, s] of values) lastPushed.set(key, s.value);
    fullPushNeeded = false;
    lastSentAt = Date.now();
    return 'sent';
  }

  return {
    /** Awaited by every invocation; never throws. */
    async push(): Promise<void> {
      while (inFlight) await inFlight; // one push at a time per container
      inFlight = pushOnce()
        .then((outcome) => {
          if (outcome === 'deferred') {
            status.deferred++;
            return;
          }
          status.pushes++;
          status.lastPushAt = new Date().toISOString();
          status.lastPushOk = true;
          status.lastPushError = undefined;
        })
        .catch((err: unknown) => {
          fullPushNeeded = true; // the gateway may have lost or reordered what we sent: resend it all
          status.pushes++;
          status.lastPushAt = new Date().toISOString();
          status.failures++;
          status.lastPushOk = false;
          status.lastPushError = err instanceof Error ? err.message : String(err);
          pushFailures.inc(labels);
        })
        .finally(() => {
          inFlight = undefined;
        });
      await inFlight;
    },
    status: (): PushStatus => ({ ...status }),
  };

  async function fromGateway(instance: string): Promise<StoredSeries[] | undefined> {
    try {
      return groupSeries(await readGroups(options.gatewayUrl, { headers, signal: signal() }), { job, function: fn, instance });
    } catch {
      return undefined;
    }
  }
}

/** Whether the series adds up across slots (a counter's or histogram's), by its family's type. */
function cumulative(own: Snapshot, s: Series): boolean {
  const family = own.families.get(s.family);
  return family !== undefined && isCumulative(family.type);
}

export type Pusher = ReturnType<typeof createPusher>;
