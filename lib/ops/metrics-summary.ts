// GET /healthz/metrics: what this container has recorded and how its pushes are going, for a human with
// curl rather than a Prometheus.
import { registry } from '../metrics/registry.ts';
import { pushStatus } from '../metrics/container.ts';

type Sample = { value: number; labels: Record<string, string | number>; metricName?: string };

/** The q-quantile from cumulative histogram buckets, interpolated linearly inside the bucket (as PromQL). */
export function quantile(q: number, buckets: [le: number, count: number][]): number | null {
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let [lowerLe, lowerCount] = [0, 0];
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Infinity) return lowerLe;
      return lowerLe + ((le - lowerLe) * (rank - lowerCount)) / Math.max(count - lowerCount, 1e-9);
    }
    [lowerLe, lowerCount] = [le, count];
  }
  return lowerLe;
}

const values = async (name: string): Promise<Sample[]> => ((await registry.getSingleMetric(name)?.get())?.values ?? []) as Sample[];

export async function metricsSummary() {
  const routes: Record<string, { requests: number; errors: number; p50Ms: number | null; p95Ms: number | null; p99Ms: number | null }> = {};
  for (const s of await values('http_requests_total')) {
    const key = `${s.labels.method} ${s.labels.route}`;
    routes[key] ??= { requests: 0, errors: 0, p50Ms: null, p95Ms: null, p99Ms: null };
    routes[key].requests += s.value;
    if (Number(s.labels.status_code) >= 500) routes[key].errors += s.value;
  }
  const buckets = new Map<string, Map<number, number>>();
  for (const s of await values('http_request_duration_seconds')) {
    if (s.metricName !== 'http_request_duration_seconds_bucket') continue;
    const key = `${s.labels.method} ${s.labels.route}`;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    const perRoute = buckets.get(key) ?? new Map<number, number>();
    perRoute.set(le, (perRoute.get(le) ?? 0) + s.value); // summed over status codes
    buckets.set(key, perRoute);
  }
  for (const [key, perRoute] of buckets) {
    const sorted = [...perRoute.entries()].sort((a, b) => a[0] - b[0]);
    const ms = (q: number) => {
      const seconds = quantile(q, sorted);
      return seconds === null ? null : Math.round(seconds * 10_000) / 10;
    };
    if (routes[key]) Object.assign(routes[key], { p50Ms: ms(0.5), p95Ms: ms(0.95), p99Ms: ms(0.99) });
  }
  const cache = Object.fromEntries((await values('cache_operations_total')).filter((s) => s.labels.operation === 'get').map((s) => [s.labels.result, s.value]));
  const gets = (cache.hit ?? 0) + (cache.miss ?? 0) + (cache.error ?? 0);
  const errors = (await values('errors_total')).map((s) => ({ ...s.labels, count: s.value }));
  const coldStarts = (await values('function_cold_starts_total')).reduce((sum, s) => sum + s.value, 0);
  return {
    routes,
    cache: { hits: cache.hit ?? 0, misses: cache.miss ?? 0, errors: cache.error ?? 0, hitRatio: gets === 0 ? null : (cache.hit ?? 0) / gets },
    errors,
    coldStarts,
    push: pushStatus() ?? { enabled: false },
  };
}
