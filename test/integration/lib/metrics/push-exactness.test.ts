// Fleet totals through a real Pushgateway: our slotted pusher against the two naive designs, side by side.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NaiveContainer, SimulatedContainer, type NaiveMode } from '../../../support/simulated-container.ts';
import { runWorkload, type WorkloadResult } from '../../../support/workload.ts';
import { familyTotal, gatewayGroups } from '../../../../scripts/support/gateway.ts';
import { unique } from '../../../support/fixtures.ts';
import { PushgatewayProcess, gatewayBinaryAvailable } from '../../../../scripts/servers/pushgateway.ts';
import { freePort } from '../../../../scripts/servers/process.ts';
import { runJanitor } from '../../../../packages/middy-pushgateway/src/janitor.ts';
import { redisSlots } from '../../../support/redis-slots.ts';
import { snapshot } from '../../../../packages/middy-pushgateway/src/exposition.ts';

const redisUrl = process.env.REDIS_URL;
let gatewayUrl: string | undefined;
const WORKLOAD = { lanes: 8, invocations: 5000, replaceProbability: 0.005 };

interface Row {
  design: string;
  served: number;
  onGateway: number;
  orders: string;
  revenue: string;
  groups: number;
  containers: number;
}
const rows: Row[] = [];

async function measure(design: string, functionName: string, result: WorkloadResult): Promise<Row> {
  const groups = await gatewayGroups(gatewayUrl!, functionName);
  const row = {
    design,
    served: result.invocations,
    onGateway: familyTotal(groups, 'http_requests_total'),
    orders: `${familyTotal(groups, 'orders_created_total')}/${result.orders}`,
    revenue: `${familyTotal(groups, 'revenue_total')}/${result.revenue}`,
    groups: groups.length,
    containers: result.containers,
  };
  rows.push(row);
  return row;
}

describe.runIf(redisUrl && (gatewayBinaryAvailable() || process.env.CI))('fleet totals through the Pushgateway under concurrency and churn', () => {
  let gateway: PushgatewayProcess;
  beforeAll(async () => {
    gateway = new PushgatewayProcess(await freePort());
    await gateway.start();
    gatewayUrl = gateway.url;
  });
  afterAll(async () => {
    await gateway.stop();
    console.log(`\n${WORKLOAD.lanes} concurrent containers, ${WORKLOAD.invocations} invocations, replacement probability ${WORKLOAD.replaceProbability} per invocation`);
    console.table(rows);
  });

  it('keeps http_requests_total, orders_created_total and revenue_total exact with leased slots', async () => {
    // Prepare
    const functionName = unique('exact');
    let failures = 0;
    let deferred = 0;
    const containers: SimulatedContainer[] = [];
    // Act
    const result = await runWorkload(() => {
      const c = new SimulatedContainer({ functionName, gatewayUrl: gatewayUrl!, redisUrl, maxSlots: 16, leaseTtlMs: 1000, timeoutMs: 1000, pushIntervalMs: 250 });
      containers.push(c);
      return c;
    }, WORKLOAD);
    for (const c of containers) {
      failures += c.pusher.status().failures;
      deferred += c.pusher.status().deferred;
    }
    // Quiescence: every container is gone. Their last invocations were stored in Redis but, within the push
    // interval, not sent (and a last push may have timed out on this busy machine): the janitor puts the
    // stored state on the gateway once the leases have lapsed.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const slots = redisSlots(redisUrl!, 1000);
    await runJanitor({ gatewayUrl: gatewayUrl!, slots, staleAfterSeconds: 3600, families: (await snapshot(containers[0]!.registry)).families, onlyFunction: functionName });
    slots.close();
    // Assess
    const row = await measure('leased slots (ours)', functionName, result);
    expect(result.invocations).toBeGreaterThanOrEqual(5000);
    expect(result.containers).toBeGreaterThan(WORKLOAD.lanes); // containers really were replaced
    console.log(`leased slots: ${deferred} invocations stored in Redis without a gateway POST (push interval), ${failures} pushes failed or timed out on the way (healed by the next push or the janitor)`);
    expect(row.onGateway).toBe(result.invocations);
    expect(familyTotal(await gatewayGroups(gatewayUrl!, functionName), 'orders_created_total')).toBe(result.orders);
    expect(familyTotal(await gatewayGroups(gatewayUrl!, functionName), 'revenue_total')).toBe(result.revenue);
    expect(row.groups).toBeLessThanOrEqual(16 + result.containers); // slots, plus overflow groups if any
  });

  it.each<[NaiveMode, string]>([
    ['shared-group', 'naive: one group, pushAdd'],
    ['group-per-container', 'naive: pushAdd, a group per container'],
  ])('shows what the naive design %s does with the same workload', async (mode, design) => {
    const functionName = unique(mode);
    const result = await runWorkload(() => new NaiveContainer(functionName, gatewayUrl!, mode), WORKLOAD);
    const row = await measure(design, functionName, result);
    if (mode === 'shared-group') {
      // Each container's push replaces the others' values: most of the fleet's requests vanish.
      expect(row.onGateway).toBeLessThan(result.invocations);
    } else {
      // The sum holds, but every container leaves a group behind: series churn without bound.
      expect(row.groups).toBeGreaterThanOrEqual(result.containers - WORKLOAD.lanes); // a lane's last replacement may serve nothing
    }
  });
});
