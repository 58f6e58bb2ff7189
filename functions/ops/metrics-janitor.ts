// Scheduled (serverless.yml): deletes stale Pushgateway groups and heals slots whose values drifted; with remote
// write, retires idle groups into their function's retired total.
import { cleanMetrics, whenDelivering } from '../../lib/ops/metrics-jobs.ts';
import { log } from '../../lib/log.ts';

export const handler = () =>
  whenDelivering('metrics janitor', async () => {
    const report = await cleanMetrics();
    log.info('metrics janitor done', { deleted: report.deleted.length, healed: report.healed.length, retired: report.retired.length });
    return report;
  });
