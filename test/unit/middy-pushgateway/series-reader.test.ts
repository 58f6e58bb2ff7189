import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { seriesKey, snapshot, type Series } from '../../../packages/middy-pushgateway/src/exposition.ts';
import { createSeriesReader } from '../../../packages/middy-pushgateway/src/series-reader.ts';

function shop() {
  const registry = new Registry();
  const requests = new Counter({ name: 'req_total', help: 'r', labelNames: ['status', 'function'] as const, registers: [registry] });
  const plain = new Counter({ name: 'plain_total', help: 'p', registers: [registry] });
  const latency = new Histogram({ name: 'lat_seconds', help: 'l', labelNames: ['route'] as const, buckets: [0.01, 0.1, 1], registers: [registry] });
  const level = new Gauge({ name: 'level', help: 'g', labelNames: ['state'] as const, registers: [registry] });
  let cpu = 0;
  new Counter({
    name: 'cpu_total',
    help: 'c',
    registers: [registry],
    collect() {
      this.inc(cpu);
      cpu = 0;
    },
  });
  // A collect() that awaits, as one reading a pool or a queue would: the reader must wait for it.
  let queued = 0;
  new Counter({
    name: 'queued_total',
    help: 'q',
    registers: [registry],
    async collect() {
      await new Promise((resolve) => setImmediate(resolve));
      this.inc(queued);
      queued = 0;
    },
  });
  const quantiles = new Summary({ name: 'sizes', help: 's', percentiles: [0.5], registers: [registry] });
  return { registry, requests, plain, latency, level, quantiles, burn: (seconds: number) => (cpu += seconds), queue: (n: number) => (queued += n) };
}

const values = (series: Iterable<Series>) => new Map([...series].map((s) => [seriesKey(s.metricName, s.labels), s.value]));

describe('series reader', () => {
  it('reads what snapshot() reads, after any sequence of recordings, and names exactly the series that moved', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('inc' as const), status: fc.constantFrom('200', '404', '500'), by: fc.integer({ min: 0, max: 3 }) }),
            fc.record({ kind: fc.constant('plain' as const) }),
            fc.record({ kind: fc.constant('observe' as const), route: fc.constantFrom('/a', '/b'), seconds: fc.double({ min: 0, max: 3, noNaN: true }) }),
            fc.record({ kind: fc.constant('gauge' as const), state: fc.constantFrom('idle', 'busy'), value: fc.integer({ min: -5, max: 5 }) }),
            fc.record({ kind: fc.constant('cpu' as const), seconds: fc.double({ min: 0.001, max: 1, noNaN: true }) }),
            fc.record({ kind: fc.constant('summary' as const), value: fc.integer({ min: 0, max: 100 }) }),
            fc.record({ kind: fc.constant('queue' as const), n: fc.integer({ min: 1, max: 4 }) }),
            fc.record({ kind: fc.constant('read' as const) }),
          ),
          { maxLength: 40 },
        ),
        async (steps) => {
          // Prepare
          const m = shop();
          const reader = createSeriesReader(m.registry);
          let before = new Map<string, number>();
          for (const step of [...steps, { kind: 'read' as const }]) {
            // Act
            if (step.kind === 'inc') m.requests.inc({ status: step.status, function: 'f' }, step.by);
            if (step.kind === 'plain') m.plain.inc();
            if (step.kind === 'observe') m.latency.observe({ route: step.route }, step.seconds);
            if (step.kind === 'gauge') m.level.set({ state: step.state }, step.value);
            if (step.kind === 'cpu') m.burn(step.seconds);
            if (step.kind === 'summary') m.quantiles.observe(step.value);
            if (step.kind === 'queue') m.queue(step.n);
            if (step.kind !== 'read') continue;
            const changed = await reader.read('all');
            // Assess: the reader's values are snapshot()'s (whose collect ran after the reader's, on nothing new)
            const expected = values((await snapshot(m.registry)).series.values());
            const actual = values(reader.snapshot.series.values());
            expect(actual).toEqual(expected);
            const moved = [...actual].filter(([key, value]) => before.get(key) !== value).map(([key]) => key);
            expect(new Set(changed)).toEqual(new Set(moved));
            before = actual;
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('reads only the part asked for: cumulative families between pushes, gauges for a POST', async () => {
    // Prepare
    const m = shop();
    const reader = createSeriesReader(m.registry);
    await reader.read('all');
    m.requests.inc({ status: '200', function: 'f' });
    m.level.set({ state: 'busy' }, 3);
    // Act
    const cumulative = await reader.read('cumulative');
    const gauges = await reader.read('gauges');
    // Assess
    expect(cumulative).toEqual([seriesKey('req_total', { status: '200', function: 'f' })]);
    expect(gauges).toEqual([seriesKey('level', { state: 'busy' })]);
    expect(reader.snapshot.families.get('level')).toEqual({ name: 'level', help: 'g', type: 'gauge' });
  });

  it('reads counters and histograms from their records, not through get(), with the installed prom-client', async () => {
    // Prepare: the fast path is why the reader exists; a prom-client whose records look different would
    // silently fall back to get() (correct, slower), and this test is what notices
    const m = shop();
    const reader = createSeriesReader(m.registry);
    const spies = [m.requests, m.plain, m.latency].map((metric) => vi.spyOn(metric, 'get'));
    m.latency.observe({ route: '/a' }, 0.05);
    // Act
    await reader.read('cumulative');
    // Assess
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
    expect(reader.snapshot.series.get(seriesKey('lat_seconds_bucket', { route: '/a', le: '0.1' }))?.value).toBe(1);
  });

  it('leaves out a label equal to the one given (the group label the gateway adds back), and keeps others', async () => {
    // Prepare
    const m = shop();
    const reader = createSeriesReader(m.registry, { function: 'f' });
    m.requests.inc({ status: '200', function: 'f' });
    m.requests.inc({ status: '200', function: 'g' });
    // Act
    await reader.read('cumulative');
    // Assess
    expect(reader.snapshot.series.get(seriesKey('req_total', { status: '200' }))?.labels).toEqual({ status: '200' });
    expect(reader.snapshot.series.get(seriesKey('req_total', { status: '200', function: 'g' }))?.value).toBe(1);
  });
});
