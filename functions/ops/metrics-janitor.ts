// Scheduled (serverless.yml): deletes stale Pushgateway groups and heals slots whose values drifted.
import { cleanGateway, withGateway } from '../../lib/ops/metrics-jobs.ts';
import { log } from '../../lib/log.ts';

export const handler = () =>
  withGateway('metrics janitor', async (gatewayUrl) => {
    const report = await cleanGateway(gatewayUrl);
    log.info('metrics janitor done', { deleted: report.deleted.length, healed: report.healed.length });
    return report;
  });
