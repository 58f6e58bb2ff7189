// Exact fleet totals, run the way users run the shop: serverless-offline with its worker containers and the
// scheduled janitor and collector as deployed, real Postgres, Redis and Pushgateway of this suite's own, and
// traffic over HTTP on every route. After each phase, and a quiet period of at most the lease TTL plus two
// janitor periods, every counter series the client can know (http_requests_total per method, route and
// status, the histogram's _count, function_invocations_total, every business counter) sums on the gateway to
// exactly what was answered. While the faults last, the gateway is sampled: no route's requests and no business
// counter that counts requests is ever above what was answered (plus what was in flight at the time).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { startOffline, type Offline } from '../../scripts/load/offline.ts';
import { runTraffic, type TrafficReport } from '../../scripts/traffic/generator.ts';
import { parseSeriesKey, seriesKey } from '../../packages/middy-pushgateway/src/exposition.ts';
import { config } from '../../lib/config.ts';
import { freePort, requireBinaries } from '../../scripts/servers/process.ts';
import { gatewayBinaryAvailable, PushgatewayProcess } from '../../scripts/servers/pushgateway.ts';
import { PostgresProcess, postgresBin } from '../../scripts/servers/postgres.ts';
import { RedisProcess, redisAvailable } from '../../scripts/servers/redis.ts';
import { gatewayTotals, type GatewayTotals } from '../support/gateway-totals.ts';

// Lowered for the test (60 s each by default), but not below what one janitor run takes here: with a hundred
// groups on a gateway that shares 2 cores with 100-odd workers, several seconds.
const LEASE_TTL_MS = 4000;
const JANITOR_PERIOD_MS = 10_000;
// Quiet long enough for an idle holder's lease to lapse and the janitor to run twice after it.
const QUIET_BOUND_MS = LEASE_TTL_MS + 2 * JANITOR_PERIOD_MS;
// The cold burst: 32 clients at once. The fault phases send fewer, so that the containers the burst started
// serve them (serverless-offline starts a worker per concurrent request, and each stays).
const BURST_CONCURRENCY = 32;
const FAULT_CONCURRENCY = 8;
const SERVICE = 'serverless-shop';
const STAGE = 'dev';

const bin = postgresBin();
const servers = requireBinaries(bin !== undefined && redisAvailable() && gatewayBinaryAvailable(), 'postgres, redis-server and prometheus-pushgateway');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The function serving each route, as serverless.yml declares it (and so the group's `function` label). */
function functionsByRoute(): Map<string, string> {
  const manifest = parse(readFileSync(path.resolve(import.meta.dirname, '../../serverless.yml'), 'utf8')) as {
    functions: Record<string, { events?: { httpApi?: string }[] }>;
  };
  const routes = new Map<string, string>();
  for (const [key, fn] of Object.entries(manifest.functions)) {
    for (const event of fn.events ?? []) {
      if (event.httpApi) routes.set(event.httpApi === '*' ? 'ANY $default' : event.httpApi, `${SERVICE}-${STAGE}-${key}`);
    }
  }
  return routes;
}

/** Everything answered so far, as the shop's counters should have counted it. */
class Truth {
  readonly series = new Map<string, number>();
  private readonly routes = functionsByRoute();

  add(report: TrafficReport): void {
    for (const [answer, n] of Object.entries(report.answered)) {
      const [method, route, status] = answer.split(' ') as [string, string, string];
      const fn = this.routes.get(`${method} ${route}`);
      if (!fn) throw new Error(`no function serves ${method} ${route}`);
      const labels = { function: fn, method, route, status_code: status };
      this.inc(seriesKey('http_requests_total', labels), n);
      this.inc(seriesKey('http_request_duration_seconds_count', labels), n);
      this.inc(seriesKey('function_invocations_total', { function: fn, outcome: Number(status) >= 500 ? 'error' : 'success' }), n);
    }
    for (const [key, n] of Object.entries(report.counted)) this.inc(key, n);
  }

  private inc(key: string, n: number): void {
    this.series.set(key, (this.series.get(key) ?? 0) + n);
  }
}

const HTTP_FAMILIES = ['http_requests_total', 'http_request_duration_seconds_count', 'function_invocations_total'];
const BUSINESS_FAMILIES = ['orders_created_total', 'revenue_total', 'order_status_transitions_total', 'product_views_total', 'user_registrations_total', 'user_logins_total'];

/**
 * The checked series on the gateway, keyed like the truth: the HTTP families per function; business counters
 * summed over functions (any function may count them: a login counts a success, an order its revenue).
 */
function checked(totals: GatewayTotals, routes: Set<string>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, value] of totals.sums) {
    const { metricName, labels } = parseSeriesKey(key);
    let as: string | undefined;
    if (HTTP_FAMILIES.includes(metricName) && routes.has(labels.function!)) as = key;
    if (BUSINESS_FAMILIES.includes(metricName)) {
      const { function: _fn, ...rest } = labels;
      as = seriesKey(metricName, rest);
    }
    if (as) out.set(as, (out.get(as) ?? 0) + value);
  }
  return out;
}

