import { afterEach, describe, expect, it, vi } from 'vitest';

// config is read once per module graph: the environment is set before a fresh graph is loaded.
async function loadWithoutGateway() {
  vi.stubEnv('PUSHGATEWAY_URL', undefined);
  vi.resetModules();
  return {
    janitor: (await import('../../../functions/ops/metrics-janitor.ts')).handler,
    collector: (await import('../../../functions/ops/collect-business-metrics.ts')).handler,
  };
}

describe('the scheduled metric jobs without a Pushgateway (npm start without PUSHGATEWAY_URL)', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it('skip, saying why, instead of failing every minute', async () => {
    // Prepare
    const { janitor, collector } = await loadWithoutGateway();
    // Act
    const results = await Promise.all([janitor(), collector()]);
    // Assess
    expect(results).toEqual([{ skipped: 'PUSHGATEWAY_URL is not set' }, { skipped: 'PUSHGATEWAY_URL is not set' }]);
  });
});
