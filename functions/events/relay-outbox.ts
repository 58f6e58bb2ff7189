// Scheduled (serverless.yml): publishes the outbox's due events to EventBridge, failed ones again with backoff.
import { relayOutbox } from '../../lib/shop/outbox.ts';
import { pushMetrics } from '../../lib/metrics/container.ts';
import { log } from '../../lib/log.ts';
import type { Context } from 'aws-lambda';

export const handler = async (_event: unknown, context: Context) => {
  try {
    const report = await relayOutbox();
    log.info('outbox relayed', { ...report });
    return report;
  } finally {
    // Not an api() route, so no hook pushes for it: its delivery counts and backlog gauges go from here.
    await pushMetrics(context.awsRequestId);
  }
};
