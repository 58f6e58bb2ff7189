// Rules every provisioned dashboard keeps, checked on the rendered JSON (test/unit/monitoring/dashboards.test.ts),
// after grafana/dashboard-linter: a datasource variable, a unit and a description on every panel,
// $__rate_interval in rates. Its per-instance rules are left out on purpose: our `instance` is a push slot that
// panels sum across, not a host to pick. Each problem names the dashboard and the panel.

export interface TargetJson {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
export interface PanelJson {
  id?: number;
  type?: string;
  title?: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  fieldConfig?: { defaults?: { unit?: string } };
  gridPos?: { x: number; y: number; w: number; h: number };
  targets?: TargetJson[];
}
export interface DashboardJson {
  uid?: string;
  title?: string;
  refresh?: string;
  tags?: string[];
  templating?: { list?: { type?: string; name?: string; query?: unknown }[] };
  panels?: PanelJson[];
}

export type Rule = (dashboard: DashboardJson) => string[];

const DATASOURCE_UID = '${datasource}';
const GRID_COLUMNS = 24;

const where = (d: DashboardJson, p?: PanelJson) => `${d.title ?? d.uid ?? '(untitled dashboard)'}${p ? ` › panel "${p.title ?? '(untitled)'}" (id ${p.id})` : ''}`;

// Rows only lay out the panels below them: they have no query, unit or description.
const dataPanels = (d: DashboardJson) => (d.panels ?? []).filter((p) => p.type !== 'row');

/** Problems of each expression: (dashboard, panel, expr) → message or undefined. */
function eachExpr(d: DashboardJson, check: (expr: string) => string | undefined): string[] {
  return dataPanels(d).flatMap((p) =>
    (p.targets ?? []).flatMap((t) => {
      const problem = check(t.expr ?? '');
      return problem ? [`${where(d, p)}: ${problem} in ${JSON.stringify(t.expr)}`] : [];
    }),
  );
}

/** The text of a PromQL expression with string literals blanked, so brackets inside matchers do not count. */
const code = (expr: string) => expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, (s) => `"${' '.repeat(s.length - 2)}"`);

/** Index of the bracket closing the one opened at `open`, or -1. */
function closing(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++;
    if (text[i] === ')' && --depth === 0) return i;
  }
  return -1;
}

