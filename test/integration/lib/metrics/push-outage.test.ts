// The gateway goes away under load and comes back empty: requests never fail or wait past the push
// timeout, and once the gateway is back (and the janitor has re-pushed idle slots) the totals are exact.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedContainer } from '../../../support/simulated-container.ts';
import { runWorkload } from '../../../support/workload.ts';
import { familyTotal, gatewayGroups } from '../../../../scripts/support/gateway.ts';
import { PushgatewayProcess, gatewayBinaryAvailable } from '../../../../scripts/servers/pushgateway.ts';
import { freePort } from '../../../../scripts/servers/process.ts';
import { unique } from '../../../support/fixtures.ts';
import { runJanitor } from '../../../../packages/middy-pushgateway/src/janitor.ts';
import { redisSlots } from '../../../support/redis-slots.ts';
import { snapshot } from '../../../../packages/middy-pushgateway/src/exposition.ts';

const redisUrl = process.env.REDIS_URL;
const PUSH_TIMEOUT_MS = 200;
const LEASE_TTL_MS = 1000;

describe.runIf(redisUrl && (gatewayBinaryAvailable() || process.env.CI))('a Pushgateway outage under load', () => {
  let gateway: PushgatewayProcess;
  beforeAll(async () => {
    gateway = new PushgatewayProcess(await freePort());
    await gateway.start();
  });
  afterAll(async () => gateway.stop());

  it('fails no request, bounds every latency, and is exact again after recovery', async () => {
    // Prepare
    const functionName = unique('outage');
    const containers: SimulatedContainer[] = [];
    const make = () => {
      const c = new SimulatedContainer({ functionName, gatewayUrl: gateway.url, redisUrl, maxSlots: 16, leaseTtlMs: LEASE_TTL_MS, timeoutMs: PUSH_TIMEOUT_MS });
      containers.push(c);
      return c;
    };
    // Act: the gateway dies 300 ms in and comes back, empty, a second later
    const outage = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await gateway.stop();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await gateway.start();
    })();
    const result = await runWorkload(make, { lanes: 4, invocations: 3000, replaceProbability: 0.005, pauseMs: () => 1 });
    await outage;
    // Every container is gone now; once their leases lapse, the janitor puts the slots' state back.
    await new Promise((resolve) => setTimeout(resolve, LEASE_TTL_MS + 200));
    const slots = redisSlots(redisUrl!, 100);
    const report = await runJanitor({
      gatewayUrl: gateway.url,
      slots,
      staleAfterSeconds: 3600,
      families: (await snapshot(containers[0]!.registry)).families,
      onlyFunction: functionName,
    });
    slots.close();

    // Assess
    const failures = containers.reduce((sum, c) => sum + c.pusher.status().failures, 0);
    const overflowed = containers.filter((c) => c.pusher.status().instance?.includes('overflow')).length;
    const slowest = Math.max(...result.latenciesMs);
    console.log(`outage: ${result.invocations} invocations, ${failures} failed pushes, slowest invocation ${slowest.toFixed(1)} ms, janitor healed ${report.healed.length} slots`);
    expect(failures).toBeGreaterThan(0); // the outage really happened under load
    expect(overflowed).toBe(0); // overflow groups live only on the gateway: this scenario must not need them
    expect(slowest).toBeLessThan(PUSH_TIMEOUT_MS + 150); // the push deadline, plus Redis and the work itself
    const groups = await gatewayGroups(gateway.url, functionName);
    expect(familyTotal(groups, 'http_requests_total')).toBe(result.invocations);
    expect(familyTotal(groups, 'orders_created_total')).toBe(result.orders);
    expect(familyTotal(groups, 'revenue_total')).toBe(result.revenue);
  });
});
