// What ops read, as queries to run against a live Prometheus: the shipped rules (monitoring/rules/*.yml), an
// alert's condition without its threshold, and a query's outcome (ok, no data, or its error).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { MONITORING_DIR } from '../../scripts/stack/render.ts';

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}

export const shippedRules: Rule[] = readdirSync(path.join(MONITORING_DIR, 'rules'))
  .filter((f) => f.endsWith('.yml'))
  .flatMap((f) => (parse(readFileSync(path.join(MONITORING_DIR, 'rules', f), 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules));

export interface QueryAnswer {
  status: 'success' | 'error';
  error?: string;
  data?: { result: unknown[] };
}

/** An instant query, with Grafana's `$__rate_interval` replaced by `rateInterval`. */
export async function query(prometheusUrl: string, expr: string, rateInterval: string): Promise<QueryAnswer> {
  const url = new URL('/api/v1/query', prometheusUrl);
  url.searchParams.set('query', expr.replaceAll('$__rate_interval', rateInterval));
  return (await fetch(url)).json() as Promise<QueryAnswer>;
}

export const outcome = (a: QueryAnswer) => (a.status !== 'success' ? `error: ${a.error}` : a.data!.result.length === 0 ? 'no data' : 'ok');

/**
 * An alert's condition: its expression up to the top-level comparison with its threshold. A test's Prometheus
 * is minutes old: a comparison with the past (`offset 2h`) is made with the present instead.
 */
export function condition(alertExpr: string): string {
  const expr = alertExpr.replace(/\s+offset\s+\w+/g, '');
  let depth = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (c === '(' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']') depth--;
    else if (c === '"' || c === "'") i = expr.indexOf(c, i + 1);
    else if (depth === 0 && /^(>=|<=|==|!=|>|<)/.test(expr.slice(i))) return expr.slice(0, i).trim();
  }
  return expr;
}
