// A registry as plain series, and series back as Prometheus text. The pusher does arithmetic on series (a
// slot's pushed value is its stored base plus this container's increments), which prom-client's own
// exposition cannot express.
import type { Registry } from 'prom-client';
import type { StoredSeries } from './slots.ts';

export type FamilyType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
export type Labels = Record<string, string>;

export interface Family {
  name: string;
  help: string;
  type: FamilyType;
}
export interface Series {
  family: string;
  /** The sample's own name: the family name, or name_bucket / name_sum / name_count for histograms. */
  metricName: string;
  labels: Labels;
  value: number;
}
export interface Snapshot {
  families: Map<string, Family>;
  series: Map<string, Series>;
}

export function seriesKey(metricName: string, labels: Labels): string {
  const pairs = Object.keys(labels)
    .sort()
    .map((name) => `${name}=${JSON.stringify(labels[name])}`);
  return `${metricName}{${pairs.join(',')}}`;
}

/** Series as Redis and the gateway's JSON give them back, keyed like a snapshot's. */
export function storedSeriesMap(stored: StoredSeries[]): Map<string, Series> {
  return new Map(stored.map(([family, metricName, labels, value]) => [seriesKey(metricName, labels), { family, metricName, labels, value }]));
}

/** Counters and histograms add up across slots; gauges are a container's current reading. */
export const isCumulative = (type: FamilyType) => type === 'counter' || type === 'histogram';

export async function snapshot(registry: Registry): Promise<Snapshot> {
  const families = new Map<string, Family>();
  const series = new Map<string, Series>();
  for (const metric of await registry.getMetricsAsJSON()) {
    const family: Family = { name: metric.name, help: metric.help, type: String(metric.type) as FamilyType };
    families.set(family.name, family);
    for (const sample of metric.values as { value: number; labels: Record<string, string | number>; metricName?: string }[]) {
      const metricName = sample.metricName ?? metric.name;
      const labels = Object.fromEntries(Object.entries(sample.labels).map(([k, v]) => [k, String(v)]));
      series.set(seriesKey(metricName, labels), { family: family.name, metricName, labels, value: sample.value });
    }
  }
  return { families, series };
}

const escapeLabel = (value: string) => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (help: string) => help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const formatValue = (value: number) => (value === Infinity ? '+Inf' : value === -Infinity ? '-Inf' : String(value));
const SUFFIX_ORDER: Record<string, number> = { _bucket: 0, _sum: 1, _count: 2 };

function compareSeries(a: Series, b: Series): number {
  const rank = (s: Series) => SUFFIX_ORDER[s.metricName.slice(s.family.length)] ?? 0;
  const { le: leA, ...restA } = a.labels;
  const { le: leB, ...restB } = b.labels;
  const byLabels = seriesKey('', restA).localeCompare(seriesKey('', restB));
  if (byLabels !== 0) return byLabels;
  if (rank(a) !== rank(b)) return rank(a) - rank(b);
  const le = (v: string | undefined) => (v === undefined ? 0 : v === '+Inf' ? Infinity : Number(v));
  return le(leA) - le(leB);
}

/** Text exposition format 0.0.4, one block per family, buckets in `le` order. */
export function render(families: Iterable<Family>, series: Iterable<Series>): string {
  const byFamily = new Map<string, Series[]>();
  for (const s of series) byFamily.set(s.family, [...(byFamily.get(s.family) ?? []), s]);
  const lines: string[] = [];
  for (const family of families) {
    const members = byFamily.get(family.name);
    if (!members?.length) continue;
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const s of members.sort(compareSeries)) {
      const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
      lines.push(`${s.metricName}${labels.length ? `{${labels.join(',')}}` : ''} ${formatValue(s.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
