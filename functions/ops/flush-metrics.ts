// Scheduled (serverless.yml), with METRICS_DELIVERY remote-write or both: the fleet's sums from Redis into
// Prometheus by remote write, every METRICS_FLUSH_INTERVAL_MS for most of the schedule's period.
import type { Context } from 'aws-lambda';
import { flushMetrics } from '../../lib/ops/metrics-jobs.ts';
import { config } from '../../lib/config.ts';
import { log } from '../../lib/log.ts';

export const handler = async (_event: unknown, context: Context) => {
  if (!config.metrics.remoteWrite) return { skipped: 'METRICS_DELIVERY is pushgateway' };
  const summary = await flushMetrics(context.getRemainingTimeInMillis());
  log.info('metrics flushed', { runs: summary.runs, written: summary.written, failed: summary.failed, last: summary.last });
  if (summary.written === 0 && summary.failed > 0) throw new Error(`every metrics flush of this run failed (${summary.failed})`);
  return summary;
};
