// A registry as plain series, and series back as Prometheus text. The pusher does arithmetic on series (a
// slot's pushed value is its stored base plus this container's increments), which prom-client's own
// exposition cannot express.
import type { MetricObjectWithValues, MetricValue, Registry } from 'prom-client';
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

const labelPart = (labels: Labels) =>
  `{${Object.keys(labels)
    .sort()
    .map((name) => `${name}=${JSON.stringify(labels[name])}`)
    .join(',')}}`;
// A series' labels object is made once and never changed (series-reader.ts), and the pusher keys
// the same series again on every push: its label part is worth keeping.
const labelParts = new WeakMap<Labels, string>();

/** `name{a="1",b="2"}`: labels sorted, values as JSON strings, so `parseSeriesKey` can read it back. */
export function seriesKey(metricName: string, labels: Labels): string {
  let part = labelParts.get(labels);
  if (part === undefined) labelParts.set(labels, (part = labelPart(labels)));
  return metricName + part;
}

export function parseSeriesKey(key: string): { metricName: string; labels: Labels } {
  const open = key.indexOf('{');
  const labels: Labels = {};
  for (const [, name, value] of key.slice(open).matchAll(/(\w+)=("(?:[^"\\]|\\.)*")/g)) labels[name!] = JSON.parse(value!) as string;
  return { metricName: key.slice(0, open), labels };
}

/** Series as Redis and the gateway's JSON give them back, keyed like a snapshot's. */
export function storedSeriesMap(stored: StoredSeries[]): Map<string, Series> {
  return new Map(stored.map(([family, metricName, labels, value]) => [seriesKey(metricName, labels), { family, metricName, labels, value }]));
}

/** Counters and histograms add up across slots; gauges are a container's current reading. */
export const isCumulative = (type: FamilyType) => type === 'counter' || type === 'histogram';

/** The series of one metric as prom-client's `get()` exports it. */
export function seriesOf(metric: MetricObjectWithValues<MetricValue<string>>): Series[] {
  return (metric.values as { value: number; labels: Record<string, string | number>; metricName?: string }[]).map((sample) => ({
    family: metric.name,
    metricName: sample.metricName ?? metric.name,
    labels: Object.fromEntries(Object.entries(sample.labels).map(([k, v]) => [k, String(v)])),
    value: sample.value,
  }));
}

export async function snapshot(registry: Registry): Promise<Snapshot> {
  const families = new Map<string, Family>();
  const series = new Map<string, Series>();
  for (const metric of await registry.getMetricsAsJSON()) {
    families.set(metric.name, { name: metric.name, help: metric.help, type: String(metric.type) as FamilyType });
    for (const s of seriesOf(metric)) series.set(seriesKey(s.metricName, s.labels), s);
  }
  return { families, series };
}

const escapeLabel = (value: string) => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (help: string) => help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const formatValue = (value: number) => (value === Infinity ? '+Inf' : value === -Infinity ? '-Inf' : String(value));
const SUFFIX_ORDER: Record<string, number> = { _bucket: 0, _sum: 1, _count: 2 };

/** Label sets in key order, then buckets (by `le`), sum and count: what a sort compares, worked out once per series. */
function sortKey(s: Series): { labels: string; rank: number; le: number } {
  const { le, ...rest } = s.labels;
  return {
    labels: labelPart(rest),
    rank: SUFFIX_ORDER[s.metricName.slice(s.family.length)] ?? 0,
    le: le === undefined ? 0 : le === '+Inf' ? Infinity : Number(le),
  };
}

function sorted(members: Series[]): Series[] {
  const keyed = members.map((s) => ({ s, key: sortKey(s) }));
  keyed.sort(({ key: a }, { key: b }) => (a.labels < b.labels ? -1 : a.labels > b.labels ? 1 : a.rank - b.rank || a.le - b.le));
  return keyed.map(({ s }) => s);
}

/** Text exposition format 0.0.4, one block per family, buckets in `le` order. */
export function render(families: Iterable<Family>, series: Iterable<Series>): string {
  const byFamily = new Map<string, Series[]>();
  for (const s of series) {
    const members = byFamily.get(s.family);
    if (members) members.push(s);
    else byFamily.set(s.family, [s]);
  }
  const lines: string[] = [];
  for (const family of families) {
    const members = byFamily.get(family.name);
    if (!members?.length) continue;
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const s of sorted(members)) {
      const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
      lines.push(`${s.metricName}${labels.length ? `{${labels.join(',')}}` : ''} ${formatValue(s.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
