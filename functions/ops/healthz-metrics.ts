import { api } from '../../lib/http/api.ts';
import { ok } from '../../lib/http/responses.ts';
import { metricsSummary } from '../../lib/ops/metrics-summary.ts';

export const handler = api(async () => ok(await metricsSummary(), { 'Cache-Control': 'no-store' }), { route: 'GET /healthz/metrics' });
