// The remote-write flusher as a long-lived process, for a deployment that runs one (a container beside the
// stack) instead of the scheduled flushMetrics function: `npm run flusher`, with the shop's environment
// (METRICS_DELIVERY=remote-write or both, REDIS_URL, REMOTE_WRITE_URL...). It flushes every
// METRICS_FLUSH_INTERVAL_MS until SIGINT or SIGTERM, and several may run: each run goes to the lease's holder.
import { config } from '../lib/config.ts';
import { flushMetricsUntil } from '../lib/ops/metrics-jobs.ts';

if (!config.metrics.remoteWrite) {
  console.error('METRICS_DELIVERY is pushgateway: there is nothing to flush (set it to remote-write or both)');
  process.exit(1);
}
const stopped = new Promise((resolve) => {
  process.once('SIGINT', resolve);
  process.once('SIGTERM', resolve);
});
console.log(`flushing to ${config.metrics.remoteWrite.url} every ${config.metrics.remoteWrite.flushIntervalMs} ms`);
const summary = await flushMetricsUntil(stopped);
console.log(JSON.stringify({ runs: summary.runs, written: summary.written, failed: summary.failed }));
process.exit(0);
