// Scheduled (serverless.yml): orders by status, revenue and catalogue size from Postgres, into their own group.
import { collectBusinessMetrics, withGateway } from '../../lib/ops/metrics-jobs.ts';
import { log } from '../../lib/log.ts';

export const handler = () =>
  withGateway('business metrics', async (gatewayUrl) => {
    const { figures } = await collectBusinessMetrics(gatewayUrl);
    log.info('business metrics pushed', { figures });
    return figures;
  });
