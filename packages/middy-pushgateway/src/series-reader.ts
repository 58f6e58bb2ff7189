// Reads a registry as series, keeping one live snapshot and touching only the label sets that moved. The
// pusher reads after every invocation; `snapshot()` (getMetricsAsJSON, a new object and key per series) costs
// more CPU than the request it measures (docs/benchmarks.md), while an invocation changes a handful of label sets out of
// dozens. Counters and histograms are read from prom-client's per-label-set records (`hashMap`, the
// structure its own `get()` exports): a record whose value (a histogram's count) has not moved is skipped,
// and a new one gets its series and keys once. Any other metric, or one whose records do not look like
// that, is read through its public `get()`, so an unexpected prom-client costs speed, not values. Registry
// default labels are not applied: our registry has none (lib/metrics/registry.ts).
import type { Metric, Registry } from 'prom-client';
import { isCumulative, seriesKey, seriesOf, type Family, type FamilyType, type Labels, type Series, type Snapshot } from './exposition.ts';

type CounterRecord = { labels: Record<string, string | number>; value: number };
type HistogramRecord = { labels: Record<string, string | number>; bucketValues: Record<string, number>; sum: number; count: number };
interface Internals {
  type?: string;
  name: string;
  help: string;
  hashMap?: Record<string, CounterRecord | HistogramRecord>;
  upperBounds?: readonly number[];
  collect?: () => unknown;
}

/** One label set of a metric: its series (in the order prom-client exports them) and their keys, and what was last read. */
interface LabelSet {
  seen: number;
  series: Series[];
  keys: string[];
}

export type ReadPart = 'cumulative' | 'gauges' | 'all';

export interface SeriesReader {
  /** Kept up to date by `read`; the same maps every time (callers copy what they keep). */
  readonly snapshot: Snapshot;
  /** Reads the families of that part; returns the keys of the series whose value changed (or are new). */
  read(part: ReadPart): Promise<string[]>;
}

/** Sets a series of a label set to `value`, noting its key in `changed` if it moved (or was never read). */
function moveTo(set: LabelSet, i: number, value: number, changed: string[]): void {
  const s = set.series[i]!;
  if (s.value === value && !Number.isNaN(set.seen)) return;
  s.value = value;
  changed.push(set.keys[i]!);
}

const isPromiseLike = (value: unknown): value is PromiseLike<unknown> =>
  typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';

/**
 * `dropLabels`: a series' label equal to the given value is left out (the pusher's `function`, which the
 * gateway adds back as a group label).
 */
export function createSeriesReader(registry: Registry, dropLabels: Labels = {}): SeriesReader {
  const families = new Map<string, Family>();
  const series = new Map<string, Series>();
  const labelSets = new Map<string, Map<string, LabelSet>>();

  const ownLabels = (labels: Record<string, string | number>): Labels => {
    const out: Labels = {};
    for (const name in labels) {
      const value = String(labels[name]);
      if (dropLabels[name] !== value) out[name] = value;
    }
    return out;
  };
  const add = (family: string, metricName: string, labels: Labels): [string, Series] => {
    const key = seriesKey(metricName, labels);
    const s: Series = { family, metricName, labels, value: 0 };
    series.set(key, s);
    return [key, s];
  };

  function newLabelSet(m: Internals, record: CounterRecord | HistogramRecord): LabelSet {
    const labels = ownLabels(record.labels);
    const added =
      m.type === 'counter'
        ? [add(m.name, m.name, labels)]
        : [
            ...[...m.upperBounds!.map(String), '+Inf'].map((le) => add(m.name, `${m.name}_bucket`, { ...labels, le })),
            add(m.name, `${m.name}_sum`, labels),
            add(m.name, `${m.name}_count`, labels),
          ];
    return { seen: Number.NaN, keys: added.map(([key]) => key), series: added.map(([, s]) => s) };
  }

  /** Updates a label set's series from its record, adding the keys of those that moved to `changed`. */
  function update(m: Internals, set: LabelSet, record: CounterRecord | HistogramRecord, changed: string[]): void {
    if (m.type === 'counter') {
      const { value } = record as CounterRecord;
      if (value === set.seen) return;
      moveTo(set, 0, value, changed);
      set.seen = value;
      return;
    }
    const { bucketValues, sum, count } = record as HistogramRecord;
    if (count === set.seen) return;
    const bounds = m.upperBounds!;
    const n = bounds.length;
    let cumulative = 0;
    for (let i = 0; i < n; i++) moveTo(set, i, (cumulative += bucketValues[bounds[i]!] ?? 0), changed);
    moveTo(set, n, count, changed);
    moveTo(set, n + 1, sum, changed);
    moveTo(set, n + 2, count, changed);
    set.seen = count;
  }

  const readable = (m: Internals) =>
    typeof m.hashMap === 'object' && m.hashMap !== null && (m.type === 'counter' || (m.type === 'histogram' && Array.isArray(m.upperBounds)));

  function readRecords(m: Internals, changed: string[]): void {
    let sets = labelSets.get(m.name);
    if (!sets) labelSets.set(m.name, (sets = new Map()));
    for (const hash in m.hashMap!) {
      const record = m.hashMap[hash]!;
      let set = sets.get(hash);
      if (!set) sets.set(hash, (set = newLabelSet(m, record)));
      update(m, set, record, changed);
    }
  }

  async function readPublic(metric: Metric, changed: string[]): Promise<void> {
    for (const fresh of seriesOf(await metric.get())) {
      const labels = ownLabels(fresh.labels);
      const key = seriesKey(fresh.metricName, labels);
      const known = series.get(key);
      if (known?.value === fresh.value) continue;
      (known ?? add(fresh.family, fresh.metricName, labels)[1]).value = fresh.value;
      changed.push(key);
    }
  }

  return {
    snapshot: { families, series },
    async read(part) {
      const changed: string[] = [];
      const chosen: Internals[] = [];
      const collecting: PromiseLike<unknown>[] = [];
      for (const metric of registry.getMetricsAsArray()) {
        // getMetricsAsArray() gives the metric objects themselves, though typed as their description.
        const m = metric as unknown as Internals;
        const type = (m.type ?? 'untyped') as FamilyType;
        if (!families.has(m.name)) families.set(m.name, { name: m.name, help: m.help, type });
        if (part !== 'all' && isCumulative(type) !== (part === 'cumulative')) continue;
        chosen.push(m);
        const collected = readable(m) && m.collect ? m.collect() : undefined;
        if (isPromiseLike(collected)) collecting.push(collected);
      }
      // Awaited only when a collect() is asynchronous: in a cold container, an await per metric costs more
      // than reading it.
      if (collecting.length > 0) await Promise.all(collecting);
      for (const m of chosen) {
        if (readable(m)) readRecords(m, changed);
        else await readPublic(m as unknown as Metric, changed);
      }
      return changed;
    },
  };
}
