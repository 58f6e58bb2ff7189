// What ops will query: a real Prometheus scraping the gateway (honor_labels: true, 1 s scrapes) sees
// sum(increase(http_requests_total[window])) within 2% of the requests really served.
// Measured in steady state, as a deployed function runs: every slot has been used before the window opens.
// (A group's first use is the one case increase() cannot see whole: Prometheus may first scrape it after
// more than the zeros it was given.)
import { describe, expect, it } from 'vitest';
import { SimulatedContainer } from '../../../support/simulated-container.ts';
import { runWorkload } from '../../../support/workload.ts';
import { unique } from '../../../support/fixtures.ts';
import { runJanitor } from '../../../../packages/middy-pushgateway/src/janitor.ts';
import { redisSlots } from '../../../support/redis-slots.ts';
import { snapshot } from '../../../../packages/middy-pushgateway/src/exposition.ts';

const { PROMETHEUS_URL: prometheusUrl, PUSHGATEWAY_URL: gatewayUrl, REDIS_URL: redisUrl } = process.env;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Times (seconds) at which Prometheus scraped the gateway in the last `seconds`. */
async function scrapeTimes(seconds: number): Promise<number[]> {
  const url = new URL('/api/v1/query', prometheusUrl);
  url.searchParams.set('query', `up{job="pushgateway"}[${seconds}s]`);
  const body = (await (await fetch(url)).json()) as { data: { result: { values: [number, string][] }[] } };
  return (body.data.result[0]?.values ?? []).map(([t]) => t);
}

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
    const make = () => new SimulatedContainer({ functionName, gatewayUrl: gatewayUrl!, redisUrl, maxSlots: 16, leaseTtlMs: 2000, timeoutMs: 1000, pushIntervalMs: 1000 });
    const warmers = Array.from({ length: 16 }, make);
    for (const [n, c] of warmers.entries()) await c.invoke(n, 100); // each takes its own slot
    for (const c of warmers) c.abandon();
    await sleep(3000); // their leases lapse, and Prometheus scrapes every slot at least twice
    const trafficStarts = Date.now() / 1000;
    // Act: about ten seconds of traffic from four containers, some replaced on the way
    const result = await runWorkload(make, { lanes: 4, invocations: 2000, replaceProbability: 0.004, pauseMs: () => 15 + Math.random() * 10 });
    // As deployed: the last second of each slot was stored in Redis, not sent; once the leases lapse, the
    // janitor puts it on the gateway.
    await sleep(2500);
    const slots = redisSlots(redisUrl!, 1000);
    await runJanitor({ gatewayUrl: gatewayUrl!, slots, staleAfterSeconds: 3600, families: (await snapshot(warmers[0]!.registry)).families, onlyFunction: functionName });
    slots.close();
    await sleep(3000); // at least two scrapes after the last push
    // The window runs from the last scrape before the traffic to the last scrape after it. increase()
    // scales what it sees by window / sampled span; with scrapes on both edges that factor is 1, and what is
    // left is the difference between the two scrapes: the requests served.
    const times = await scrapeTimes(Math.ceil(Date.now() / 1000 - trafficStarts) + 5);
    const from = Math.max(...times.filter((t) => t < trafficStarts));
    const to = Math.max(...times);
    const windowMs = Math.round((to - from) * 1000);
    const seen = await instant(`sum(increase(http_requests_total{function="${functionName}"}[${windowMs}ms]))`, to);
    // Assess
    console.log(`prometheus: served ${result.invocations}, sum(increase(...[${windowMs}ms])) = ${seen.toFixed(1)} (${((seen / result.invocations - 1) * 100).toFixed(2)}%)`);
    expect(Math.abs(seen - result.invocations) / result.invocations).toBeLessThanOrEqual(0.02);
  });
});
