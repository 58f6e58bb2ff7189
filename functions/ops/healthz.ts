import { api } from '../../lib/http/api.ts';
import { json } from '../../lib/http/responses.ts';
import { checkHealth } from '../../lib/ops/health.ts';

export const handler = api(
  async () => {
    const health = await checkHealth();
    return json(health.status === 'down' ? 503 : 200, health, { 'Cache-Control': 'no-store' });
  },
  { route: 'GET /healthz' },
);
