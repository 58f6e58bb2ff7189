// The monitoring config as shipped: Prometheus config and rules pass promtool (and the rule unit tests in
// monitoring/rules/tests/), every alert is tested firing and not firing and has its runbook, the Alertmanager
// config passes amtool, and a real Alertmanager pages, tickets and inhibits as the config says.
// Locally a missing tool skips its test, naming the package; under CI=true the test runs, and fails.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import {
  ALERTMANAGER_BIN,
  alertStates,
  forTest,
  postAlerts,
  startAlertmanager,
  startWebhookReceiver,
  type Alertmanager,
  type WebhookPayload,
  type WebhookReceiver,
} from './rules-alertmanager.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const MONITORING = path.join(ROOT, 'monitoring');
const RULES = path.join(MONITORING, 'rules');
const PROMTOOL = process.env.PROMTOOL ?? 'promtool';
const AMTOOL = process.env.AMTOOL ?? 'amtool';

const yamlFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.yml')).map((f) => path.join(dir, f));
const RULE_FILES = yamlFiles(RULES);
const RULE_TESTS = yamlFiles(path.join(RULES, 'tests'));

function needs(ctx: TestContext, bin: string, pkg: string): void {
  const found = spawnSync(bin, ['--version']).error === undefined;
  ctx.skip(!found && !process.env.CI, `${bin} not found: apt-get install ${pkg}`);
}

function run(bin: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(bin, args, { cwd: ROOT, encoding: 'utf8' });
  return { status: result.status, output: `${result.error?.message ?? ''}${result.stdout ?? ''}${result.stderr ?? ''}` };
}

