// Keeps the gateway bounded and honest, run on a schedule (a scheduled function of the application's). For every group
// with a Redis state (slots and overflow groups), the gateway is brought up to that state, series by series
// the higher of the two (both are values a single writer once held, so neither is ever above what was
// counted): a POST that timed out, landed late or was lost with a restarted gateway is made good, and so is a
// slot whose holder went idle before its deferred POST. A group a container still holds is only given back
// what the gateway lost entirely. An idle group's state is raised the same way, so a
// Redis that lost data learns back what the gateway still had. Groups without a state (solo groups) and idle
// overflow groups not pushed for `staleAfterSeconds` are deleted; slots stay (their number is bounded).
//
// Groups are written with every family's HELP and TYPE as containers recorded them in Redis, whatever this
// function's own code registers.
//
// With remote write (flusher.ts), the fleet's sums are taken over the stored states, so a state must never
// just be dropped: the sum, a counter to Prometheus, would go down. Without a gateway, groups idle for
// `staleAfterSeconds` are retired instead (their values moved into their function's retired total, one
// script); with both paths, an overflow group deleted from the gateway keeps its state (it expires after a
// week unused, slots.ts).
import { isOverflow, type SlotStore } from './slots.ts';
import { underFlusherLease } from './flusher.ts';
import { render, storedSeriesMap, type Family, type Series } from './exposition.ts';
import { GROUPS_AT_ONCE, inBatches } from './in-batches.ts';
import { groupSeries, groupUrl, DEFAULT_JOB, gatewayRequest, readGroups, TEXT_FORMAT, type Transport } from './gateway.ts';

export interface JanitorOptions {
  /** Without it, the janitor only retires idle groups (remote write alone); then `slots` is required. */
  gatewayUrl?: string;
  slots?: SlotStore;
  /** The stored states are also read by a remote-write flusher: never dropped. */
  remoteWrite?: boolean;
  staleAfterSeconds: number;
  /** HELP and TYPE of families Redis has no record of (the containers record theirs); default none. */
  families?: Map<string, Family>;
  job?: string;
  /** Limits the run to one function (tests share Redis and must not touch each other's slots). */
  onlyFunction?: string;
  headers?: Record<string, string>;
  now?: () => number;
  transport?: Transport;
  /** Deadline of each gateway request: a hung gateway must not hold the run past its schedule. */
  requestTimeoutMs?: number;
}

// One run at a time: a run slower than the schedule (a busy machine, a slow gateway) is not joined by the next.
// Longer than a run should ever take; a crashed run's lock lapses.
export const RUN_LOCK_MS = 120_000;

export interface JanitorReport {
  deleted: string[];
  healed: string[];
  /** Groups whose values moved into their function's retired total (without a gateway). */
  retired: string[];
  /** Why the run did nothing (another run held the janitor's lock). */
  skipped?: string;
}

export async function runJanitor(options: JanitorOptions): Promise<JanitorReport> {
  const job = options.slots?.job ?? options.job ?? DEFAULT_JOB;
  if (options.job !== undefined && options.job !== job) throw new TypeError(`middy-pushgateway: the janitor's job "${options.job}" is not its slot store's "${job}"`);
  const { gatewayUrl, slots } = options;
  if (!slots) {
    if (gatewayUrl === undefined) throw new TypeError('middy-pushgateway: the janitor needs a gatewayUrl, slots, or both');
    return clean({ ...options, gatewayUrl }, job);
  }
  const report = await slots.exclusive('janitor', RUN_LOCK_MS, () => (gatewayUrl === undefined ? retireIdle(options, slots) : clean({ ...options, gatewayUrl }, job)));
  return report ?? { deleted: [], healed: [], retired: [], skipped: 'another janitor run is in progress' };
}

/**
 * Remote write alone: groups whose state was not stored for `staleAfterSeconds`, and that nobody holds, are
 * retired. Under the flusher's lease: a flusher reading the groups one by one while a group's values move
 * into the retired total could miss them in both places, and write a sum that went down.
 */
async function retireIdle(options: JanitorOptions, slots: SlotStore): Promise<JanitorReport> {
  const report: JanitorReport = { deleted: [], healed: [], retired: [] };
  const groups = (await slots.storedGroups()).filter(({ fn }) => options.onlyFunction === undefined || fn === options.onlyFunction);
  const ran = await underFlusherLease(slots, () =>
    inBatches(groups, GROUPS_AT_ONCE, async ({ fn, id }) => {
      await slots.withIdleGroup(fn, id, async (stored, group) => {
        if (!stored || (await group.idleMs()) < options.staleAfterSeconds * 1000) return;
        await group.retire();
        report.retired.push(`${fn}-${id}`);
      });
    }).then(() => true),
  );
  return ran ? report : { ...report, skipped: 'a flusher is running' };
}