/** Series whose gateway value differs from the truth (zeros on either side count as absent). */
function differences(onGateway: Map<string, number>, truth: Map<string, number>): string[] {
  const keys = new Set([...onGateway.keys(), ...truth.keys()]);
  return [...keys].filter((k) => (onGateway.get(k) ?? 0) !== (truth.get(k) ?? 0)).map((k) => `${k}: gateway ${onGateway.get(k) ?? 0}, answered ${truth.get(k) ?? 0}`);
}

describe.runIf(servers)('fleet totals through serverless-offline, under bursts, gateway restarts and faults', () => {
  let postgres: PostgresProcess;
  let redis: RedisProcess;
  let gateway: PushgatewayProcess;
  let offline: Offline;
  const truth = new Truth();
  const httpFunctions = new Set(functionsByRoute().values());
  const phases: string[] = [];
  const logFile = path.join(os.tmpdir(), 'serverless-shop-exactness-offline.log');

  beforeAll(async () => {
    postgres = await PostgresProcess.create(bin!);
    const { prepareDatabase } = await import('../../lib/db/prepare.ts');
    await prepareDatabase(postgres.url);
    redis = await RedisProcess.create({ appendOnly: true });
    gateway = new PushgatewayProcess(await freePort());
    await gateway.start();
    writeFileSync(logFile, '');
    const port = await freePort();
    offline = await startOffline(
      port,
      {
        ...process.env,
        DATABASE_URL: postgres.url,
        REDIS_URL: redis.url,
        PUSHGATEWAY_URL: gateway.url,
        METRICS_LEASE_TTL_MS: String(LEASE_TTL_MS),
        // Seconds first, year last: a cron only serverless-offline takes (serverless.yml).
        METRICS_JOBS_SCHEDULE: `cron(*/${JANITOR_PERIOD_MS / 1000} * * * * * *)`,
        SERVERLESS_CONFIG_VALIDATION: 'warn',
        FUNCTION_TIMEOUT_SECONDS: '60',
        // serverless-offline starts a worker per concurrent request (it does not enforce reservedConcurrency):
        // slots for every one of a burst's 32, and small pools, so that 50-odd workers fit Postgres.
        METRICS_SLOTS: '40',
        DB_POOL_MAX: '2',
        METRICS_STALE_AFTER_SECONDS: '3600',
        METRICS_PUSH_INTERVAL_MS: '1000',
        PUSH_TIMEOUT_MS: '2000',
        ADMIN_EMAIL: config.seed.adminEmail,
        ADMIN_PASSWORD: config.seed.adminPassword,
        EVENT_BUS_NAME: '',
        LOG_LEVEL: 'warn',
        // Its own bundles: the e2e project's serverless-offline may be serving from the default folder.
        ESBUILD_WORK_FOLDER: '.esbuild-exactness',
      },
      logFile,
    );
  }, 240_000);

  afterAll(async () => {
    await offline?.stop();
    gateway?.resume();
    await gateway?.stop();
    await redis?.destroy();
    await postgres?.destroy();
    console.log(`exactness phases (serverless-offline output in ${logFile}):\n${phases.join('\n')}`);
  });

  /**
   * Runs traffic while `fault` does its worst, sampling the gateway: no route ever holds more than was answered
   * plus what was in flight. Then waits, quiet, until the gateway holds exactly what was answered.
   */
  async function phase(name: string, options: { durationMs?: number; rps?: number; concurrency?: number; fault?: Fault } = {}) {
    const admin = { email: config.seed.adminEmail!, password: config.seed.adminPassword! };
    let live: TrafficReport | undefined;
    const above: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await sleep(500);
        const totals = await gatewayTotals(gateway.url).catch(() => undefined); // hung or restarting
        if (!totals || !live) continue;
        // Read after the gateway: a request counted there was answered by now, or is still in flight.
        const bound = new Map<string, number>();
        for (const [answer, n] of Object.entries(live.answered)) {
          const route = answer.slice(0, answer.lastIndexOf(' '));
          bound.set(route, (bound.get(route) ?? 0) + n);
        }
        for (const [route, n] of Object.entries(live.inFlight)) bound.set(route, (bound.get(route) ?? 0) + n);
        const before = truthByRoute(truth.series);
        const onGateway = new Map<string, number>();
        for (const [key, value] of totals.sums) {
          const { metricName, labels } = parseSeriesKey(key);
          if (metricName !== 'http_requests_total' || !httpFunctions.has(labels.function!)) continue;
          const route = `${labels.method} ${labels.route}`;
          onGateway.set(route, (onGateway.get(route) ?? 0) + value);
        }
        for (const [route, n] of onGateway) {
          const most = (before.get(route) ?? 0) + (bound.get(route) ?? 0);
          if (n > most) above.push(`${route}: gateway ${n} > answered and in flight ${most}`);
        }
        // Business counters that count whole requests: at most what was answered plus their route in flight.
        for (const [family, route] of Object.entries(COUNTED_BY)) {
          const shown = familyTotal(totals.sums, family);
          const most = familyTotal(truth.series, family) + familyTotal(new Map(Object.entries(live.counted)), family) + (live.inFlight[route] ?? 0);
          if (shown > most) above.push(`${family}: gateway ${shown} > answered and in flight ${most}`);
        }
      }
    })();
    const started = Date.now();
    let mixStarted!: () => void;
    const mixing = new Promise<void>((resolve) => (mixStarted = resolve));
    const traffic = runTraffic({
      baseUrl: offline.url,
      durationMs: options.durationMs ?? 10_000,
      rps: options.rps ?? 60,
      concurrency: options.concurrency ?? FAULT_CONCURRENCY,
      admin,
      requestTimeoutMs: 70_000,
      onStart: (r) => {
        live = r;
        mixStarted();
      },
    });
    // The fault's clock starts with the mix, not with the client's own set-up (a login, the catalogue).
    await Promise.race([mixing, traffic]);
    if (options.fault) {
      await sleep(2000);
      await options.fault.inject();
      await sleep(options.fault.downMs);
      await options.fault.repair();
    }
    const report = await traffic;
    sampling = false;
    await sampler;
    truth.add(report);
    const answeredAt = Date.now();
    // Quiet: poll until exact, for at most the bound.
    let last: string[] = [];
    let exactAfterMs: number | undefined;
    let totals: GatewayTotals | undefined;
    while (Date.now() - answeredAt <= QUIET_BOUND_MS) {
      totals = await gatewayTotals(gateway.url);
      last = differences(checked(totals, httpFunctions), truth.series);
      if (last.length === 0) {
        exactAfterMs = Date.now() - answeredAt;
        break;
      }
      await sleep(250);
    }
    const requests = Object.values(report.answered).reduce((a, b) => a + b, 0);
    const statuses = Object.entries(report.answered).filter(([k]) => /\s5\d\d$/.test(k)).reduce((a, [, n]) => a + n, 0);
    const groups = [...(totals?.groups ?? new Map())].filter(([fn]) => httpFunctions.has(fn));
    const slots = groups.reduce((a, [, g]) => a + g.slots, 0);
    const overflow = groups.reduce((a, [, g]) => a + g.overflow, 0);
    const answeredSeries = [...truth.series.values()].reduce((a, b) => a + b, 0);
    phases.push(
      `${name}: ${requests} answered in ${((answeredAt - started) / 1000).toFixed(1)} s (${statuses} × 5xx, ${report.unexpectedCount} unexpected), ` +
        `${exactAfterMs === undefined ? `NOT exact after ${QUIET_BOUND_MS} ms (${last.length} series differ)` : `exact ${exactAfterMs} ms after the last answer`}, ` +
        `${truth.series.size} series summing to ${answeredSeries}; groups: ${slots} slots, ${overflow} overflow over ${groups.length} functions ` +
        `(most on one function: ${Math.max(0, ...groups.map(([, g]) => g.slots + g.overflow))}); ${above.length} samples above`,
    );
    if (report.unexpectedCount > 0) phases.push(`  unexpected: ${report.unexpected.map((u) => `${u.route} ${u.status} ${u.body.slice(0, 80)}`).join(' | ')}`);
    expect(above, `${name}: the gateway above what was answered`).toEqual([]);
    expect(last, `${name}: series not exact ${QUIET_BOUND_MS} ms after the last answer`).toEqual([]);
    return { totals: totals!, report };
  }

  it('is exact after a cold burst over every route, and every container of the burst gets a slot', async () => {
    const { totals, report } = await phase('cold burst', { durationMs: 10_000, rps: 400, concurrency: BURST_CONCURRENCY });
    for (const route of functionsByRoute().keys()) expect(Object.keys(report.answered).some((a) => a.startsWith(`${route} `)), route).toBe(true);
    const overflowing = [...totals.groups].filter(([fn, g]) => httpFunctions.has(fn) && g.overflow > 0);
    expect(overflowing, 'functions with overflow groups after a burst within their slots').toEqual([]);
  });

  it('is exact again after the gateway restarts empty', async () => {
    await gateway.stop();
    await gateway.start();
    await phase('gateway restarted empty', { durationMs: 4000 });
  });

  it('never counts above what was answered while the gateway hangs past the push deadline, and is exact after', async () => {
    await phase('gateway hung', { fault: { inject: () => gateway.pause(), downMs: 4000, repair: () => gateway.resume() } });
  });

  it('never counts above what was answered while Redis is killed and restarted, and is exact after', async () => {
    await phase('Redis killed and restarted', { fault: { inject: () => redis.kill(), downMs: 3000, repair: () => redis.start() } });
  });

  it('never counts above what was answered while Postgres stops and starts, and is exact after', async () => {
    await phase('Postgres stopped and started', { fault: { inject: () => postgres.stop(), downMs: 4000, repair: () => postgres.start() } });
  });
});

/** Two seconds into a phase's traffic something breaks, and `downMs` later it is repaired. */
interface Fault {
  inject: () => unknown;
  downMs: number;
  repair: () => unknown;
}

/** The route whose every answer a business counter counts once (revenue_total counts amounts: left out). */
const COUNTED_BY: Record<string, string> = {
  orders_created_total: 'POST /api/orders',
  product_views_total: 'GET /api/products/{id}',
  user_registrations_total: 'POST /api/users/register',
  user_logins_total: 'POST /api/users/login',
  order_status_transitions_total: 'PATCH /api/orders/{id}/status',
};

function familyTotal(series: Map<string, number>, family: string): number {
  let total = 0;
  for (const [key, n] of series) if (parseSeriesKey(key).metricName === family) total += n;
  return total;
}

function truthByRoute(series: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, n] of series) {
    const { metricName, labels } = parseSeriesKey(key);
    if (metricName !== 'http_requests_total') continue;
    const route = `${labels.method} ${labels.route}`;
    out.set(route, (out.get(route) ?? 0) + n);
  }
  return out;
}
