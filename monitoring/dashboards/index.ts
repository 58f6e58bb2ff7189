// Every dashboard, by the name of its rendered file under monitoring/grafana/dashboards/.
import type { Dashboard, Panel, RowPanel } from '@grafana/grafana-foundation-sdk/dashboard';
import type { Dataquery as PrometheusQuery } from '@grafana/grafana-foundation-sdk/prometheus';
import { business } from './business.ts';
import { overview } from './overview.ts';
import { performance } from './performance.ts';
import { systemHealth } from './system-health.ts';

export const dashboards: Record<string, Dashboard> = {
  'overview.json': overview,
  'performance.json': performance,
  'business.json': business,
  'system-health.json': systemHealth,
};

export interface PanelQuery {
  dashboard: string;
  panel: string;
  expr: string;
}

const isRow = (panel: Panel | RowPanel): panel is RowPanel => panel.type === 'row';

/**
 * Every PromQL expression of every panel, for tests that run them against a real Prometheus. The only
 * template variable in them is $__rate_interval (Grafana's; substitute a range such as 1m).
 */
export function dashboardQueries(): PanelQuery[] {
  return Object.values(dashboards).flatMap((d) =>
    (d.panels ?? []).flatMap((panel) =>
      // Every target is built by panels.ts with prometheus.DataqueryBuilder.
      isRow(panel) ? [] : (panel.targets ?? []).map((target) => ({ dashboard: d.title ?? '', panel: panel.title ?? '', expr: (target as PrometheusQuery).expr })),
    ),
  );
}
