// Scheduled (serverless.yml): orders by status, revenue and catalogue size from Postgres, into their own group.
import { collectBusinessMetrics, whenDelivering } from '../../lib/ops/metrics-jobs.ts';
import { log } from '../../lib/log.ts';

export const handler = () =>
  whenDelivering('business metrics', async () => {
    const { figures } = await collectBusinessMetrics();
    log.info('business metrics pushed', { figures });
    return figures;
  });
