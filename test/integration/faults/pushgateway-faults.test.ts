// The Pushgateway fails under load of the real handlers, in containers with the deployed push settings (one
// POST per slot per second, values in Redis every invocation): first a gateway that is down (connections
// refused), then one that accepts connections and never answers. Neither may fail a request or hold one past
// the push deadline, and once the gateway is back, empty, and the janitor has run, its totals are exact.
// (lib/metrics/push-outage.test.ts covers the kill-and-restart case with simulated pushers.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countByStatus, faultUnderLoad, FunctionContainer, loadPlans, percentile, sleep, type LoadRecord } from '../../support/function-container.ts';
import { PushgatewayProcess, gatewayBinaryAvailable } from '../../../scripts/servers/pushgateway.ts';
import { freePort, requireBinaries } from '../../../scripts/servers/process.ts';
import { RedisProcess, redisAvailable } from '../../../scripts/servers/redis.ts';
import { SilentServer } from '../../../scripts/servers/silent.ts';
import { familyTotal, gatewayGroups } from '../../../scripts/support/gateway.ts';
import { aProduct, unique } from '../../support/fixtures.ts';

const PUSH_TIMEOUT_MS = 200;
const LEASE_TTL_MS = 2000;
const CONTAINERS = 3;
// A fault may add the push deadline to a request, no more. The bound is the deadline, 300 ms for the work,
// and the slowest request before the fault: on two busy cores a request can stall that long with no fault at
// all. A push that waited for the gateway instead (the fault lasts 2 s) is still far above it.
const latencyBound = (slowestBefore: number) => Math.round(PUSH_TIMEOUT_MS + 300 + slowestBefore);

const servers = requireBinaries(gatewayBinaryAvailable() && redisAvailable(), 'prometheus-pushgateway and redis-server');

