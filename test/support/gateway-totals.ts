// What a Pushgateway holds, summed over its groups the way a dashboard sums over instances: per series of
// our job, keeping the group's `function` label and dropping `instance` (the push slot).
import { groupSeries, readGroups } from '../../packages/middy-pushgateway/src/gateway.ts';
import { SHOP_JOB as JOB } from '../../lib/metrics/registry.ts';
import { seriesKey } from '../../packages/middy-pushgateway/src/exposition.ts';

export interface GatewayTotals {
  /** Sum per series key, `function` label included (e.g. `http_requests_total{function="x",method=...}`). */
  sums: Map<string, number>;
  /** Groups per function, by kind of instance: a slot (`<fn>-3`) or an overflow group. */
  groups: Map<string, { slots: number; overflow: number }>;
}

/** Counts a group of a function's as a slot (`<fn>-3`) or an overflow group (`<fn>-overflow-…`). */
export function countGroup(groups: GatewayTotals['groups'], fn: string, instance: string): void {
  const kinds = groups.get(fn) ?? { slots: 0, overflow: 0 };
  if (instance.startsWith(`${fn}-overflow-`)) kinds.overflow++;
  else kinds.slots++;
  groups.set(fn, kinds);
}

export async function gatewayTotals(gatewayUrl: string): Promise<GatewayTotals> {
  const body = await readGroups(gatewayUrl);
  const sums = new Map<string, number>();
  const groups = new Map<string, { slots: number; overflow: number }>();
  for (const group of body.data) {
    const { job, function: fn, instance } = group.labels;
    if (job !== JOB || !fn || !instance) continue;
    countGroup(groups, fn, instance);
    for (const [, metricName, labels, value] of groupSeries(body, group.labels) ?? []) {
      const key = seriesKey(metricName, { ...labels, function: fn });
      sums.set(key, (sums.get(key) ?? 0) + value);
    }
  }
  return { sums, groups };
}
