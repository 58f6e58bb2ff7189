// Pushes one container's registry to the Pushgateway so that fleet totals stay exact (docs/design.md, "Push
// semantics"). It never throws, and waits for the gateway at most `timeoutMs` per push.
//
// Every increment goes to exactly one group (ledger.ts):
// - a slot, leased in Redis, when the store that renews the lease acknowledges it. The slot's gateway group is
//   only ever shown what its Redis state holds, so any holder, the janitor or a late POST may write it and
//   none can show more than was counted. Its POST goes out at most once per `pushIntervalMs`: the rest is
//   durable in Redis, and the janitor puts it on the gateway if no POST of ours does.
// - otherwise (no Redis, no free slot, Redis refused the store, our lease is gone), an overflow group of this
//   container alone (a solo group without Redis), whose gateway group is its record: POSTed at once, stored
//   in Redis when it can be, for the janitor.
// A store whose answer was lost may or may not have been applied: what it carried waits, counted nowhere
// else, until the next store of that slot supersedes it or Redis tells which store it applied last.
//
// Without a gateway (remote write, flusher.ts), Redis is the only record: the overflow group is then written
// like a slot, each increment placed only once Redis acknowledged it, and nothing is POSTed.
import { randomUUID } from 'node:crypto';
import { Counter, Histogram, type Registry } from 'prom-client';
import { isCumulative, render, storedSeriesMap, type Series } from './exposition.ts';
import { createSeriesReader } from './series-reader.ts';
import { NotSentError, type Lease, type SlotStore, type StoredSeries } from './slots.ts';
import { authHeaders, groupSeries, groupUrl, DEFAULT_JOB, gatewayRequest, readGroups, TEXT_FORMAT, type GatewayAuth, type Transport } from './gateway.ts';
import * as ledgers from './ledger.ts';
import type { Account, Amounts } from './ledger.ts';

