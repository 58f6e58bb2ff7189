// What ops will query: a real Prometheus scraping the gateway (honor_labels: true, 1 s scrapes) sees
// sum(increase(http_requests_total[window])) within 2% of the requests really served.
import { describe, expect, it } from 'vitest';
import { SimulatedContainer } from '../../../support/simulated-container.ts';
import { runWorkload } from '../../../support/workload.ts';
import { unique } from '../../../support/fixtures.ts';

const { PROMETHEUS_URL: prometheusUrl, PUSHGATEWAY_URL: gatewayUrl, REDIS_URL: redisUrl } = process.env;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function instant(query: string, time: number): Promise<number> {
  const url = new URL('/api/v1/query', prometheusUrl);
  url.searchParams.set('query', query);
  url.searchParams.set('time', String(time));
  const body = (await (await fetch(url)).json()) as { data: { result: { value: [number, string] }[] } };
  return Number(body.data.result[0]?.value[1] ?? NaN);
}

describe.runIf(prometheusUrl && gatewayUrl && redisUrl)('Prometheus reading the pushed totals', () => {
  it('sees sum(increase(http_requests_total)) within 2% of the requests served', { timeout: 120_000 }, async () => {
    // Prepare
    const functionName = unique('prom');
    const started = Date.now() / 1000;
    // Act: about ten seconds of traffic from four containers, some replaced on the way
    const result = await runWorkload(
      () => new SimulatedContainer({ functionName, gatewayUrl: gatewayUrl!, redisUrl, maxSlots: 8, leaseTtlMs: 2000, timeoutMs: 500 }),
      { lanes: 4, invocations: 2000, replaceProbability: 0.004, pauseMs: () => 15 + Math.random() * 10 },
    );
    await sleep(3000); // at least two scrapes after the last push
    const ended = Date.now() / 1000;
    const window = Math.ceil(ended - started) + 5;
    const seen = await instant(`sum(increase(http_requests_total{function="${functionName}"}[${window}s]))`, ended);
    // Assess
    console.log(`prometheus: served ${result.invocations}, sum(increase(...[${window}s])) = ${seen.toFixed(1)} (${((seen / result.invocations - 1) * 100).toFixed(2)}%)`);
    expect(Math.abs(seen - result.invocations) / result.invocations).toBeLessThanOrEqual(0.02);
  });
});
