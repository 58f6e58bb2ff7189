// What a Prometheus holds of the shop's job, read the way gateway-totals.ts reads a Pushgateway: the latest
// sample of each series without an `instance` (the fleet's sums, as the remote-write flusher writes them), per
// series key with its `function` label; groups from the instances whose gauge readings were written.
import { SHOP_JOB as JOB } from '../../lib/metrics/registry.ts';
import { seriesKey } from '../../packages/middy-pushgateway/src/exposition.ts';
import { countGroup, type GatewayTotals } from './gateway-totals.ts';

interface Result {
  metric: Record<string, string>;
  value: [number, string];
}

export async function prometheusTotals(prometheusUrl: string): Promise<GatewayTotals> {
  const url = new URL('/api/v1/query', prometheusUrl);
  url.searchParams.set('query', `{job="${JOB}"}`);
  const answer = (await (await fetch(url, { signal: AbortSignal.timeout(5000) })).json()) as { status: string; error?: string; data: { result: Result[] } };
  if (answer.status !== 'success') throw new Error(`Prometheus: ${answer.error}`);
  const sums = new Map<string, number>();
  const groups = new Map<string, { slots: number; overflow: number }>();
  for (const { metric, value } of answer.data.result) {
    const { __name__: name, job: _job, instance, ...labels } = metric;
    if (name!.startsWith('ALERTS')) continue; // the rules' own series, with the job of the series they watch
    if (instance !== undefined) {
      if (name === 'push_time_seconds' && labels.function) countGroup(groups, labels.function, instance);
      continue;
    }
    sums.set(seriesKey(name!, labels), Number(value[1]));
  }
  return { sums, groups };
}
