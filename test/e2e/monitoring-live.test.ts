// Every query ops will read, run against a real Prometheus fed by the running shop: the shipped config
// (monitoring/prometheus.yml, rendered for loopback by scripts/stack/render.ts, rule files and all) scraping
// the gateway that serverless-offline's functions push to, the three exporters, an Alertmanager and itself,
// after a burst of the traffic generator. Each dashboard panel's query must parse and return data; each
// recording and alerting rule must evaluate without error, each recording rule must produce series, and
// each alert's condition (the expression without its threshold) must see data.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardQueries } from '../../monitoring/dashboards/index.ts';
import { COMPOSE_PORTS, MONITORING_DIR, renderAll, type LocalPorts, type Service } from '../../scripts/stack/render.ts';
import { runTraffic } from '../../scripts/traffic/generator.ts';
import { freePort, waitFor } from '../../scripts/servers/process.ts';
import { startAlertmanager, type Alertmanager } from '../integration/monitoring/rules-alertmanager.ts';
import { adminToken, baseUrl, createProductAs, unique } from '../support/http.ts';
import { E2E_PORT, TEST_ADMIN } from '../support/test-env.ts';
import { condition, outcome, query as queryAt, shippedRules as rules } from '../support/monitoring-queries.ts';

const { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, PUSHGATEWAY_URL: gatewayUrl } = process.env;
const BINARIES = ['prometheus', 'prometheus-alertmanager', 'prometheus-postgres-exporter', 'prometheus-redis-exporter', 'prometheus-node-exporter'];
const missing = BINARIES.filter((bin) => spawnSync(bin, ['--version']).error !== undefined);
if (process.env.CI && missing.length) throw new Error(`CI needs ${missing.join(', ')} (scripts/test-servers.sh installs them)`);
// A range that holds several of this test's 1 s scrapes, for Grafana's $__rate_interval.
const RATE_INTERVAL = '30s';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const portOf = (url: string) => Number(new URL(url).port);

const children: ChildProcess[] = [];
let alertmanager: Alertmanager | undefined;
const dir = mkdtempSync(path.join(os.tmpdir(), 'shop-monitoring-live-'));
let prometheus: string;

function start(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): void {
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  const log: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => log.push(chunk.toString()));
  child.once('exit', (code) => {
    if (code !== null && code !== 0) console.error(`${bin} exited with ${code}:\n${log.join('').slice(-2000)}`);
  });
  children.push(child);
}

const query = (expr: string) => queryAt(prometheus, expr, RATE_INTERVAL);
const answers = (url: string) => waitFor(() => fetch(url).then((r) => r.ok, () => false), url, 20_000);

