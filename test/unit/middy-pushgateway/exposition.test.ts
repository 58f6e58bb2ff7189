import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { parseSeriesKey, render, seriesKey, snapshot } from '../../../packages/middy-pushgateway/src/exposition.ts';

describe('series and their exposition', () => {
  it('keys a series by name and sorted labels', () => {
    expect(seriesKey('x_total', { b: '2', a: '1' })).toBe(seriesKey('x_total', { a: '1', b: '2' }));
    expect(seriesKey('x_total', { a: '1' })).not.toBe(seriesKey('x_total', { a: '2' }));
  });

  it('reads a key back into its name and labels, whatever the label values hold', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,20}$/),
        fc.dictionary(fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,10}$/), fc.string({ unit: 'binary' }), { maxKeys: 4 }),
        (metricName, labels) => {
          // Act
          const parsed = parseSeriesKey(seriesKey(metricName, labels));
          // Assess
          expect(parsed).toEqual({ metricName, labels: { ...labels } });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('renders what prom-client would, escaping label values and keeping buckets in order', async () => {
    // Prepare
    const registry = new Registry();
    new Counter({ name: 'odd_total', help: 'Odd "labels".', labelNames: ['v'] as const, registers: [registry] }).inc({ v: 'a"b\\c\nd' }, 2);
    new Histogram({ name: 'lat_seconds', help: 'Latency.', buckets: [0.1, 1], registers: [registry] }).observe(0.5);
    // Act
    const { families, series } = await snapshot(registry);
    const text = render(families.values(), series.values());
    // Assess
    expect(text).toContain('odd_total{v="a\\"b\\\\c\\nd"} 2');
    const lines = text.split('\n').filter((l) => l.startsWith('lat_seconds'));
    expect(lines).toEqual([
      'lat_seconds_bucket{le="0.1"} 0',
      'lat_seconds_bucket{le="1"} 1',
      'lat_seconds_bucket{le="+Inf"} 1',
      'lat_seconds_sum 0.5',
      'lat_seconds_count 1',
    ]);
  });
});
