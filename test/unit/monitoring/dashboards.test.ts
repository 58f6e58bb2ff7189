import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { dashboardQueries, dashboards } from '../../../monitoring/dashboards/index.ts';
import { duplicateIdentities, rules, type DashboardJson } from '../../../monitoring/dashboards/lint.ts';
import { DASHBOARD_DIR, renderDashboards, staleFiles } from '../../../monitoring/dashboards/render.ts';

// The lint reads what Grafana reads: the committed files, not the code that renders them.
const files = (await readdir(DASHBOARD_DIR)).filter((f) => f.endsWith('.json')).sort();
const committed = await Promise.all(files.map(async (f) => JSON.parse(await readFile(join(DASHBOARD_DIR, f), 'utf8')) as DashboardJson));
const overviewJson = committed.find((d) => d.uid === 'shop-overview');

describe('dashboard lint', () => {
  it('finds the four dashboards', () => {
    expect(committed.map((d) => d.uid).sort()).toEqual(['shop-business', 'shop-overview', 'shop-performance', 'shop-system-health']);
  });

  it.each(Object.entries(rules))('every dashboard %s', (_name, rule) => {
    expect(committed.flatMap(rule)).toEqual([]);
  });

  it('gives every dashboard its own uid and title', () => {
    expect(duplicateIdentities(committed)).toEqual([]);
  });

  it('covers the eight overview topics in at least 8 panels', () => {
    // Prepare
    const topics: Record<string, RegExp[]> = {
      'request rate': [/\bhttp_requests_total\{(?![^}]*status_code)/],
      'error ratio': [/route:http_requests_errors:ratio_rate5m|status_code=~"5\.\."/],
      'p50/p95/p99 latency': [/histogram_quantile\(0\.5,|:p50_5m/, /histogram_quantile\(0\.95,|:p95_5m/, /histogram_quantile\(0\.99,|:p99_5m/],
      'orders by status': [/\bshop_orders\{/, /\borders_created_total\{/],
      revenue: [/\bshop_revenue_total_amount\{|\brevenue_total\{/],
      'product views by category': [/\bproduct_views_total\{/],
      'cache hit ratio': [/\bcache:hit_ratio:rate5m\b/],
      'logins success/failure': [/\buser_logins_total\{/],
    };
    const panels = (overviewJson?.panels ?? []).filter((p) => p.type !== 'row');
    const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));
    // Act
    const missing = Object.entries(topics).filter(([, patterns]) => !patterns.every((re) => exprs.some((e) => re.test(e)))).map(([topic]) => topic);
    // Assess
    expect(panels.length).toBeGreaterThanOrEqual(8);
    expect(missing).toEqual([]);
  });
});

// Each rule must be able to fail: one broken copy of the overview per rule, and the problem must name
// the dashboard and, for panel rules, the panel.
describe('dashboard lint rules catch what they are for', () => {
  const panelTitle = 'Request rate by route';
  type Breakage = (d: DashboardJson, panel: NonNullable<DashboardJson['panels']>[number]) => void;
  const breakages: Record<string, Breakage> = {
    'has a uid (at most 40 characters) and a title': (d) => void (d.uid = 'x'.repeat(41)),
    'refreshes every 5s': (d) => void (d.refresh = '1m'),
    'is tagged serverless-shop': (d) => void (d.tags = ['overview']),
    'has a Prometheus datasource variable': (d) => void (d.templating = { list: [{ type: 'datasource', name: 'datasource', query: 'loki' }] }),
    'queries through ${datasource} only': (_d, p) => void (p.targets![0]!.datasource = { type: 'prometheus', uid: 'prometheus' }),
    'names each query of a panel differently': (_d, p) => void p.targets!.push({ ...p.targets![0]! }),
    'gives every panel a unit': (_d, p) => void (p.fieldConfig = { defaults: { unit: '' } }),
    'gives every panel a description': (_d, p) => void delete p.description,
    'parses every expression': (_d, p) => void (p.targets![0]!.expr = 'sum by (route) (rate(http_requests_total{route="(x"}[$__rate_interval])'),
    'uses no template variable but $__rate_interval in expressions': (_d, p) => void (p.targets![0]!.expr = 'sum(rate(http_requests_total{route="$route"}[$__rate_interval]))'),
    'takes every rate over [$__rate_interval]': (_d, p) => void (p.targets![0]!.expr = 'sum(rate(a_total[$__rate_interval])) / sum(increase(b_total[5m]))'),
    'shows per-slot gauges of fresh slots only': (_d, p) => void (p.targets![0]!.expr = 'max by (instance) (process_resident_memory_bytes{job="serverless-shop"})'),
    'places panels on the 24-column grid without overlap': (d, p) => void (p.gridPos = { ...d.panels![0]!.gridPos!, x: 2 }),
    'titles panels uniquely': (d) => void (d.panels![0]!.title = panelTitle),
    'numbers panels uniquely': (d, p) => void (p.id = d.panels![0]!.id),
  };

  const dashboardRules = new Set(['has a uid (at most 40 characters) and a title', 'refreshes every 5s', 'is tagged serverless-shop', 'has a Prometheus datasource variable']);

  it('has a breakage for every rule', () => {
    expect(Object.keys(breakages).sort()).toEqual(Object.keys(rules).sort());
  });

  it.each(Object.entries(breakages))('flags a dashboard that breaks "%s"', (name, breakage) => {
    // Prepare
    const broken = structuredClone(overviewJson!);
    const panel = broken.panels!.find((p) => p.title === panelTitle)!;
    breakage(broken, panel);
    // Act
    const problems = rules[name]!(broken);
    // Assess
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toContain(broken.title);
    if (!dashboardRules.has(name)) expect(problems.join('\n')).toContain(`panel "${panelTitle}"`);
  });

  it('flags a panel wider than the grid and two dashboards sharing a uid', () => {
    const broken = structuredClone(overviewJson!);
    broken.panels![0]!.gridPos = { x: 20, y: 0, w: 8, h: 4 };
    expect(rules['places panels on the 24-column grid without overlap']!(broken).join('\n')).toContain('off the grid');
    expect(duplicateIdentities([overviewJson!, { ...overviewJson!, title: 'other' }])).toEqual(['uid "shop-overview" is used by more than one dashboard']);
  });
});

describe('rendered dashboards', () => {
  it('are committed exactly as the code renders them, with no stray JSON', async () => {
    expect(await staleFiles()).toEqual([]);
  });

  it('reports a changed, a missing and a stray file', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'dashboards-'));
    const [first, second, ...rest] = [...renderDashboards()];
    await writeFile(join(dir, first![0]), first![1].replace('"refresh": "5s"', '"refresh": "1m"'));
    for (const [file, text] of rest) await writeFile(join(dir, file), text);
    await writeFile(join(dir, 'old.json'), '{}');
    // Act
    const stale = await staleFiles(dir);
    // Assess
    expect(stale.sort()).toEqual([`${first![0]} (differs)`, `${second![0]} (missing)`, 'old.json (no such dashboard)'].sort());
  });

  it('list every panel query with its dashboard and panel title', () => {
    // Prepare
    const targets = Object.values(dashboards).flatMap((d) => (d.panels ?? []).flatMap((p) => ('targets' in p ? (p.targets ?? []) : [])));
    // Act
    const queries = dashboardQueries();
    // Assess
    expect(queries).toHaveLength(targets.length);
    expect(queries).toContainEqual({
      dashboard: 'Serverless shop / System health',
      panel: 'Resident memory per slot',
      expr: '(process_resident_memory_bytes{job="serverless-shop"}) and on (function, instance) (time() - push_time_seconds{job="serverless-shop"} < 120)',
    });
  });
});

describe('Grafana provisioning', () => {
  const provisioning = new URL('../../../monitoring/grafana/provisioning/', import.meta.url);

  it('provides the Prometheus datasource the dashboards pick, at the gateway scrape interval', async () => {
    const { datasources } = parse(await readFile(new URL('datasources/prometheus.yml', provisioning), 'utf8'));
    expect(datasources).toEqual([
      expect.objectContaining({ name: 'Prometheus', uid: 'prometheus', type: 'prometheus', url: 'http://prometheus:9090', isDefault: true, jsonData: expect.objectContaining({ timeInterval: '5s' }) }),
    ]);
  });

  it('loads the rendered dashboards into the serverless-shop folder', async () => {
    const { providers } = parse(await readFile(new URL('dashboards/serverless-shop.yml', provisioning), 'utf8'));
    expect(providers).toEqual([
      expect.objectContaining({ folder: 'serverless-shop', type: 'file', options: expect.objectContaining({ path: '/var/lib/grafana/dashboards' }) }),
    ]);
  });
});