/** The config as shipped, with every scrape and evaluation each second so that a short test sees rates. */
function liveConfig(ports: LocalPorts): string {
  const file = renderAll(path.join(dir, 'configs'), ports).prometheus;
  const config = parse(readFileSync(file, 'utf8')) as { global: Record<string, string>; scrape_configs: Record<string, unknown>[] };
  Object.assign(config.global, { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' });
  for (const job of config.scrape_configs) delete job.scrape_interval;
  writeFileSync(file, stringify(config));
  return file;
}

describe.runIf(databaseUrl && redisUrl && gatewayUrl && missing.length === 0)('the dashboards and rules against a live Prometheus', () => {
  beforeAll(async () => {
    // The shipped Alertmanager config, as is (its webhooks lead nowhere here): Prometheus only needs to reach it.
    alertmanager = await startAlertmanager(parse(readFileSync(path.join(MONITORING_DIR, 'alertmanager.yml'), 'utf8')));
    const ports: LocalPorts = {
      ...(Object.fromEntries(Object.keys(COMPOSE_PORTS).map((s) => [s, 0])) as LocalPorts),
      api: E2E_PORT,
      postgres: portOf(databaseUrl!),
      redis: portOf(redisUrl!),
      pushgateway: portOf(gatewayUrl!),
      alertmanager: portOf(alertmanager.url),
    };
    for (const service of ['nginx', 'prometheus', 'postgres-exporter', 'redis-exporter', 'node-exporter'] as Service[]) ports[service] = await freePort();
    const prometheusConfig = liveConfig(ports);
    const at = (service: Service) => `127.0.0.1:${ports[service]}`;
    start('prometheus-postgres-exporter', [`--web.listen-address=${at('postgres-exporter')}`], { DATA_SOURCE_NAME: `${databaseUrl}?sslmode=disable` });
    start('prometheus-redis-exporter', ['-redis.addr', redisUrl!, '-web.listen-address', at('redis-exporter')]);
    start('prometheus-node-exporter', [`--web.listen-address=${at('node-exporter')}`]);
    start('prometheus', [`--config.file=${prometheusConfig}`, `--storage.tsdb.path=${path.join(dir, 'prometheus')}`, `--web.listen-address=${at('prometheus')}`]);
    prometheus = `http://${at('prometheus')}`;
    await Promise.all([
      answers(`${prometheus}/-/ready`),
      ...(['postgres-exporter', 'redis-exporter', 'node-exporter'] as Service[]).map((s) => answers(`http://${at(s)}/metrics`)),
    ]);

    // Traffic through the functions, then the two scheduled jobs that feed panels of their own.
    const admin = await adminToken();
    const category = unique('live').toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 40);
    for (let n = 0; n < 4; n++) await createProductAs(admin, { category, stock: 40, priceCents: 700 + n * 100 });
    const report = await runTraffic({ baseUrl: baseUrl(), durationMs: 12_000, rps: 20, concurrency: 4, admin: TEST_ADMIN, category });
    const answered = Object.values(report.byRoute).reduce((sum, byClass) => sum + Object.values(byClass).reduce((a, b) => a + b, 0), 0);
    console.log(`monitoring-live: ${answered} requests of traffic, ${report.createdOrderIds.length} orders`);
    for (const fn of ['collectBusinessMetrics', 'relayOutbox']) {
      const invoked = await fetch(`http://127.0.0.1:${E2E_PORT + 2}/2015-03-31/functions/serverless-shop-dev-${fn}/invocations`, { method: 'POST', body: '{}' });
      expect(invoked.status, fn).toBe(200);
    }
    // A few more seconds of scrapes and rule evaluations, so every rate has samples on both sides.
    await sleep(6000);
  }, 240_000);

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    await alertmanager?.stop();
    await sleep(300);
    rmSync(dir, { recursive: true, force: true });
  });

  it('scrapes every job of monitoring/prometheus.yml', async () => {
    const up = (await query('up')).data!.result as { metric: { job: string }; value: [number, string] }[];
    expect(Object.fromEntries(up.map((r) => [r.metric.job, r.value[1]]))).toEqual({
      pushgateway: '1',
      prometheus: '1',
      alertmanager: '1',
      postgres: '1',
      redis: '1',
      node: '1',
    });
  });

  it('answers every dashboard panel query with data', async () => {
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(40);
    const failed: string[] = [];
    for (const q of queries) {
      const answer = outcome(await query(q.expr));
      if (answer !== 'ok') failed.push(`${q.dashboard} › ${q.panel}: ${answer}\n    ${q.expr}`);
    }
    console.log(`monitoring-live: ${queries.length - failed.length} of ${queries.length} panel queries returned data`);
    expect(failed).toEqual([]);
  });

  it('evaluates every rule without error, and every recording rule has series', async () => {
    const answer = (await (await fetch(`${prometheus}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string; type: string }[] }[] };
    };
    const loaded = answer.data.groups.flatMap((g) => g.rules);
    expect(loaded.length).toBe(rules.length);
    expect(loaded.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`)).toEqual([]);
    const empty: string[] = [];
    for (const rule of rules.filter((r) => r.record)) if (outcome(await query(rule.record!)) !== 'ok') empty.push(rule.record!);
    expect(empty).toEqual([]);
  });

  it("sees data under every alert's condition", async () => {
    const failed: string[] = [];
    for (const rule of rules.filter((r) => r.alert)) {
      const answer = outcome(await query(condition(rule.expr)));
      if (answer !== 'ok') failed.push(`${rule.alert}: ${answer}\n    ${condition(rule.expr)}`);
    }
    expect(failed).toEqual([]);
  });
});
