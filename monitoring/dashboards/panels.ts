// Building blocks shared by the dashboards, so that every panel follows the same rules (the lint in
// test/unit/monitoring/dashboards.test.ts checks them on the rendered JSON): queries go through the
// `datasource` variable, every panel has a unit and a description, every rate uses $__rate_interval, and
// per-slot gauges only show slots that pushed recently.
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as heatmap from '@grafana/grafana-foundation-sdk/heatmap';
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import * as units from '@grafana/grafana-foundation-sdk/units';
import type * as cog from '@grafana/grafana-foundation-sdk/cog';

export { units };

export const TAG = 'serverless-shop';
const DATASOURCE: common.DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

// ---- PromQL ----------------------------------------------------------------------------------------------

const JOB = 'job="serverless-shop"';

/** A selector of series pushed by the shop: exporters and Prometheus itself have process_* families too. */
export function shop(metric: string, matchers?: string): string {
  return `${metric}{${matchers ? `${JOB}, ${matchers}` : JOB}}`;
}

// The datasource's timeInterval is the gateway's 5 s scrape, so $__rate_interval always spans several
// samples: a fixed window would be empty when zoomed in and jagged when zoomed out.
export function rate(selector: string): string {
  return `rate(${selector}[$__rate_interval])`;
}

/** Business events are a few per minute: per second they would read as 0.02. */
export function perMinute(expr: string): string {
  return `60 * ${expr}`;
}

/** Money is counted in minor units (cents); panels show major units. */
export function major(expr: string): string {
  return `${expr} / 100`;
}

export function quantile(q: number, histogram: string, by: string[]): string {
  return `histogram_quantile(${q}, sum by (${[...by, 'le'].join(', ')}) (${rate(shop(`${histogram}_bucket`))}))`;
}

// A slot whose container is gone keeps its last gauges on the gateway until the janitor deletes the group
// (15 min), so a per-slot gauge would show a dead container as alive. A live slot pushes on every
// invocation; two minutes without a push means nobody holds it.
export const FRESH_SECONDS = 120;
export function fresh(expr: string): string {
  return `(${expr}) and on (function, instance) (time() - push_time_seconds{${JOB}} < ${FRESH_SECONDS})`;
}

// ---- Panels ----------------------------------------------------------------------------------------------

export interface Query {
  expr: string;
  legend: string;
}
export const query = (expr: string, legend: string): Query => ({ expr, legend });

export interface PanelText {
  title: string;
  description: string;
  unit: string;
}

interface DataPanel {
  title(title: string): this;
  description(description: string): this;
  unit(unit: string): this;
  datasource(datasource: common.DataSourceRef): this;
  withTarget(target: cog.Builder<cog.Dataquery>): this;
}

function withQueries<P extends DataPanel>(panel: P, text: PanelText, queries: Query[], format?: prometheus.PromQueryFormat): P {
  panel.title(text.title).description(text.description).unit(text.unit).datasource(DATASOURCE);
  queries.forEach((q, i) => {
    const target = new prometheus.DataqueryBuilder()
      .datasource(DATASOURCE)
      .refId(String.fromCharCode(65 + i))
      .editorMode(prometheus.QueryEditorMode.Code)
      .expr(q.expr)
      .legendFormat(q.legend)
      .range();
    panel.withTarget(format ? target.format(format) : target);
  });
  return panel;
}

export function timeSeries(text: PanelText, ...queries: Query[]): timeseries.PanelBuilder {
  return withQueries(new timeseries.PanelBuilder(), text, queries)
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending))
    .fillOpacity(10)
    .showPoints(common.VisibilityMode.Never)
    .min(0);
}

/** Stacked areas, for parts of a whole (statuses, results, states). */
export function stacked(text: PanelText, ...queries: Query[]): timeseries.PanelBuilder {
  return timeSeries(text, ...queries).stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal)).fillOpacity(40);
}

/** Steps from a base colour: [base, [value, colour], ...] (Grafana's default would paint 80 and above red). */
export function thresholds(base: string, ...steps: [number, string][]): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps([{ value: null, color: base }, ...steps.map(([value, color]) => ({ value, color }))]);
}

export function singleStat(text: PanelText, ...queries: Query[]): stat.PanelBuilder {
  return withQueries(new stat.PanelBuilder(), text, queries)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .graphMode(common.BigValueGraphMode.Area)
    .colorMode(common.BigValueColorMode.Value)
    .thresholds(thresholds('green'));
}

