// Where the time goes: per-route latency, the database and cache underneath, and the cost of pushing metrics.
import * as common from '@grafana/grafana-foundation-sdk/common';
import { bucketHeatmap, perMinute, quantile, query, rate, shop, shopDashboard, stacked, thresholds, timeSeries, units } from './panels.ts';

const perRoute = (q: 'p50' | 'p95' | 'p99') =>
  timeSeries(
    { title: `Latency ${q} by route`, unit: units.Seconds, description: `${q} of request duration inside the function, per route template, over 5 minutes (recording rule).` },
    query(`route:http_request_duration_seconds:${q}_5m`, '{{route}}'),
  );

export const performance = shopDashboard({
  uid: 'shop-performance',
  title: 'Serverless shop / Performance',
  description: 'Latency per route, database and cache timings, and the metrics push that every invocation awaits.',
  tags: ['performance'],
  bands: [
    {
      row: 'HTTP',
      height: 8,
      panels: [
        bucketHeatmap(
          {
            title: 'Latency distribution',
            unit: units.RequestsPerSecond,
            bucketUnit: units.Seconds,
            description: 'Requests per second in each duration bucket, all routes. Two bands mean two populations (cache hits and misses, cold starts).',
          },
          query(`sum by (le) (${rate(shop('http_request_duration_seconds_bucket'))})`, '{{le}}'),
        ),
        stacked(
          { title: 'Responses by status code', unit: units.RequestsPerSecond, description: 'Requests answered per second, by status code, all routes.' },
          query(`sum by (status_code) (${rate(shop('http_requests_total'))})`, '{{status_code}}'),
        ),
      ],
    },
    { height: 8, panels: [perRoute('p50'), perRoute('p95'), perRoute('p99')] },
    {
      row: 'Database and cache',
      height: 8,
      panels: [
        timeSeries(
          { title: 'Database query p95 by operation and table', unit: units.Seconds, description: '95th percentile of statement duration by operation (select, insert, update, delete, tx) and table.' },
          query(quantile(0.95, 'db_query_duration_seconds', ['operation', 'table']), '{{operation}} {{table}}'),
        ),
        timeSeries(
          { title: 'Database queries by operation and table', unit: units.OpsPerSecond, description: 'Statements per second by operation and table.' },
          query(`sum by (operation, table) (${rate(shop('db_query_duration_seconds_count'))})`, '{{operation}} {{table}}'),
        ),
      ],
    },
    {
      height: 8,
      panels: [
        timeSeries(
          { title: 'Cache operation p95', unit: units.Seconds, description: '95th percentile of cache operation duration, timeouts included (a dead Redis shows as its command timeout).' },
          query(quantile(0.95, 'cache_operation_duration_seconds', ['operation']), '{{operation}}'),
        ),
        stacked(
          { title: 'Cache operations by result', unit: units.OpsPerSecond, description: 'Cache operations per second by operation and result; errors were served from the database.' },
          query(`sum by (operation, result) (${rate(shop('cache_operations_total'))})`, '{{operation}} {{result}}'),
        ),
      ],
    },
    {
      row: 'Metrics push',
      height: 8,
      panels: [
        timeSeries(
          { title: 'Push duration p95 by function', unit: units.Seconds, description: '95th percentile of the push each invocation awaits before it returns. The line marks the default deadline (PUSH_TIMEOUT_MS, 200 ms).' },
          query(quantile(0.95, 'metrics_push_duration_seconds', ['function']), '{{function}}'),
        )
          .thresholds(thresholds('green', [0.2, 'red']))
          .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed)),
        timeSeries(
          { title: 'Push failure ratio by function', unit: units.PercentUnit, description: 'Share of pushes that failed or timed out. A failed push is superseded by the next one, so totals heal; a lasting ratio means a sick gateway.' },
          query(`sum by (function) (${rate(shop('metrics_push_failures_total'))}) / sum by (function) (${rate(shop('metrics_push_duration_seconds_count'))})`, '{{function}}'),
        ),
        timeSeries(
          { title: 'Slot overflows by function', unit: units.CountsPerMinute, description: 'Times per minute a container found no free push slot (or no Redis) and pushed to an overflow group: raise METRICS_SLOTS to the function\'s concurrency.' },
          query(perMinute(`sum by (function) (${rate(shop('metrics_slot_overflow_total'))})`), '{{function}}'),
        ),
      ],
    },
  ],
});