describe.runIf(servers)('Pushgateway faults under load', () => {
  let redis: RedisProcess;
  let productId: number;
  beforeAll(async () => {
    redis = await RedisProcess.create(); // the janitor scans every stored slot: ours alone
    productId = (await aProduct({ stock: 1_000_000 })).id;
  });
  afterAll(async () => redis?.destroy());

  /** Runs the load across a gateway fault; answers what the assertions need. */
  async function gatewayFault(gateway: PushgatewayProcess, inject: () => Promise<void>, repair: () => Promise<void>) {
    const functionName = unique('faults-gateway');
    const containers = Array.from({ length: CONTAINERS }, () =>
      new FunctionContainer({
        DATABASE_URL: process.env.DATABASE_URL!,
        REDIS_URL: redis.url,
        PUSHGATEWAY_URL: gateway.url,
        AWS_LAMBDA_FUNCTION_NAME: functionName,
        PUSH_TIMEOUT_MS: String(PUSH_TIMEOUT_MS),
        METRICS_LEASE_TTL_MS: String(LEASE_TTL_MS),
        METRICS_PUSH_INTERVAL_MS: '1000',
        LOG_LEVEL: 'warn',
      }),
    );
    try {
      const load = await loadPlans(containers, productId);
      let recoveredAfterMs = Number.NaN;
      const timeline = await faultUnderLoad(load, {
        warmMs: 1500,
        inject,
        faultMs: 2000,
        repair,
        recoveryMs: 1500,
        // Recovery: every container's latest push went through again.
        duringRecovery: async () => {
          const repaired = Date.now();
          for (let i = 0; i < 100; i++) {
            const states = await Promise.all(containers.map((c) => c.pushStatus()));
            if (states.every((s) => s?.lastPushOk)) {
              recoveredAfterMs = Date.now() - repaired;
              return;
            }
            await sleep(20);
          }
        },
      });
      // The containers go idle; once their leases lapse, the scheduled janitor puts every slot's stored values up.
      await sleep(LEASE_TTL_MS + 300);
      const janitor = await containers[0]!.janitor();
      const served = await Promise.all(containers.map((c) => c.served()));
      const states = await Promise.all(containers.map((c) => c.pushStatus()));
      const failureCounters = await Promise.all(containers.map((c) => c.metric('metrics_push_failures_total')));
      const groups = await gatewayGroups(gateway.url, functionName);
      return {
        ...timeline,
        recoveredAfterMs,
        janitor,
        invocations: served.reduce((sum, s) => sum + s.invocations, 0),
        ordersCreated: served.reduce((sum, s) => sum + s.ordersCreated, 0),
        pushFailures: states.reduce((sum, s) => sum + (s?.failures ?? 0), 0),
        failuresCounted: failureCounters.flat().reduce((sum, v) => sum + v.value, 0),
        gatewayRequests: familyTotal(groups, 'http_requests_total'),
        gatewayOrders: familyTotal(groups, 'orders_created_total'),
      };
    } finally {
      await Promise.all(containers.map((c) => c.terminate()));
    }
  }

  /** What both faults must show: no failed request, the deadline held, failures counted, exact totals after recovery. */
  function assess(name: string, outcome: Awaited<ReturnType<typeof gatewayFault>>): void {
    const during = outcome.records.filter((r) => r.at >= outcome.brokenAt && r.at < outcome.repairedAt);
    const before = outcome.records.filter((r) => r.at < outcome.brokenAt);
    const bound = latencyBound(percentile(before, 1));
    const ms = (records: LoadRecord[]) => `p50 ${percentile(records, 0.5)} / p99 ${percentile(records, 0.99)} / max ${percentile(records, 1)} ms`;
    console.log(
      `${name}: ${outcome.records.length} requests under load (${during.length} during the fault) ${JSON.stringify(countByStatus(outcome.records))}, ` +
        `${outcome.pushFailures} failed pushes, latency before the fault ${ms(before)}, during ${ms(during)} (bound ${bound} ms), ` +
        `pushes ok again ${outcome.recoveredAfterMs} ms after the repair, janitor healed ${outcome.janitor.healed.length} groups; ` +
        `served ${outcome.invocations} invocations / ${outcome.ordersCreated} orders, gateway ${outcome.gatewayRequests} / ${outcome.gatewayOrders}`,
    );
    expect(during.length).toBeGreaterThan(0);
    expect(outcome.records.every((r) => r.status === 200 || r.status === 201)).toBe(true);
    expect(percentile(outcome.records, 1)).toBeLessThan(bound);
    expect(outcome.pushFailures).toBeGreaterThan(0);
    expect(outcome.failuresCounted).toBe(outcome.pushFailures); // metrics_push_failures_total says so too
    expect(outcome.recoveredAfterMs).toBeLessThan(1500);
    expect(outcome.gatewayRequests).toBe(outcome.invocations);
    expect(outcome.gatewayOrders).toBe(outcome.ordersCreated);
  }

  it('fails no request while the gateway is down, bounds every latency, and is exact after recovery', async () => {
    // Prepare
    const gateway = new PushgatewayProcess(await freePort());
    await gateway.start();
    try {
      // Act: the gateway process dies (connections refused) and comes back empty
      const outcome = await gatewayFault(gateway, () => gateway.stop(), () => gateway.start());

      // Assess
      assess('gateway down', outcome);
    } finally {
      await gateway.stop();
    }
  });

  it('fails no request while the gateway hangs, holds none past the push deadline, and is exact after recovery', async () => {
    // Prepare
    const gateway = new PushgatewayProcess(await freePort());
    await gateway.start();
    const silent = new SilentServer();
    try {
      // Act: the gateway's port accepts connections and never answers, then a fresh gateway takes it back
      const outcome = await gatewayFault(
        gateway,
        async () => {
          await gateway.stop();
          await silent.listen(gateway.port);
        },
        async () => {
          await silent.close();
          await gateway.start();
        },
      );

      // Assess
      expect(silent.accepted).toBeGreaterThan(0); // pushes really reached the silent server
      assess('gateway hung', outcome);
    } finally {
      await silent.close(); // a second close is a no-op
      await gateway.stop();
    }
  });
});