/** 0/1 series (`up`, `redis_up`, `pg_up`) as UP / DOWN. */
export function upStat(text: Omit<PanelText, 'unit'>, ...queries: Query[]): stat.PanelBuilder {
  return singleStat({ ...text, unit: units.NoUnit }, ...queries)
    .graphMode(common.BigValueGraphMode.None)
    .colorMode(common.BigValueColorMode.Background)
    .thresholds(thresholds('red', [1, 'green']))
    .mappings([{ type: dashboard.MappingType.ValueToText, options: { '0': { text: 'DOWN', color: 'red' }, '1': { text: 'UP', color: 'green' } } }]);
}

export function bars(text: PanelText, ...queries: Query[]): bargauge.PanelBuilder {
  return withQueries(new bargauge.PanelBuilder(), text, queries)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .orientation(common.VizOrientation.Horizontal)
    .displayMode(common.BarGaugeDisplayMode.Basic)
    .thresholds(thresholds('blue'));
}

/** Buckets of a histogram as a heatmap: Prometheus's heatmap format turns cumulative `le` buckets into cells. */
export function bucketHeatmap(text: PanelText & { bucketUnit: string }, q: Query): heatmap.PanelBuilder {
  return withQueries(new heatmap.PanelBuilder(), text, [q], prometheus.PromQueryFormat.Heatmap)
    .calculate(false)
    .yAxis(new heatmap.YAxisConfigBuilder().unit(text.bucketUnit))
    .cellValues(new heatmap.CellValuesBuilder().unit(text.unit));
}

// Orders hold one currency each and the catalogue defaults to EUR (lib/shop/schemas.ts): money panels are in
// EUR, label their series by currency, and give the other currencies' series their own symbol.
export const MONEY = units.Euro;
const OTHER_CURRENCIES: Record<string, string> = { USD: units.Dollars, GBP: units.Pounds };
export function money<P extends { overrideByRegexp(regexp: string, properties: dashboard.DynamicConfigValue[]): unknown }>(panel: P): P {
  for (const [currency, unit] of Object.entries(OTHER_CURRENCIES)) panel.overrideByRegexp(`^${currency}\\b`, [{ id: 'unit', value: unit }]);
  return panel;
}

/** Overrides that pin a series to a colour (failures red, whatever order the series arrive in). */
export function colour(color: string): dashboard.DynamicConfigValue[] {
  return [{ id: 'color', value: { mode: 'fixed', fixedColor: color } }];
}

// ---- Dashboards ------------------------------------------------------------------------------------------

interface Placeable extends cog.Builder<dashboard.Panel> {
  id(id: number): this;
  gridPos(gridPos: dashboard.GridPos): this;
}

/** A band of panels of one height, left to right; widths default to equal shares of the 24 columns. */
export interface Band {
  row?: string;
  height: number;
  panels: Placeable[];
  widths?: number[];
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  bands: Band[];
}

export function shopDashboard(spec: DashboardSpec): dashboard.Dashboard {
  const builder = new dashboard.DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags([TAG, ...spec.tags])
    // The gateway is scraped every 5 s; a slower refresh hides what a push just changed.
    .refresh('5s')
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser')
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    // Provisioned from code: an edit in the UI would be lost at the next render.
    .readonly()
    .withVariable(new dashboard.DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'))
    .link(new dashboard.DashboardLinkBuilder('Serverless shop').type(dashboard.DashboardLinkType.Dashboards).tags([TAG]).asDropdown(true).keepTime(true).includeVars(true));

  let id = 1;
  let y = 0;
  for (const band of spec.bands) {
    if (band.row) {
      builder.withRow(new dashboard.RowBuilder(band.row).id(id++).gridPos({ x: 0, y, w: 24, h: 1 }));
      y += 1;
    }
    const widths = band.widths ?? band.panels.map(() => 24 / band.panels.length);
    if (widths.length !== band.panels.length || widths.some((w) => !Number.isInteger(w)) || widths.reduce((a, b) => a + b, 0) > 24) {
      throw new Error(`${spec.uid}: a band of ${band.panels.length} panels cannot have widths ${widths.join(', ')}`);
    }
    let x = 0;
    band.panels.forEach((panel, i) => {
      const w = widths[i] as number;
      builder.withPanel(panel.id(id++).gridPos({ x, y, w, h: band.height }));
      x += w;
    });
    y += band.height;
  }
  return builder.build();
}
