// Redis stops under load of the real handlers and comes back (with its data, as a restarted Redis with
// persistence does). Requests keep their answers, the catalogue comes from Postgres and the cache errors are
// counted; each container keeps its push slot while its lease is valid by its own clock, then pushes to an
// overflow group; with Redis back, the same containers hit the cache again and claim slots again, and after
// the janitor the gateway's totals are exact.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countByStatus, faultUnderLoad, FunctionContainer, loadPlans, percentile, sleep, type Reply } from '../../support/function-container.ts';
import { PushgatewayProcess, gatewayBinaryAvailable } from '../../../scripts/servers/pushgateway.ts';
import { freePort, requireBinaries } from '../../../scripts/servers/process.ts';
import { RedisProcess, redisAvailable } from '../../../scripts/servers/redis.ts';
import { familyTotal, gatewayGroups } from '../../../scripts/support/gateway.ts';
import { aProduct, unique } from '../../support/fixtures.ts';

const LEASE_TTL_MS = 2000; // valid by the holder's clock for 1 s after each renewal (slots.ts keeps a 1 s margin)
const CONTAINERS = 3;
// A container in an overflow group tries for a slot again every 5 s (packages/middy-pushgateway/src/pusher.ts): recovery must outlast that.
const RECLAIM_MS = 5000;

const servers = requireBinaries(gatewayBinaryAvailable() && redisAvailable(), 'prometheus-pushgateway and redis-server');

describe.runIf(servers)('Redis down under load', () => {
  let redis: RedisProcess;
  let gateway: PushgatewayProcess;
  beforeAll(async () => {
    redis = await RedisProcess.create();
    gateway = new PushgatewayProcess(await freePort());
    await gateway.start();
  });
  afterAll(async () => {
    await gateway?.stop();
    await redis?.destroy();
  });

  it('serves from Postgres, counts cache errors, overflows past the lease, and resumes cache and slots without a restart', async () => {
    // Prepare
    const functionName = unique('faults-redis');
    const product = await aProduct({ stock: 1_000_000 });
    const containers = Array.from({ length: CONTAINERS }, () =>
      new FunctionContainer({
        DATABASE_URL: process.env.DATABASE_URL!,
        REDIS_URL: redis.url,
        PUSHGATEWAY_URL: gateway.url,
        AWS_LAMBDA_FUNCTION_NAME: functionName,
        METRICS_LEASE_TTL_MS: String(LEASE_TTL_MS),
        METRICS_PUSH_INTERVAL_MS: '1000',
        LOG_LEVEL: 'warn',
      }),
    );
    try {
      const load = await loadPlans(containers, product.id);
      const targets = () => Promise.all(containers.map(async (c) => (await c.pushStatus())?.target));
      let rightAfterStop: (string | undefined)[] = [];
      let endOfOutage: (string | undefined)[] = [];
      let health: Reply | undefined;
      let slotsAgainAfterMs = Number.NaN;

      // Act: Redis stops for 3 s (three lease validities), then comes back with its data
      const timeline = await faultUnderLoad(load, {
        warmMs: 1500,
        inject: async () => {
          await redis.stop();
          rightAfterStop = await targets();
        },
        faultMs: 3000,
        duringFault: async () => {
          health = await containers[0]!.call('GET /healthz');
          await sleep(2800);
          endOfOutage = await targets();
        },
        repair: () => redis.start(),
        recoveryMs: RECLAIM_MS + 1500,
        duringRecovery: async () => {
          const back = Date.now();
          while (Date.now() - back < RECLAIM_MS + 1400) {
            if ((await targets()).every((t) => t === 'slot')) {
              slotsAgainAfterMs = Date.now() - back;
              return;
            }
            await sleep(50);
          }
        },
      });
      const finalTargets = await targets();
      const cacheErrors = (await Promise.all(containers.map((c) => c.metric('cache_operations_total'))))
        .flat()
        .filter((v) => v.labels.result === 'error')
        .reduce((sum, v) => sum + v.value, 0);
      const overflows = (await Promise.all(containers.map((c) => c.metric('metrics_slot_overflow_total')))).flat().reduce((sum, v) => sum + v.value, 0);
      await sleep(LEASE_TTL_MS + 300);
      const janitor = await containers[0]!.janitor();
      const served = await Promise.all(containers.map((c) => c.served()));
      const groups = await gatewayGroups(gateway.url, functionName);

      // Assess
      const { records, brokenAt, repairedAt } = timeline;
      const during = records.filter((r) => r.at >= brokenAt && r.at < repairedAt);
      const productReads = (from: number, to: number) => records.filter((r) => r.route === 'GET /api/products/{id}' && r.at >= from && r.at < to);
      const hitsAfter = productReads(repairedAt, Infinity).filter((r) => r.cache === 'HIT');
      const invocations = served.reduce((sum, s) => sum + s.invocations, 0);
      const ordersCreated = served.reduce((sum, s) => sum + s.ordersCreated, 0);
      console.log(
        `redis down: ${records.length} requests under load (${during.length} during the outage) ${JSON.stringify(countByStatus(records))}, ` +
          `latency during the outage p50 ${percentile(during, 0.5)} / max ${percentile(during, 1)} ms, ${cacheErrors} cache errors, ` +
          `push targets right after the stop ${rightAfterStop}, at the end of the outage ${endOfOutage}, ${overflows} overflows, ` +
          `slots again ${slotsAgainAfterMs} ms after Redis was back, ${hitsAfter.length} cache hits after it, janitor healed ${janitor.healed.length} groups; ` +
          `served ${invocations} invocations / ${ordersCreated} orders, gateway ${familyTotal(groups, 'http_requests_total')} / ${familyTotal(groups, 'orders_created_total')}`,
      );
      expect(records.every((r) => r.status === 200 || r.status === 201)).toBe(true);
      const outageReads = productReads(brokenAt + 100, repairedAt);
      expect(outageReads.length).toBeGreaterThan(0);
      expect(outageReads.every((r) => r.cache === 'MISS')).toBe(true); // from Postgres
      expect(cacheErrors).toBeGreaterThan(0);
      expect(health?.status).toBe(200);
      expect(JSON.parse(health!.body)).toMatchObject({ status: 'degraded', checks: { database: { ok: true }, cache: { ok: false } } });
      expect(rightAfterStop).toEqual(containers.map(() => 'slot')); // the lease is still valid by our clock
      expect(endOfOutage).toEqual(containers.map(() => 'overflow')); // ... and then it is not
      expect(overflows).toBeGreaterThanOrEqual(CONTAINERS);
      expect(hitsAfter.length).toBeGreaterThan(0);
      expect(finalTargets).toEqual(containers.map(() => 'slot')); // new claims, same containers
      expect(familyTotal(groups, 'http_requests_total')).toBe(invocations);
      expect(familyTotal(groups, 'orders_created_total')).toBe(ordersCreated);
    } finally {
      await Promise.all(containers.map((c) => c.terminate()));
    }
  });
});
