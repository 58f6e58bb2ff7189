import { describe, expect, it } from 'vitest';
import { quantile } from '../../../../lib/ops/metrics-summary.ts';

describe('quantiles from histogram buckets', () => {
  it('interpolates inside the bucket that holds the rank, as histogram_quantile does', () => {
    // 10 observations: 4 up to 10 ms, 10 up to 20 ms
    const buckets: [number, number][] = [[0.01, 4], [0.02, 10], [Infinity, 10]];
    expect(quantile(0.5, buckets)).toBeCloseTo(0.01 + 0.01 * (1 / 6));
    expect(quantile(0.4, buckets)).toBeCloseTo(0.01);
  });

  it('answers the highest finite bound when the rank falls in +Inf, and null without observations', () => {
    expect(quantile(0.99, [[0.1, 1], [Infinity, 10]])).toBe(0.1);
    expect(quantile(0.5, [[0.1, 0], [Infinity, 0]])).toBeNull();
  });
});