// A rough parse (Prometheus does the real one in the live dashboard test): brackets balance and nest,
// quotes close, and the expression does not end on an operator.
function parseProblem(expr: string): string | undefined {
  if (!expr.trim()) return 'empty expression';
  if ((expr.replace(/\\./g, '').match(/"/g) ?? []).length % 2 !== 0) return 'unclosed string';
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  const stack: string[] = [];
  for (const c of code(expr)) {
    if ('([{'.includes(c)) stack.push(c);
    else if (c in pairs && stack.pop() !== pairs[c]) return `unbalanced "${c}"`;
  }
  if (stack.length > 0) return `unclosed "${stack.at(-1)}"`;
  if (/(?:[-+*/%^=<>!]|\band|\bor|\bunless)\s*$/.test(expr)) return 'dangling operator';
  return undefined;
}

function rateIntervalProblem(expr: string): string | undefined {
  const text = code(expr);
  for (const call of text.matchAll(/\b(rate|irate|increase)\s*\(/g)) {
    const open = (call.index ?? 0) + call[0].length - 1;
    const args = text.slice(open, closing(text, open) + 1);
    const ranges = [...args.matchAll(/\[([^\]]*)\]/g)].map((m) => m[1]);
    if (ranges.length === 0 || ranges.some((r) => r !== '$__rate_interval')) return `${call[1]}() over [${ranges.join('], [')}] instead of [$__rate_interval]`;
  }
  return undefined;
}

// A container's own readings. Its counters (`_total`) add up over containers, on either delivery path.
const PER_SLOT_FAMILY = /\b(?:process_[a-z_]+|nodejs_[a-z_]+|db_pool_connections)\b/g;
const FRESH_FILTER = /\band\s+on\s*\(\s*function\s*,\s*instance\s*\)\s*\(\s*time\(\)\s*-\s*push_time_seconds\{[^}]*job="serverless-shop"[^}]*\}\s*<\s*\d+\s*\)/;

function overlaps(a: NonNullable<PanelJson['gridPos']>, b: NonNullable<PanelJson['gridPos']>): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

export const rules: Record<string, Rule> = {
  'has a uid (at most 40 characters) and a title': (d) =>
    d.uid && d.uid.length <= 40 && d.title?.trim() ? [] : [`${where(d)}: uid ${JSON.stringify(d.uid)} and title ${JSON.stringify(d.title)}`],

  'refreshes every 5s': (d) => (d.refresh === '5s' ? [] : [`${where(d)}: refresh is ${JSON.stringify(d.refresh)}`]),

  'is tagged serverless-shop': (d) => (d.tags?.includes('serverless-shop') ? [] : [`${where(d)}: tags ${JSON.stringify(d.tags)}`]),

  'has a Prometheus datasource variable': (d) =>
    d.templating?.list?.some((v) => v.type === 'datasource' && v.name === 'datasource' && v.query === 'prometheus')
      ? []
      : [`${where(d)}: no variable "datasource" of type datasource querying "prometheus"`],

  'queries through ${datasource} only': (d) =>
    dataPanels(d).flatMap((p) => [
      ...(p.datasource?.uid === DATASOURCE_UID ? [] : [`${where(d, p)}: panel datasource ${JSON.stringify(p.datasource)}`]),
      ...((p.targets ?? []).length === 0 ? [`${where(d, p)}: no query`] : []),
      ...(p.targets ?? []).filter((t) => t.datasource?.uid !== DATASOURCE_UID).map((t) => `${where(d, p)}: query ${t.refId} datasource ${JSON.stringify(t.datasource)}`),
    ]),

  'names each query of a panel differently': (d) =>
    dataPanels(d).flatMap((p) => {
      const ids = (p.targets ?? []).map((t) => t.refId);
      return ids.some((id, i) => !id || ids.indexOf(id) !== i) ? [`${where(d, p)}: refIds ${JSON.stringify(ids)}`] : [];
    }),

  'gives every panel a unit': (d) => dataPanels(d).filter((p) => !p.fieldConfig?.defaults?.unit?.trim()).map((p) => `${where(d, p)}: no unit`),

  'gives every panel a description': (d) => dataPanels(d).filter((p) => !p.description?.trim()).map((p) => `${where(d, p)}: no description`),

  'parses every expression': (d) => eachExpr(d, parseProblem),

  'uses no template variable but $__rate_interval in expressions': (d) =>
    eachExpr(d, (expr) => {
      const others = (expr.match(/\$\{?\w+\}?/g) ?? []).filter((v) => v !== '$__rate_interval');
      return others.length > 0 ? `variables ${others.join(', ')}` : undefined;
    }),

  'takes every rate over [$__rate_interval]': (d) => eachExpr(d, rateIntervalProblem),

  'shows per-slot gauges of fresh slots only': (d) =>
    eachExpr(d, (expr) => {
      const gauge = [...expr.matchAll(PER_SLOT_FAMILY)].map((m) => m[0]).find((name) => !name.endsWith('_total'));
      return gauge && !FRESH_FILTER.test(expr) ? `${gauge} without the push_time_seconds freshness filter` : undefined;
    }),

  'places panels on the 24-column grid without overlap': (d) => {
    const panels = d.panels ?? [];
    const problems: string[] = [];
    panels.forEach((p, i) => {
      const g = p.gridPos;
      if (!g || g.x < 0 || g.y < 0 || g.w < 1 || g.h < 1 || g.x + g.w > GRID_COLUMNS) problems.push(`${where(d, p)}: gridPos ${JSON.stringify(g)} off the grid`);
      for (const q of panels.slice(i + 1)) if (g && q.gridPos && overlaps(g, q.gridPos)) problems.push(`${where(d, p)}: overlaps ${where(d, q)}`);
    });
    return problems;
  },

  // Problems name panels by title, and so do the live query test and people.
  'titles panels uniquely': (d) => {
    const titles = dataPanels(d).map((p) => p.title);
    return dataPanels(d).filter((p, i) => !p.title?.trim() || titles.indexOf(p.title) !== i).map((p) => `${where(d, p)}: title missing or taken`);
  },

  'numbers panels uniquely': (d) => {
    const ids = (d.panels ?? []).map((p) => p.id);
    return (d.panels ?? []).filter((p, i) => typeof p.id !== 'number' || ids.indexOf(p.id) !== i).map((p) => `${where(d, p)}: id ${p.id} missing or taken`);
  },
};

/** Dashboards share one Grafana folder: two with one uid or title would shadow each other. */
export function duplicateIdentities(dashboards: DashboardJson[]): string[] {
  const problems: string[] = [];
  for (const key of ['uid', 'title'] as const) {
    const seen = dashboards.map((d) => d[key]);
    seen.forEach((value, i) => {
      if (seen.indexOf(value) !== i) problems.push(`${key} ${JSON.stringify(value)} is used by more than one dashboard`);
    });
  }
  return problems;
}
