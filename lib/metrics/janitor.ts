// Keeps the gateway bounded and honest, run on a schedule (functions/ops/metrics-janitor.ts):
// - deletes groups not pushed for `staleAfterSeconds` whose lease is gone (overflow and solo groups have none);
// - re-pushes a group's Redis state (slots, and overflow groups) where the gateway holds other values and no
//   container holds it (a late push can land after a newer one; a timed-out last push never landed; a
//   restarted gateway forgets groups).
import { render, seriesKey, storedSeriesMap, type Family } from './exposition.ts';
import type { SlotStore, StoredSeries } from './slots.ts';
import { groupSeries, groupUrl, JOB, readGroups, gatewayRequest, TEXT_FORMAT } from './gateway.ts';

export interface JanitorOptions {
  gatewayUrl: string;
  slots?: SlotStore;
  staleAfterSeconds: number;
  /** Metadata (help, type) of every family, for groups the gateway has lost entirely. */
  families: Map<string, Family>;
  job?: string;
  /** Limits the run to one function (tests share Redis and must not touch each other's slots). */
  onlyFunction?: string;
  headers?: Record<string, string>;
  now?: () => number;
}

export interface JanitorReport {
  deleted: string[];
  healed: string[];
}

interface GatewayGroup {
  labels: Record<string, string>;
  push_time_seconds?: { metrics: { value: string }[] };
  [family: string]: unknown;
}

export async function runJanitor(options: JanitorOptions): Promise<JanitorReport> {
  const job = options.job ?? JOB;
  const now = options.now ?? Date.now;
  const report: JanitorReport = { deleted: [], healed: [] };
  const body = await readGroups(options.gatewayUrl, { headers: options.headers });
  const urlOf = (labels: Record<string, string>) => groupUrl(options.gatewayUrl, labels.function!, labels.instance!, job);

  const seen = new Set<string>();
  for (const group of body.data as GatewayGroup[]) {
    const { function: fn, instance } = group.labels;
    if (group.labels.job !== job || !fn || !instance) continue;
    if (options.onlyFunction !== undefined && fn !== options.onlyFunction) continue;
    seen.add(`${fn}/${instance}`);
    const pushedAt = Number(group.push_time_seconds?.metrics[0]?.value ?? 0);
    const stale = now() / 1000 - pushedAt > options.staleAfterSeconds;
    const id = groupIdOf(fn, instance);
    if (id !== undefined && options.slots) {
      const outcome = await options.slots.withIdleGroup(fn, id, async (stored) => {
        if (stored && differs(groupSeries(body, group.labels) ?? [], stored)) {
          await repush(urlOf(group.labels), stored, options);
          return 'healed';
        }
        if (stale) {
          await gatewayRequest(urlOf(group.labels), { method: 'DELETE', headers: options.headers });
          return 'deleted';
        }
        return 'kept';
      });
      if (outcome === 'healed') report.healed.push(instance);
      if (outcome === 'deleted') report.deleted.push(instance);
    } else if (stale) {
      await gatewayRequest(urlOf(group.labels), { method: 'DELETE', headers: options.headers });
      report.deleted.push(instance);
    }
  }

  // Groups the gateway lost (a restart without persistence): their stored values go back up.
  if (options.slots) {
    for (const { fn, id } of await options.slots.storedGroups()) {
      if (options.onlyFunction !== undefined && fn !== options.onlyFunction) continue;
      const instance = `${fn}-${id}`;
      if (seen.has(`${fn}/${instance}`)) continue;
      const healed = await options.slots.withIdleGroup(fn, id, async (stored) => {
        if (!stored) return false;
        await repush(urlOf({ function: fn, instance }), stored, options);
        return true;
      });
      if (healed) report.healed.push(instance);
    }
  }
  return report;
}

/** The stored-state id of a slot (`<fn>-3`) or overflow group (`<fn>-overflow-1a2b3c4d`); solo groups have none. */
function groupIdOf(fn: string, instance: string): string | undefined {
  if (!instance.startsWith(`${fn}-`)) return undefined;
  const id = instance.slice(fn.length + 1);
  return /^(\d+|overflow-[0-9a-f]{8})$/.test(id) ? id : undefined;
}

function differs(onGateway: StoredSeries[], stored: StoredSeries[]): boolean {
  const gateway = new Map(onGateway.map(([, metricName, labels, value]) => [seriesKey(metricName, labels), value]));
  return stored.some(([, metricName, labels, value]) => gateway.get(seriesKey(metricName, labels)) !== value);
}

async function repush(url: string, stored: StoredSeries[], options: JanitorOptions): Promise<void> {
  const series = [...storedSeriesMap(stored).values()];
  const names = new Set(series.map((s) => s.family));
  const families = [...options.families.values()].filter((f) => names.has(f.name));
  await gatewayRequest(url, { method: 'POST', body: render(families, series), headers: { 'Content-Type': TEXT_FORMAT, ...options.headers } });
}