async function clean(options: JanitorOptions & { gatewayUrl: string }, job: string): Promise<JanitorReport> {
  const now = options.now ?? Date.now;
  const timeoutMs = options.requestTimeoutMs ?? 5000;
  const transport: Transport = (url, request) => (options.transport ?? gatewayRequest)(url, { ...request, signal: AbortSignal.timeout(timeoutMs) });
  const report: JanitorReport = { deleted: [], healed: [], retired: [] };
  const body = await readGroups(options.gatewayUrl, { headers: options.headers }, transport);
  const families = new Map([...(options.families ?? []), ...((await options.slots?.families()) ?? [])]);
  const ours = (fn: string | undefined) => fn !== undefined && (options.onlyFunction === undefined || fn === options.onlyFunction);
  const urlOf = (fn: string, instance: string) => groupUrl(options.gatewayUrl, fn, instance, job);
  const remove = (fn: string, instance: string) => transport(urlOf(fn, instance), { method: 'DELETE', headers: options.headers });

  const onGateway = new Map<string, { fn: string; instance: string; pushedAt: number }>();
  for (const group of body.data) {
    const { function: fn, instance, job: groupJob } = group.labels;
    if (groupJob !== job || !ours(fn) || !instance) continue;
    const pushed = group.push_time_seconds as { metrics?: { value: string }[] } | undefined;
    onGateway.set(`${fn}/${instance}`, { fn: fn!, instance, pushedAt: Number(pushed?.metrics?.[0]?.value ?? 0) });
  }
  const stale = (key: string) => {
    const group = onGateway.get(key);
    return group !== undefined && now() / 1000 - group.pushedAt > options.staleAfterSeconds;
  };

  const stored = ((await options.slots?.storedGroups()) ?? []).filter(({ fn }) => ours(fn));
  await inBatches(stored, GROUPS_AT_ONCE, async ({ fn, id }) => {
    const instance = `${fn}-${id}`;
    const key = `${fn}/${instance}`;
    const gateway = storedSeriesMap(groupSeries(body, { job, function: fn, instance }) ?? []);
    // `held`: a holder POSTs its group itself, so only what the gateway lost entirely (a restart) is put back;
    // a lower value there is the holder's deferred POST, and the janitor writing an older state over a newer
    // POST would show Prometheus a counter going down.
    const heal = async (stored: Map<string, Series>, held: boolean) => {
      const merged = higherOf(stored, gateway);
      const behind = familiesBehind(merged, gateway, held);
      if (behind.size === 0) return { merged, healed: false };
      const series = [...merged.values()].filter((s) => behind.has(s.family) && families.has(s.family));
      const known = [...behind].flatMap((name) => families.get(name) ?? []);
      await transport(urlOf(fn, instance), { method: 'POST', body: render(known, series), headers: { 'Content-Type': TEXT_FORMAT, ...options.headers } });
      return { merged, healed: true };
    };
    const idle = await options.slots!.withIdleGroup(fn, id, async (stored, group) => {
      if (!stored) return 'gone' as const;
      if (isOverflow(id) && stale(key)) {
        await remove(fn, instance);
        if (!options.remoteWrite) await group.forget();
        return 'deleted' as const;
      }
      const before = storedSeriesMap(stored);
      const { merged, healed } = await heal(before, false);
      const raised = [...merged].filter(([k, s]) => before.get(k)?.value !== s.value).map(([, s]) => s);
      if (raised.length > 0) await group.save(raised.map((s) => [s.family, s.metricName, s.labels, s.value]));
      return healed ? ('healed' as const) : ('kept' as const);
    });
    // Held by a container: its state is the holder's to write, but the gateway may still be shown it.
    const outcome = idle ?? (await options.slots!.load(fn, id).then(async (stored) => (stored && (await heal(storedSeriesMap(stored), true)).healed ? 'healed' : 'kept')));
    if (outcome === 'healed') report.healed.push(instance);
    if (outcome === 'deleted') report.deleted.push(instance);
    if (outcome !== 'gone') onGateway.delete(key);
  });

  // Groups with no state to keep them: solo groups, and those whose state expired.
  for (const [key, { fn, instance }] of onGateway) {
    if (!stale(key)) continue;
    await remove(fn, instance);
    report.deleted.push(instance);
  }
  return report;
}

/** Series by series, the higher of the stored and the gateway's value. */
function higherOf(stored: Map<string, Series>, gateway: Map<string, Series>): Map<string, Series> {
  const merged = new Map(stored);
  for (const [key, s] of gateway) {
    const mine = merged.get(key);
    if (!mine || mine.value < s.value) merged.set(key, s);
  }
  return merged;
}

/** Families with a series the gateway lacks, or (unless `missingOnly`) holds lower. */
function familiesBehind(merged: Map<string, Series>, gateway: Map<string, Series>, missingOnly: boolean): Set<string> {
  const behind = new Set<string>();
  for (const [key, s] of merged) {
    const there = gateway.get(key);
    if (there === undefined ? s.value !== 0 || !missingOnly : !missingOnly && there.value !== s.value) behind.add(s.family);
  }
  return behind;
}

