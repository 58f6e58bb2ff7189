// Request timing as Middy plugin hooks, not a middleware: requestStart/requestEnd wrap the whole run, so
// they see early returns from a `before` and thrown errors alike (@middy/core >= 7.2.3), and the status is
// the one the client really got, after our error handler answered.
import { Counter, Histogram } from 'prom-client';
import type { Request } from '@middy/core';
import type { Context } from 'aws-lambda';
import { registry } from './registry.ts';

export const httpRequests = new Counter({
  name: 'http_requests_total',
  help: 'HTTP requests answered, by method, route template and status code.',
  labelNames: ['method', 'route', 'status_code'] as const,
  registers: [registry],
});
export const httpDuration = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'HTTP request latency inside the function, by method, route template and status code.',
  labelNames: ['method', 'route', 'status_code'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});
export const coldStarts = new Counter({
  name: 'function_cold_starts_total',
  help: 'Invocations that were the first of their container.',
  labelNames: ['function'] as const,
  registers: [registry],
});
export const invocations = new Counter({
  name: 'function_invocations_total',
  help: 'Function invocations by outcome (success: answered below 500; error: 5xx or thrown).',
  labelNames: ['function', 'outcome'] as const,
  registers: [registry],
});

// The statuses our API answers: the successes of lib/http/responses.ts and every status lib/http/errors.ts
// maps a failure to (test/unit/lib/metrics/http.test.ts keeps the two lists equal).
const ANSWERED_STATUSES = ['200', '201', '204', '400', '401', '403', '404', '409', '413', '415', '422', '429', '500', '503'];

const START = 'shop.metrics.startNs';
type TimedRequest = Request<unknown, unknown, unknown, Context, Record<string, unknown>>;
// Module scope is container scope: the first invocation of a container finds it true.
let coldStart = true;

export interface RouteLabels {
  method: string;
  route: string;
}

export function parseRoute(route: string): RouteLabels {
  const [method, path] = route.split(' ');
  if (!method || !path) throw new Error(`route must look like "GET /path/{id}", got "${route}"`);
  return { method, route: path };
}

export function metricsHooks(route: string, functionName: string, push: (requestId: string) => Promise<void>) {
  const labels = parseRoute(route);
  // Every status a route answers exists at 0 before it first happens: error ratios divide by these series,
  // and increase() cannot see a series' first sample, so a series born at 1 would lose that request.
  for (const status_code of ANSWERED_STATUSES) httpRequests.inc({ ...labels, status_code }, 0);
  for (const outcome of ['success', 'error']) invocations.inc({ function: functionName, outcome }, 0);
  coldStarts.inc({ function: functionName }, 0);

  return {
    requestStart(request: TimedRequest) {
      request.internal[START] = process.hrtime.bigint();
    },
    async requestEnd(request: TimedRequest) {
      const started = request.internal[START] as bigint | undefined;
      const seconds = started === undefined ? 0 : Number(process.hrtime.bigint() - started) / 1e9;
      const response = request.response as { statusCode?: number } | undefined | null;
      const status = response?.statusCode ?? (request.error ? 500 : 200);
      const series = { ...labels, status_code: String(status) };
      httpRequests.inc(series);
      httpDuration.observe(series, seconds);
      invocations.inc({ function: functionName, outcome: status >= 500 ? 'error' : 'success' });
      if (coldStart) {
        coldStarts.inc({ function: functionName });
        coldStart = false;
      }
      await push(request.context.awsRequestId);
    },
  };
}