interface AlertRule {
  alert?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleTestFile {
  tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}
const alertRules: AlertRule[] = (parse(readFileSync(path.join(RULES, 'alerts.yml'), 'utf8')) as { groups: { rules: AlertRule[] }[] }).groups
  .flatMap((g) => g.rules)
  .filter((r) => r.alert);
const alertNames = [...new Set(alertRules.map((r) => r.alert!))];

describe('the Prometheus config and rules', () => {
  it('passes promtool check config, with the rule files it loads', (ctx) => {
    needs(ctx, PROMTOOL, 'prometheus');
    const result = run(PROMTOOL, ['check', 'config', path.join(MONITORING, 'prometheus.yml')]);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain(`${RULE_FILES.length} rule files found`);
  });

  it('passes promtool check rules', (ctx) => {
    needs(ctx, PROMTOOL, 'prometheus');
    const result = run(PROMTOOL, ['check', 'rules', ...RULE_FILES]);
    expect(result.status, result.output).toBe(0);
  });

  it('passes its promtool rule unit tests', (ctx) => {
    needs(ctx, PROMTOOL, 'prometheus');
    const result = run(PROMTOOL, ['test', 'rules', ...RULE_TESTS]);
    expect(result.status, result.output).toBe(0);
    expect(result.output.match(/SUCCESS/g)).toHaveLength(RULE_TESTS.length);
  });

  it('tests every alert both firing and not firing', () => {
    const cases = RULE_TESTS.flatMap((file) => (parse(readFileSync(file, 'utf8')) as RuleTestFile).tests)
      .flatMap((t) => t.alert_rule_test ?? []);
    for (const name of alertNames) {
      const mine = cases.filter((c) => c.alertname === name);
      expect(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${name} firing`).toBe(true);
      expect(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${name} not firing`).toBe(true);
    }
  });

  it('gives every alert a severity that routes, a summary, a description and a runbook section', () => {
    const docs = readFileSync(path.join(ROOT, 'docs', 'alerts.md'), 'utf8');
    for (const rule of alertRules) {
      expect(['critical', 'warning'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toBeTruthy();
      expect(rule.annotations?.runbook_url, rule.alert).toBe(`docs/alerts.md#${rule.alert!.toLowerCase()}`);
      expect(docs, rule.alert).toMatch(new RegExp(`^## ${rule.alert}$`, 'm'));
    }
  });
});

describe('the Alertmanager config', () => {
  const config = parse(readFileSync(path.join(MONITORING, 'alertmanager.yml'), 'utf8'));
  let webhook: WebhookReceiver | undefined;
  let alertmanager: Alertmanager | undefined;

  beforeAll(async () => {
    if (spawnSync(ALERTMANAGER_BIN, ['--version']).error && !process.env.CI) return; // each test skips, saying why
    webhook = await startWebhookReceiver();
    alertmanager = await startAlertmanager(forTest(config, webhook.url));
  });
  afterAll(async () => {
    await alertmanager?.stop();
    await webhook?.close();
  });

  const about = (alertname: string, labels: Record<string, string> = {}) => (p: WebhookPayload) =>
    p.alerts.some((a) => a.labels.alertname === alertname && Object.entries(labels).every(([k, v]) => a.labels[k] === v));

  it('passes amtool check-config', (ctx) => {
    needs(ctx, AMTOOL, 'prometheus-alertmanager');
    const result = run(AMTOOL, ['check-config', path.join(MONITORING, 'alertmanager.yml')]);
    expect(result.status, result.output).toBe(0);
  });

  it('pages a critical alert and tickets a warning through their webhooks', async (ctx) => {
    needs(ctx, ALERTMANAGER_BIN, 'prometheus-alertmanager');
    // Act
    await postAlerts(alertmanager!.url, [
      { labels: { alertname: 'PushgatewayDown', severity: 'critical', job: 'pushgateway', instance: 'pushgateway:9091' }, annotations: { summary: 'gateway down' } },
      { labels: { alertname: 'ScrapeTargetDown', severity: 'warning', job: 'node', instance: 'node-exporter:9100' } },
    ]);
    // Assess
    const page = await webhook!.waitFor(about('PushgatewayDown'));
    expect(page).toMatchObject({ receiver: 'pager', status: 'firing', groupLabels: { alertname: 'PushgatewayDown' } });
    expect(page.alerts[0]).toMatchObject({
      labels: { alertname: 'PushgatewayDown', severity: 'critical', job: 'pushgateway', instance: 'pushgateway:9091' },
      annotations: { summary: 'gateway down' },
    });
    const ticket = await webhook!.waitFor(about('ScrapeTargetDown'));
    expect(ticket).toMatchObject({ receiver: 'tickets', groupLabels: { alertname: 'ScrapeTargetDown' } });
  });

  it('holds back a warning whose critical twin or whose cause is firing, and groups by route', async (ctx) => {
    needs(ctx, ALERTMANAGER_BIN, 'prometheus-alertmanager');
    // Act
    await postAlerts(alertmanager!.url, [
      { labels: { alertname: 'HttpErrorRatioHigh', severity: 'critical', route: '/api/products/{id}' } },
      { labels: { alertname: 'HttpErrorRatioHigh', severity: 'warning', route: '/api/products/{id}' } },
      { labels: { alertname: 'HttpErrorRatioHigh', severity: 'warning', route: '/api/products' } },
      { labels: { alertname: 'RedisDown', severity: 'warning', job: 'redis', instance: 'redis-exporter:9121' } },
      { labels: { alertname: 'CacheHitRatioCollapse', severity: 'warning' } },
    ]);
    // Assess: what is delivered
    const page = await webhook!.waitFor(about('HttpErrorRatioHigh', { route: '/api/products/{id}', severity: 'critical' }));
    expect(page).toMatchObject({ receiver: 'pager', groupLabels: { alertname: 'HttpErrorRatioHigh', route: '/api/products/{id}' } });
    const ticket = await webhook!.waitFor(about('HttpErrorRatioHigh', { route: '/api/products' }));
    expect(ticket).toMatchObject({ receiver: 'tickets', groupLabels: { alertname: 'HttpErrorRatioHigh', route: '/api/products' } });
    expect(ticket.alerts).toHaveLength(1);
    await webhook!.waitFor(about('RedisDown'));
    // Assess: what is held back, and by what
    const states = await alertStates(alertmanager!.url);
    const state = (labels: Record<string, string>) =>
      states.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))!;
    const critical = state({ alertname: 'HttpErrorRatioHigh', severity: 'critical' });
    expect(state({ alertname: 'HttpErrorRatioHigh', severity: 'warning', route: '/api/products/{id}' }).status)
      .toMatchObject({ state: 'suppressed', inhibitedBy: [critical.fingerprint] });
    expect(state({ alertname: 'CacheHitRatioCollapse' }).status)
      .toMatchObject({ state: 'suppressed', inhibitedBy: [state({ alertname: 'RedisDown' }).fingerprint] });
    expect(state({ alertname: 'HttpErrorRatioHigh', route: '/api/products' }).status.state).toBe('active');
    expect(webhook!.received.filter(about('HttpErrorRatioHigh', { route: '/api/products/{id}', severity: 'warning' }))).toEqual([]);
    expect(webhook!.received.filter(about('CacheHitRatioCollapse'))).toEqual([]);
  });
});
