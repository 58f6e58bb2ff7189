// The request families and the Middy plugin hooks that time them. Hooks, not a middleware: requestStart and
// requestEnd wrap the whole run, so they see an early return from any `before` and thrown errors alike
// (@middy/core >= 7.2.3), and the status is the one the client really got, after any error handler answered.
import { Counter, Histogram, type Registry } from 'prom-client';

/** The parts of a Lambda context used here (aws-lambda's Context has them). */
export interface InvocationContext {
  awsRequestId: string;
}

/** The parts of a Middy request used here. */
export interface TimedRequest {
  event: unknown;
  context: InvocationContext;
  response: unknown;
  error: unknown;
  internal: Record<string, unknown>;
}

export interface RequestMetricsOptions {
  registry: Registry;
  functionName: string;
  namespace: string;
  buckets: number[];
  statusCodes: string[];
  coldStart: boolean;
  extraLabels?: { names: string[]; values: (event: unknown, response: unknown) => Record<string, string> };
  /** "METHOD /path/{param}" of an event, or undefined for an event that is not an HTTP request. */
  route: (event: unknown) => string | undefined;
  skip?: (event: unknown) => boolean;
}

export interface RouteLabels {
  method: string;
  route: string;
}

/** "GET /items/{id}" into its labels. */
export function parseRoute(route: string): RouteLabels {
  const [method, path, ...rest] = route.split(' ');
  if (!method || !path || rest.length > 0) throw new TypeError(`middy-pushgateway: a route looks like "GET /path/{id}", got "${route}"`);
  return { method, route: path };
}

/**
 * The route of an API Gateway event: an HTTP API's `routeKey` ("GET /items/{id}"; its catch-all "$default" with
 * the request's method), a REST API's method and resource template. Undefined for any other event.
 */
export function routeOf(event: unknown): string | undefined {
  const e = event as { routeKey?: unknown; httpMethod?: unknown; resource?: unknown; requestContext?: { http?: { method?: unknown } } } | null;
  if (typeof e?.routeKey === 'string') {
    if (e.routeKey.includes(' ')) return e.routeKey;
    const method = e.requestContext?.http?.method;
    return typeof method === 'string' ? `${method} ${e.routeKey}` : undefined;
  }
  if (typeof e?.httpMethod === 'string' && typeof e.resource === 'string') return `${e.httpMethod} ${e.resource}`;
  return undefined;
}

const START = 'middy-pushgateway.startNs';

export function createRequestMetrics(options: RequestMetricsOptions) {
  const registers = [options.registry];
  const extra = options.extraLabels?.names ?? [];
  const httpLabels = ['method', 'route', 'status_code', ...extra];
  const requests = new Counter({
    name: `${options.namespace}http_requests_total`,
    help: 'HTTP requests answered, by method, route template and status code.',
    labelNames: httpLabels,
    registers,
  });
  const duration = new Histogram({
    name: `${options.namespace}http_request_duration_seconds`,
    help: 'HTTP request latency inside the function, by method, route template and status code.',
    labelNames: httpLabels,
    buckets: options.buckets,
    registers,
  });
  const invocations = new Counter({
    name: `${options.namespace}function_invocations_total`,
    help: 'Function invocations by outcome (success: answered below 500; error: 5xx or thrown).',
    labelNames: ['function', 'outcome'],
    registers,
  });
  const coldStarts = options.coldStart
    ? new Counter({ name: `${options.namespace}function_cold_starts_total`, help: 'Invocations that were the first of their container.', labelNames: ['function'], registers })
    : undefined;
  const fn = { function: options.functionName };
  for (const outcome of ['success', 'error']) invocations.inc({ ...fn, outcome }, 0);
  coldStarts?.inc(fn, 0);
  let coldStart = true;
  /** Every route seen, parsed once. */
  const routes = new Map<string, RouteLabels>();

  /**
   * A route's labels. The first time, every status of `statusCodes` is made to exist at 0 for it, before it
   * first answers one: increase() cannot see a series' first sample, and error ratios divide by these series.
   */
  function declare(route: string): RouteLabels {
    let labels = routes.get(route);
    if (!labels) {
      labels = parseRoute(route);
      if (extra.length === 0) for (const status_code of options.statusCodes) requests.inc({ ...labels, status_code }, 0);
      routes.set(route, labels);
    }
    return labels;
  }

  return {
    /** Middy plugin hooks; `route` fixes the route, otherwise each event's is used. */
    hooks(route: string | undefined, push: (requestId: string) => Promise<void>) {
      const fixed = route === undefined ? undefined : declare(route);
      return {
        requestStart(request: TimedRequest) {
          request.internal[START] = process.hrtime.bigint();
        },
        async requestEnd(request: TimedRequest) {
          if (options.skip?.(request.event)) return;
          const started = request.internal[START] as bigint | undefined;
          const seconds = started === undefined ? 0 : Number(process.hrtime.bigint() - started) / 1e9;
          const response = request.response as { statusCode?: unknown } | undefined | null;
          const key = fixed ? undefined : options.route(request.event);
          const labels = fixed ?? (key === undefined ? undefined : declare(key));
          let failed = request.error !== undefined && request.error !== null;
          if (labels) {
            const status = typeof response?.statusCode === 'number' ? response.statusCode : failed ? 500 : 200;
            failed = status >= 500;
            const series = { ...labels, status_code: String(status), ...options.extraLabels?.values(request.event, request.response) };
            requests.inc(series);
            duration.observe(series, seconds);
          }
          invocations.inc({ ...fn, outcome: failed ? 'error' : 'success' });
          if (coldStart) {
            coldStarts?.inc(fn);
            coldStart = false;
          }
          await push(request.context.awsRequestId);
        },
      };
    },
  };
}