export interface PusherOptions {
  registry: Registry;
  functionName: string;
  /** Without it, every push only stores in Redis (`slots` required): the record a remote-write flusher reads. */
  gatewayUrl?: string;
  /**
   * A remote-write flusher reads the stored states: they also get the series created at 0, and this container's
   * gauge readings at most once per `pushIntervalMs`.
   */
  remoteWrite?: boolean;
  timeoutMs: number;
  /** Without a slot store (no Redis): one solo group per container, with a random instance id. */
  slots?: SlotStore;
  maxSlots: number;
  leaseTtlMs: number;
  auth?: GatewayAuth;
  job?: string;
  /** How often a container without a slot tries again to get one. */
  reclaimIntervalMs?: number;
  /** Least time between two gateway POSTs of a slot; 0 sends every push. */
  pushIntervalMs?: number;
  transport?: Transport;
  now?: () => number;
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

/** A group we write, with what the gateway was last sent. */
interface Group {
  kind: 'slot' | 'overflow' | 'solo';
  instance: string;
  account: Account;
  /** Slots and overflow groups; solo groups have no store. */
  lease?: Lease;
  /** Values as last sent to the gateway; undefined until a POST succeeded (the next one sends every family). */
  sent?: Map<string, number>;
  /** A group new on the gateway first gets its series at 0: increase() cannot see a series' first sample. */
  zerosFirst: boolean;
  lastSentAt: number;
  gaugesStoredAt: number;
  /** How many series the registry had when they were all last marked for this group's store (remote write). */
  seriesMarked: number;
}

const RETRY_IN_DOUBT_MS = 1000;

export function createPusher(options: PusherOptions) {
  const job = options.job ?? DEFAULT_JOB;
  const fn = options.functionName;
  const now = options.now ?? Date.now;
  const transport = options.transport ?? gatewayRequest;
  const gatewayUrl = options.gatewayUrl;
  if (gatewayUrl === undefined && !options.slots) throw new TypeError('middy-pushgateway: without a gateway, pushes need slots (Redis) to store in');
  const labels = { function: fn };
  const pushDuration = new Histogram({
    name: 'metrics_push_duration_seconds',
    help: 'Duration of metric pushes (a POST to the Pushgateway, or without one, the store into Redis), including failed ones.',
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
  const ledger = ledgers.newLedger();
  let slot: Group | undefined;
  /** Our own group, once anything had to go there. */
  let fallback: Group | undefined;
  /** Slots we lost with stores in doubt, until Redis says which it applied. */
  const abandoned: Group[] = [];
  let writes = 0;
  let claimToken = randomUUID();
  let nextClaimAt = 0;
  let familiesSaved = false;
  // The group written to (instance, target) is read off `slot` and `fallback` when asked.
  const status: Omit<PushStatus, 'instance' | 'target'> = {
    lastPushAt: undefined,
    lastPushOk: undefined,
    lastPushError: undefined,
    lastPushBytes: 0,
    pushes: 0,
    deferred: 0,
    failures: 0,
  };
  const headers = { 'Content-Type': TEXT_FORMAT, ...authHeaders(options.auth) };

  // One deadline for everything a push sends, so an invocation waits at most `timeoutMs` for the gateway
  // however many requests it needed. Its timer is made on the first request: most pushes only store in Redis.
  let pushStarted = 0;
  let deadline: AbortSignal | undefined;
  const signal = () => (deadline ??= AbortSignal.timeout(Math.max(1, Math.round(options.timeoutMs - (performance.now() - pushStarted)))));
  const timeLeft = () => options.timeoutMs - (performance.now() - pushStarted);

  /** Series a slot held before we took it that this container never counted: known from the stored state. */
  const baseSeries = new Map<string, Series>();
  const asStored = (values: Amounts): StoredSeries[] => {
    const out: StoredSeries[] = [];
    for (const [key, value] of values) {
      const s = own.series.get(key) ?? baseSeries.get(key);
      if (s) out.push([s.family, s.metricName, s.labels, value]);
    }
    return out;
  };

  function group(kind: Group['kind'], id: string, account: Account, lease: Lease | undefined, zerosFirst: boolean): Group {
    return { kind, instance: `${fn}-${id}`, account, lease, zerosFirst, lastSentAt: 0, gaugesStoredAt: 0, seriesMarked: 0 };
  }

  /** Runs a Redis command again while it fails slowly and the push has time; one that was never sent fails at once. */
  async function whilePushTimeLasts<T>(command: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await command();
      } catch (err) {
        if (err instanceof NotSentError || timeLeft() <= 0) throw err;
      }
    }
  }

  /** Takes the lowest free slot, continuing from its stored state (or the gateway's copy when Redis has none). */
  async function claimSlot(): Promise<void> {
    if (!options.slots || slot || now() < nextClaimAt) return;
    nextClaimAt = now() + (options.reclaimIntervalMs ?? 5000);
    // A slow answer during a burst of cold starts is not "no free slot": tried again within the push's time,
    // with the same token, so a claim whose answer was lost takes no second slot.
    let lease: Lease | undefined;
    let stored: StoredSeries[] | undefined;
    try {
      lease = await whilePushTimeLasts(() => options.slots!.claim(fn, options.maxSlots, options.leaseTtlMs, claimToken, Math.max(0, timeLeft())));
      if (!lease) return;
      stored = (await whilePushTimeLasts(() => options.slots!.load(fn, lease!.id))) ?? (gatewayUrl === undefined ? undefined : await fromGateway(gatewayUrl, `${fn}-${lease.id}`));
    } catch {
      return; // Redis is down or slower than the push may wait; a later claim with this token finds the same slot
    }
    claimToken = randomUUID();
    const base = storedSeriesMap(stored ?? []);
    for (const [key, s] of base) baseSeries.set(key, s);
    slot = group('slot', lease.id, ledgers.newAccount(new Map([...base].map(([key, s]) => [key, s.value]))), lease, stored === undefined);
    if (!familiesSaved) familiesSaved = await options.slots.saveFamilies(own.families.values()).then(() => true, () => false);
  }

  /**
   * Stores the slot (renewing its lease), carrying everything pending into it; or, without a gateway, our
   * overflow group, whose lease is ours to take again when it lapsed (nobody else uses its id) unless the
   * janitor retired it.
   */
  async function storeSlot(current: Group): Promise<'stored' | 'unsure' | 'refused' | 'lost'> {
    const retake = current.kind === 'overflow';
    const stillOurs = () => retake || now() < current.lease!.validUntil;
    if (options.remoteWrite && current.seriesMarked !== own.series.size) {
      // A series created at 0 (a route's 500s) never moves, so it would never be stored: the flusher could not
      // write its 0 before its first count, and increase() cannot see a series' first sample.
      for (const [key, s] of own.series) if (isCumulative(own.families.get(s.family)!.type)) current.account.dirty.add(key);
      current.seriesMarked = own.series.size;
    }
    const attempt = ledgers.prepareStore(ledger, current.account, ++writes);
    try {
      const renewed = await options.slots!.renewAndStore(fn, current.lease!, options.leaseTtlMs, asStored(attempt.values), attempt.write, retake);
      if (!renewed) return 'lost';
      ledgers.stored(ledger, current.account, attempt);
      return 'stored';
    } catch (err) {
      if (err instanceof NotSentError) return stillOurs() ? 'refused' : 'lost';
      ledgers.storeUnsure(ledger, current.account, attempt);
      return stillOurs() ? 'unsure' : 'lost';
    }
  }

  function leave(current: Group): void {
    if (current.account.unsure.length > 0) abandoned.push(current);
    if (current === slot) slot = undefined;
    if (current === fallback) fallback = undefined;
  }

  /** Learns which of a lost slot's unsure stores Redis applied, and takes back what it did not. */
  async function settleAbandoned(): Promise<void> {
    while (abandoned.length > 0) {
      const lost = abandoned[0]!;
      let applied: number;
      try {
        applied = await options.slots!.lastWrite(lost.lease!);
      } catch {
        return; // still unreachable: ask again next time
      }
      ledgers.settled(ledger, lost.account, applied);
      abandoned.shift();
    }
  }

  function ownGroup(): Group {
    if (!fallback) {
      const id = options.slots ? `overflow-${randomUUID().slice(0, 8)}` : randomUUID().slice(0, 8);
      const lease = options.slots ? { id, token: randomUUID(), validUntil: 0 } : undefined;
      fallback = group(options.slots ? 'overflow' : 'solo', id, ledgers.newAccount(), lease, true);
    }
    if (options.slots) slotOverflow.inc(labels);
    return fallback;
  }

  /** Our own group's values go to Redis too, when it answers, so that the janitor can restore them. */
  async function storeOwn(mine: Group): Promise<void> {
    if (!mine.lease || mine.account.dirty.size === 0) return;
    const values = new Map([...mine.account.dirty].map((key) => [key, ledgers.held(mine.account, key)]));
    try {
      if (await options.slots!.renewAndStore(fn, mine.lease, options.leaseTtlMs, asStored(values), ++writes, true)) mine.account.dirty.clear();
    } catch {
      // its gateway group is its record; the next push stores it
    }
  }

  async function send(instance: string, body: string): Promise<void> {
    const started = performance.now();
    try {
      await transport(groupUrl(gatewayUrl!, fn, instance, job), { method: 'POST', body, headers, signal: signal() });
    } finally {
      pushDuration.observe(labels, (performance.now() - started) / 1000);
    }
  }

  /** Whether this container's gauge readings are due in Redis, with the group that carries them (once per interval). */
  const gaugesDue = (target: Group | undefined, final: boolean): target is Group & { lease: Lease } =>
    options.remoteWrite === true && target?.lease !== undefined && (final || now() - target.gaugesStoredAt >= (options.pushIntervalMs ?? 0));

  /** The gauge readings, as last read, into Redis. */
  async function storeGauges(target: Group & { lease: Lease }): Promise<void> {
    const gauges: StoredSeries[] = [];
    for (const s of own.series.values()) if (!isCumulative(own.families.get(s.family)!.type)) gauges.push([s.family, s.metricName, s.labels, s.value]);
    try {
      await options.slots!.storeGauges(fn, target.lease.id, gauges, now());
      target.gaugesStoredAt = now();
    } catch {
      // readings, not amounts: the next push stores newer ones
    }
  }

  /**
   * Without a gateway: what no slot took is stored in our overflow group the way a slot is (held once Redis
   * acknowledged it), so a store Redis refused leaves it pending for the next push, and one the janitor retired
   * is left like a lost slot. Throws when something counted could be stored nowhere. Its duration is the push's:
   * the stores are what a push without a gateway waits for.
   */
  async function storeOnly(final: boolean): Promise<'sent'> {
    try {
      await storeOverflow();
      const target = slot ?? fallback;
      if (gaugesDue(target, final)) {
        await reader.read('gauges');
        await storeGauges(target);
      }
      return 'sent';
    } finally {
      pushDuration.observe(labels, (performance.now() - pushStarted) / 1000);
    }
  }

  async function storeOverflow(): Promise<void> {
    const pending = ledgers.pendingKeys(ledger).length > 0;
    // Only settling a store in doubt is no overflow: nothing new went to the group.
    if (pending || (fallback?.account.unsure.length ?? 0) > 0) {
      let outcome = await storeSlot(pending ? ownGroup() : fallback!);
      if (outcome === 'lost') {
        // Retired by the janitor: Redis answers, so it can tell at once which of the group's unsure stores it
        // applied; the rest goes to a new group of ours.
        leave(fallback!);
        await settleAbandoned();
        outcome = await storeSlot(ownGroup());
        if (outcome === 'lost') leave(fallback!);
      }
      if (outcome !== 'stored') throw new Error('Redis took no store; the next push carries the values');
    }
  }

  /**
   * POSTs the group's families that changed since its last successful POST (all of them after a failure): its
   * cumulative series as the group holds them for sure, and this container's gauges when `withGauges`.
   */
  async function post(target: Group, withGauges: boolean): Promise<void> {
    const values = new Map<string, Series>();
    const keys = new Set([...target.account.base.keys(), ...target.account.share.keys(), ...own.series.keys()]);
    for (const key of keys) {
      const s = own.series.get(key) ?? baseSeries.get(key);
      const family = s && own.families.get(s.family);
      if (!family) continue; // a family this code no longer has: the group keeps it as it is
      if (isCumulative(family.type)) values.set(key, { ...s, value: ledgers.held(target.account, key) });
      else if (withGauges) values.set(key, s);
    }
    if (target.zerosFirst) {
      const zeros = [...values.values()].map((s) => (isCumulative(own.families.get(s.family)!.type) ? { ...s, value: 0 } : s));
      await send(target.instance, render(own.families.values(), zeros));
      target.zerosFirst = false;
    }
    const changed = new Set<string>();
    for (const [key, s] of values) if (target.sent?.get(key) !== s.value) changed.add(s.family);
    if (changed.size > 0) {
      const body = render(
        [...own.families.values()].filter((f) => changed.has(f.name)),
        [...values.values()].filter((s) => changed.has(s.family)),
      );
      status.lastPushBytes = Buffer.byteLength(body);
      await send(target.instance, body);
    }
    target.sent = new Map([...values].map(([key, s]) => [key, s.value]));
    target.lastSentAt = now();
  }

  async function pushOnce(final: boolean): Promise<'sent' | 'deferred'> {
    pushStarted = performance.now();
    deadline = undefined;
    // Only what adds up goes to Redis; gauges are read when a POST goes out.
    for (const key of await reader.read('cumulative')) ledgers.counted(ledger, key, own.series.get(key)!.value);
    if (abandoned.length > 0) await settleAbandoned();
    await claimSlot();
    let stored = false;
    if (slot) {
      let outcome = await storeSlot(slot);
      if (outcome === 'lost') {
        // Someone else holds the slot now: what we never placed goes to a new slot, or to our own group.
        leave(slot);
        await settleAbandoned(); // off the slot: Redis can tell at once which of its unsure stores it applied
        nextClaimAt = 0;
        await claimSlot();
        if (slot) outcome = await storeSlot(slot);
        if (outcome === 'lost' && slot) leave(slot);
      }
      stored = outcome === 'stored';
    }
    if (gatewayUrl === undefined) return storeOnly(final);
    // Whatever no slot took (no Redis, no free slot, Redis refused the store) is sent to our own group now.
    const given = ledgers.pendingKeys(ledger).length > 0 ? ownGroup() : undefined;
    if (given) ledgers.assigned(ledger, given.account);
    const interval = options.pushIntervalMs ?? 0;
    const slotDue = slot !== undefined && stored && (final || slot.sent === undefined || now() - slot.lastSentAt >= interval);
    const ownDue = fallback !== undefined && (given !== undefined || fallback.sent === undefined);
    // Our own group's record may be only its gateway group: stored as soon as Redis takes it, POST or not.
    if (fallback) await storeOwn(fallback);
    if (!slotDue && !ownDue) return 'deferred';
    await reader.read('gauges');
    const gaugeGroup = slot ?? fallback;
    if (gaugesDue(gaugeGroup, final)) await storeGauges(gaugeGroup);
    const failures: unknown[] = [];
    // Gauges are one container's readings: they go with one group, the slot when we hold one.
    for (const [target, due] of [[slot, slotDue], [fallback, ownDue]] as const) {
      if (!target || !due) continue;
      await post(target, target === (slot ?? fallback)).catch((err: unknown) => {
        target.sent = undefined; // the gateway may have lost or reordered what we sent: resend it all
        failures.push(err);
      });
    }
    if (failures.length > 0) throw failures[0];
    return 'sent';
  }

  // Values in doubt wait in this container: a store whose answer was lost (until Redis says what it applied or
  // the next store supersedes it), and our own group while neither its POST nor its store went through (the
  // gateway or Redis down). A container that is never invoked again would keep them for good, so they are tried
  // again in the background. On Lambda the timer runs when the container next thaws; it never keeps a process alive.
  let retry: NodeJS.Timeout | undefined;
  const inDoubt = () =>
    abandoned.length > 0 ||
    (slot?.account.unsure.length ?? 0) > 0 ||
    (gatewayUrl === undefined
      ? ledgers.pendingKeys(ledger).length > 0 || (fallback?.account.unsure.length ?? 0) > 0
      : fallback !== undefined && (fallback.sent === undefined || (fallback.lease !== undefined && fallback.account.dirty.size > 0)));
  function retryWhileInDoubt(): void {
    if (retry || !inDoubt()) return;
    retry = setTimeout(() => {
      retry = undefined;
      void pusher.push();
    }, RETRY_IN_DOUBT_MS);
    retry.unref();
  }

  /** One push after the other: two at once would carry the same pending counts into two stores. */
  let queue: Promise<void> = Promise.resolve();
  async function pushSafely(final = false): Promise<void> {
    try {
      if ((await pushOnce(final)) === 'deferred') {
        status.deferred++;
        return;
      }
      status.pushes++;
      status.lastPushAt = new Date().toISOString();
      status.lastPushOk = true;
      status.lastPushError = undefined;
    } catch (err) {
      status.pushes++;
      status.lastPushAt = new Date().toISOString();
      status.failures++;
      status.lastPushOk = false;
      status.lastPushError = err instanceof Error ? err.message : String(err);
      pushFailures.inc(labels);
    } finally {
      retryWhileInDoubt();
    }
  }

  const pusher = {
    /** Awaited by every invocation; never throws. */
    push(): Promise<void> {
      queue = queue.then(() => pushSafely());
      return queue;
    },
    /**
     * For the container's shutdown (Lambda's SIGTERM): a last push whose POST goes out whatever the interval,
     * then the slot is given up, so the next container takes it at once. A slot with a store in doubt is kept:
     * its lease runs out, and the janitor brings its group up to what Redis holds.
     */
    async shutdown(): Promise<void> {
      queue = queue.then(() => pushSafely(true));
      await queue;
      const held = slot;
      if (!held || held.account.unsure.length > 0 || held.account.dirty.size > 0) return;
      slot = undefined;
      await options.slots!.release(fn, held.lease!).catch(() => {});
    },
    status: (): PushStatus => ({ ...status, instance: (slot ?? fallback)?.instance, target: (slot ?? fallback)?.kind ?? 'none' }),
  };
  return pusher;

  async function fromGateway(url: string, instance: string): Promise<StoredSeries[] | undefined> {
    try {
      return groupSeries(await readGroups(url, { headers, signal: signal() }, transport), { job, function: fn, instance });
    } catch {
      return undefined;
    }
  }
}

export type Pusher = ReturnType<typeof createPusher>;
