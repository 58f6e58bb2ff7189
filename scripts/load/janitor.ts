// One run of the metrics janitor, as the scheduled function runs it (lib/ops/metrics-jobs.ts), in a process of
// its own so that lib/config.ts reads this run's environment (PUSHGATEWAY_URL, REDIS_URL, ...), not that of
// scripts/load/run.ts. Prints the janitor's report as JSON.
import { cleanMetrics, whenDelivering } from '../../lib/ops/metrics-jobs.ts';

const report = await whenDelivering('metrics janitor', cleanMetrics);
if ('skipped' in report) throw new Error(`janitor skipped: ${report.skipped}`);
console.log(JSON.stringify(report));
// The container's Redis connection (lib/metrics/container.ts) would keep this process alive.
process.exit(0);
