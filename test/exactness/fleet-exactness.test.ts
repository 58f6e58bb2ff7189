// Exact fleet totals, run the way users run the shop: serverless-offline with its worker containers and the
// scheduled janitor, collector and flusher as deployed, real Postgres and Redis of this suite's own, and
// traffic over HTTP on every route, once for each way the metrics reach Prometheus (METRICS_DELIVERY):
// - the Pushgateway (a real one of the suite's), summed over its groups;
// - remote write: the containers store in Redis, flushMetrics writes the fleet's sums into a real Prometheus
//   2.42 (--web.enable-remote-write-receiver), queried with PromQL; the janitor retires idle groups.
// After each phase, and a quiet period of at most the lease TTL plus two janitor periods, every counter series
// the client can know (http_requests_total per method, route and status, the histogram's _count,
// function_invocations_total, every business counter) sums to exactly what was answered. While the faults
// last, the totals are sampled: no route's requests and no business counter that counts requests is ever above
// what was answered (plus what was in flight at the time), and through remote write no total ever goes down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { startOffline, type Offline } from '../../scripts/load/offline.ts';
import { runTraffic, type TrafficReport } from '../../scripts/traffic/generator.ts';
import { parseSeriesKey, seriesKey } from '../../packages/middy-pushgateway/src/exposition.ts';
import { config } from '../../lib/config.ts';
import { gatewayBinaryAvailable, PushgatewayProcess } from '../../scripts/servers/pushgateway.ts';
import { freePort, onPath, requireBinaries, ServerProcess } from '../../scripts/servers/process.ts';
import { prometheusLaunch } from '../../scripts/servers/prometheus.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { PostgresProcess, postgresBin } from '../../scripts/servers/postgres.ts';
import { RedisProcess, redisAvailable } from '../../scripts/servers/redis.ts';
import { gatewayTotals, type GatewayTotals } from '../support/gateway-totals.ts';
import { prometheusTotals } from '../support/prometheus-totals.ts';
import { condition, outcome, query, shippedRules } from '../support/monitoring-queries.ts';
import { dashboardQueries } from '../../monitoring/dashboards/index.ts';

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
const servers = requireBinaries(bin !== undefined && redisAvailable() && gatewayBinaryAvailable() && onPath('prometheus'), 'postgres, redis-server, prometheus-pushgateway and prometheus');
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

/**
 * Where the fleet's totals are read, and how the shop is set to deliver them there: the Pushgateway, or a
 * Prometheus that takes remote write. `faults`: the phases that break it (it hangs; it restarts).
 */
interface Sink {
  env: Record<string, string>;
  /** The Prometheus the shop's series reach, when it is this suite's own. */
  prometheusUrl?: string;
  totals(): Promise<GatewayTotals>;
  /** Through remote write, a total that went down would be a counter reset to Prometheus. */
  monotonic: boolean;
  faults: { name: string; fault?: Fault; before?: () => Promise<void> }[];
  stop(): Promise<void>;
}

async function gatewaySink(): Promise<Sink> {
  const gateway = new PushgatewayProcess(await freePort());
  await gateway.start();
  return {
    env: { METRICS_DELIVERY: 'pushgateway', PUSHGATEWAY_URL: gateway.url, METRICS_STALE_AFTER_SECONDS: '3600' },
    totals: () => gatewayTotals(gateway.url),
    monotonic: false,
    faults: [
      { name: 'gateway restarted empty', before: async () => (await gateway.stop(), await gateway.start()) },
      { name: 'gateway hung', fault: { inject: () => gateway.pause(), downMs: 4000, repair: () => gateway.resume() } },
    ],
    async stop() {
      gateway.resume();
      await gateway.stop();
    },
  };
}

// Idle groups are retired this long after their last store: during the suite, so that retiring is under test.
const RETIRE_AFTER_SECONDS = 15;

async function remoteWriteSink(): Promise<Sink> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shop-exactness-prometheus-'));
  const config = path.join(dir, 'prometheus.yml');
  // It only receives; the shipped rules run on what it receives, as they would in production.
  writeFileSync(config, `global:\n  evaluation_interval: 1s\nrule_files:\n  - ${path.resolve(import.meta.dirname, '../../monitoring/rules')}/*.yml\nscrape_configs: []\n`);
  const port = await freePort();
  const launch = prometheusLaunch(port, config, path.join(dir, 'data'), { remoteWriteReceiver: true });
  let prometheus = await ServerProcess.start(launch);
  const url = `http://127.0.0.1:${port}`;
  return {
    env: {
      METRICS_DELIVERY: 'remote-write',
      REMOTE_WRITE_URL: `${url}/api/v1/write`,
      METRICS_STALE_AFTER_SECONDS: String(RETIRE_AFTER_SECONDS),
      // A flush a second, by invocations of 8 s every 10 s (the jobs' schedule).
      METRICS_FLUSH_SCHEDULE: `cron(*/${JANITOR_PERIOD_MS / 1000} * * * * * *)`,
      METRICS_FLUSH_INTERVAL_MS: '1000',
      METRICS_FLUSH_FOR_SECONDS: String(JANITOR_PERIOD_MS / 1000 - 2),
    },
    prometheusUrl: url,
    totals: () => prometheusTotals(url),
    monotonic: true,
    faults: [
      {
        name: 'Prometheus killed and restarted',
        fault: { inject: () => prometheus.kill(), downMs: 4000, repair: async () => void (prometheus = await ServerProcess.start(launch)) },
      },
      { name: 'Prometheus hung', fault: { inject: () => prometheus.signal('SIGSTOP'), downMs: 4000, repair: () => prometheus.signal('SIGCONT') } },
    ],
    async stop() {
      prometheus.signal('SIGCONT');
      await prometheus.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Through the gateway, test/e2e/monitoring-live.test.ts runs the dashboards' and rules' queries against the
// shipped Prometheus config; through remote write, this suite does, on the Prometheus it wrote into.
const SINKS = [
  { path: 'the Pushgateway', start: gatewaySink, queriesChecked: false, faults: ['the gateway restarts empty', 'the gateway hangs past the push deadline'] },
  { path: 'remote write into Prometheus', start: remoteWriteSink, queriesChecked: true, faults: ['Prometheus is killed and restarted', 'Prometheus hangs'] },
];

// Series only a scrape gives (the exporters', the Pushgateway's own): the same whatever the delivery path, and
// checked by monitoring-live.test.ts.
const SCRAPED_ONLY = /\b(up|redis_\w+|pg_\w+|node_\w+|push_failure_time_seconds)\b/;

describe.runIf(servers).each(SINKS)('fleet totals through serverless-offline and $path, under bursts, restarts and faults', ({ start, queriesChecked, faults }) => {
  let postgres: PostgresProcess;
  let redis: RedisProcess;
  let sink: Sink;
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
    sink = await start();
    writeFileSync(logFile, '');
    const port = await freePort();
    offline = await startOffline(
      port,
      {
        ...process.env,
        DATABASE_URL: postgres.url,
        REDIS_URL: redis.url,
        ...sink.env,
        METRICS_LEASE_TTL_MS: String(LEASE_TTL_MS),
        // Seconds first, year last: a cron only serverless-offline takes (serverless.yml).
        METRICS_JOBS_SCHEDULE: `cron(*/${JANITOR_PERIOD_MS / 1000} * * * * * *)`,
        SERVERLESS_CONFIG_VALIDATION: 'warn',
        FUNCTION_TIMEOUT_SECONDS: '60',
        // serverless-offline starts a worker per concurrent request (it does not enforce reservedConcurrency):
        // slots for every one of a burst's 32, and small pools, so that 50-odd workers fit Postgres.
        METRICS_SLOTS: '40',
        DB_POOL_MAX: '2',
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
    await sink?.stop();
    await redis?.destroy();
    await postgres?.destroy();
    console.log(`exactness phases (serverless-offline output in ${logFile}):\n${phases.join('\n')}`);
  });

  /**
   * Runs traffic while `fault` does its worst, sampling the totals: no route ever holds more than was answered
   * plus what was in flight (and, through remote write, no total goes down). Then waits, quiet, until the
   * totals are exactly what was answered.
   */
  async function phase(name: string, options: { durationMs?: number; rps?: number; concurrency?: number; fault?: Fault } = {}) {
    const admin = { email: config.seed.adminEmail!, password: config.seed.adminPassword! };
    let live: TrafficReport | undefined;
    const above: string[] = [];
    const down: string[] = [];
    let previous: Map<string, number> | undefined;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await sleep(500);
        const totals = await sink.totals().catch(() => undefined); // hung or restarting
        if (!totals || !live) continue;
        if (sink.monotonic) {
          for (const [key, n] of previous ?? []) if ((totals.sums.get(key) ?? 0) < n) down.push(`${key}: ${n} -> ${totals.sums.get(key) ?? 0}`);
          previous = totals.sums;
        }
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
          if (n > most) above.push(`${route}: shown ${n} > answered and in flight ${most}`);
        }
        // Business counters that count whole requests: at most what was answered plus their route in flight.
        for (const [family, route] of Object.entries(COUNTED_BY)) {
          const shown = familyTotal(totals.sums, family);
          const most = familyTotal(truth.series, family) + familyTotal(new Map(Object.entries(live.counted)), family) + (live.inFlight[route] ?? 0);
          if (shown > most) above.push(`${family}: shown ${shown} > answered and in flight ${most}`);
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
      totals = await sink.totals().catch(() => undefined);
      if (!totals) {
        last = ['the totals could not be read'];
        await sleep(250);
        continue;
      }
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
        `(most on one function: ${Math.max(0, ...groups.map(([, g]) => g.slots + g.overflow))}); ${above.length} samples above${sink.monotonic ? `, ${down.length} went down` : ''}`,
    );
    if (report.unexpectedCount > 0) phases.push(`  unexpected: ${report.unexpected.map((u) => `${u.route} ${u.status} ${u.body.slice(0, 80)}`).join(' | ')}`);
    expect(above, `${name}: totals above what was answered`).toEqual([]);
    expect(down, `${name}: totals that went down`).toEqual([]);
    expect(last, `${name}: series not exact ${QUIET_BOUND_MS} ms after the last answer`).toEqual([]);
    return { totals: totals!, report };
  }

  it('is exact after a cold burst over every route, and every container of the burst gets a slot', async () => {
    const { totals, report } = await phase('cold burst', { durationMs: 10_000, rps: 400, concurrency: BURST_CONCURRENCY });
    for (const route of functionsByRoute().keys()) expect(Object.keys(report.answered).some((a) => a.startsWith(`${route} `)), route).toBe(true);
    const overflowing = [...totals.groups].filter(([fn, g]) => httpFunctions.has(fn) && g.overflow > 0);
    expect(overflowing, 'functions with overflow groups after a burst within their slots').toEqual([]);
  });

  // The sink's own faults: the gateway restarted empty and hung past the push deadline; Prometheus killed and
  // restarted, and hung, under the flusher's writes.
  it.each(faults.map((title, n) => ({ title, n })))('never counts above what was answered while $title, and is exact after', async ({ n }) => {
    const { name, fault, before } = sink.faults[n]!;
    await before?.();
    await phase(name, fault ? { fault } : { durationMs: 4000 });
  });

  it('never counts above what was answered while Redis is killed and restarted, and is exact after', async () => {
    await phase('Redis killed and restarted', { fault: { inject: () => redis.kill(), downMs: 3000, repair: () => redis.start() } });
  });

  it('never counts above what was answered while Postgres stops and starts, and is exact after', async () => {
    await phase('Postgres stopped and started', { fault: { inject: () => postgres.stop(), downMs: 4000, repair: () => postgres.start() } });
  });

  // After the phases' traffic: every dashboard query and rule over the shop's series, as ops would read them.
  if (queriesChecked) it("answers every dashboard query and rule on the shop's series with data", async () => {
    const url = sink.prometheusUrl!;
    const failed: string[] = [];
    const panels = dashboardQueries().filter((q) => !SCRAPED_ONLY.test(q.expr));
    for (const q of panels) {
      const answer = outcome(await query(url, q.expr, '30s'));
      if (answer !== 'ok') failed.push(`${q.dashboard} › ${q.panel}: ${answer}\n    ${q.expr}`);
    }
    const rules = shippedRules.filter((r) => !SCRAPED_ONLY.test(r.expr));
    for (const rule of rules) {
      const expr = rule.record ?? condition(rule.expr);
      const answer = outcome(await query(url, expr, '30s'));
      if (answer !== 'ok') failed.push(`${rule.record ?? rule.alert}: ${answer}\n    ${expr}`);
    }
    phases.push(`queries: ${panels.length - failed.length} of ${panels.length} panel queries and ${rules.length} rules on the shop's series, ${failed.length} without data`);
    expect(failed).toEqual([]);
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
