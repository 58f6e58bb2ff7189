// The package's entry point: one instance per function (module scope: one per Lambda container), holding the
// registry, the request families, the pusher and, when asked for, the extension that lets pushes run after the
// response. Every option is checked here, so that a misconfiguration fails the cold start, not each request.
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { createPusher, type Pusher, type PushStatus } from './pusher.ts';
import { createRedisSlotStore } from './slots.ts';
import { guardFreezes, type FreezeGuard } from './after-response.ts';
import { DEFAULT_JOB, type GatewayAuth } from './gateway.ts';
import { registerProcessMetrics } from './process-metrics.ts';
import { createRequestMetrics, routeOf, type TimedRequest } from './request-metrics.ts';

export interface PrometheusPushOptions {
  /** The `function` label of this function's groups and series; on Lambda, `AWS_LAMBDA_FUNCTION_NAME`. */
  functionName: string;
  /**
   * The Pushgateway's base URL. Without it (or empty) and without `remoteWrite`, metrics are recorded (readable
   * from `registry`), not pushed.
   */
  gatewayUrl?: string;
  /**
   * The fleet's totals reach Prometheus through a remote-write flusher (`flushFleet`) that reads the slots'
   * Redis state: every push stores there, with this container's gauge readings once per `pushIntervalMs`.
   * Needs `slots`. With a `gatewayUrl` as well, groups are also POSTed (both paths at once).
   */
  remoteWrite?: boolean;
  /** Basic auth towards the gateway. */
  auth?: GatewayAuth;
  /** The `job` label of every group. Default `lambda`. */
  job?: string;
  /** The registry to record into and push. Default: a new one (never prom-client's global registry). */
  registry?: Registry;
  /** Prefix of the request families' names (`shop_` gives `shop_http_requests_total`). Default none. */
  namespace?: string;
  /** Labels added to every series (`{ stage: 'prod', service: 'shop' }`), through the registry's default labels. */
  constLabels?: Record<string, string>;
  /** "METHOD /path/{param}" of an event; undefined for one that is not an HTTP request. Default: API Gateway's route. */
  route?: (event: unknown) => string | undefined;
  /** Buckets of `http_request_duration_seconds`, in seconds. */
  buckets?: number[];
  /** Statuses whose series exist at 0 for a route before it first answers them. Default 200 and 500. */
  statusCodes?: Array<string | number>;
  /** Events for which nothing is recorded or pushed (warm-up pings, health probes). */
  skip?: (event: unknown) => boolean;
  /** More labels of the HTTP series, from the event or the response: their names, and how to read them. */
  extraLabels?: { names: string[]; values: (event: unknown, response: unknown) => Record<string, string> };
  /** process_cpu_seconds_total, process_resident_memory_bytes, nodejs_heap_size_used_bytes, process_start_time_seconds. Default true. */
  defaultMetrics?: boolean;
  /** function_cold_starts_total. Default true. */
  coldStart?: boolean;
  /** How long one push may wait for the gateway, in ms. Default 200. */
  timeoutMs?: number;
  /** Least time between two gateway POSTs of a slot, in ms; 0 POSTs after every invocation. Default 5000. */
  pushIntervalMs?: number;
  /**
   * Push slots in Redis, which keep fleet totals exact (the package README, "Push semantics"). `redis` is an
   * ioredis client with `enableOfflineQueue: false`, `maxRetriesPerRequest: 0` and a `commandTimeout`; `max` at
   * least the function's concurrency. Without slots, each container pushes a group of its own.
   */
  slots?: { redis: Redis; max: number; leaseTtlMs?: number };
  /**
   * Answer first and push after the response, before Lambda freezes the sandbox: an internal extension holds the
   * freeze until the push has settled. `runtimeApi` is `AWS_LAMBDA_RUNTIME_API`; where it is unset the push is
   * awaited before the response. Call `prometheusPush` at the top level of the handler's module (init), as usual:
   * registering blocks it until Lambda answers.
   */
  afterResponse?: { runtimeApi: string | undefined; onError?: (message: string, err: unknown) => void };
}

export interface PrometheusPush {
  readonly registry: Registry;
  /** Middy plugin: `middy(metrics.plugin())`, or `metrics.plugin({ route: 'GET /items/{id}' })` to fix the route. */
  plugin(options?: { route?: string }): { requestStart(request: TimedRequest): void; requestEnd(request: TimedRequest): Promise<void> };
  /** Ends an invocation's metrics by hand (a handler without the plugin); bounded, never throws. */
  push(requestId?: string): Promise<void>;
  /** The last values out and the slot given up; run on SIGTERM by the after-response mode. */
  shutdown(): Promise<void>;
  status(): PushStatus | undefined;
  /** Whether pushes run after the response (the extension registered), or are awaited before it. */
  readonly afterResponse: boolean;
}

// Lambda sends SIGTERM before a shutdown only to a runtime with an extension, and SIGKILLs it 500 ms later at most.
const SHUTDOWN_BUDGET_MS = 400;
const DEFAULT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const RESERVED_LABELS = ['job', 'instance', 'function', 'method', 'route', 'status_code', 'outcome', 'le'];

function check(ok: boolean, message: string): asserts ok {
  if (!ok) throw new TypeError(`middy-pushgateway: ${message}`);
}
const isPositiveInt = (n: unknown) => Number.isInteger(n) && (n as number) > 0;

function validate(o: PrometheusPushOptions): void {
  check(typeof o.functionName === 'string' && o.functionName !== '', 'functionName is required (on Lambda: process.env.AWS_LAMBDA_FUNCTION_NAME)');
  if (o.gatewayUrl !== undefined && o.gatewayUrl !== '') check(URL.canParse(o.gatewayUrl) && /^https?:$/.test(new URL(o.gatewayUrl).protocol), `gatewayUrl must be an http(s) URL, got "${o.gatewayUrl}"`);
  if (o.auth !== undefined) check(typeof o.auth.username === 'string' && typeof o.auth.password === 'string' && o.auth.username !== '', 'auth needs a username and a password');
  if (o.job !== undefined) check(typeof o.job === 'string' && o.job !== '', 'job must be a non-empty string');
  if (o.namespace !== undefined) check(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(o.namespace), `namespace must be a metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*), got "${o.namespace}"`);
  for (const name of [...Object.keys(o.constLabels ?? {}), ...(o.extraLabels?.names ?? [])]) {
    check(LABEL_NAME.test(name) && !name.startsWith('__'), `"${name}" is not a label name`);
    check(!RESERVED_LABELS.includes(name), `"${name}" is a label of the package's own`);
  }
  if (o.buckets !== undefined) {
    check(Array.isArray(o.buckets) && o.buckets.length > 0 && o.buckets.every((b, i) => Number.isFinite(b) && b > 0 && (i === 0 || b > o.buckets![i - 1]!)), 'buckets must be positive and increasing');
  }
  for (const code of o.statusCodes ?? []) check(/^[1-5]\d\d$/.test(String(code)), `statusCodes: "${code}" is not an HTTP status`);
  if (o.timeoutMs !== undefined) check(isPositiveInt(o.timeoutMs), 'timeoutMs must be a positive whole number of ms');
  if (o.pushIntervalMs !== undefined) check(Number.isInteger(o.pushIntervalMs) && o.pushIntervalMs >= 0, 'pushIntervalMs must be a whole number of ms, 0 or more');
  if (o.remoteWrite) check(o.slots !== undefined, 'remoteWrite needs slots: the flusher reads what the containers store in Redis');
  if (o.slots !== undefined) {
    check(typeof o.slots.redis?.options === 'object', 'slots.redis must be an ioredis client');
    check(isPositiveInt(o.slots.max), 'slots.max must be a positive whole number: at least the function\'s concurrency');
    if (o.slots.leaseTtlMs !== undefined) check(Number.isInteger(o.slots.leaseTtlMs) && o.slots.leaseTtlMs >= 2000, 'slots.leaseTtlMs must be 2000 ms or more (a push must fit in a lease)');
  }
  for (const fn of ['route', 'skip'] as const) if (o[fn] !== undefined) check(typeof o[fn] === 'function', `${fn} must be a function of the event`);
  if (o.extraLabels !== undefined) check(typeof o.extraLabels.values === 'function', 'extraLabels.values must be a function of the event and the response');
}

export function prometheusPush(options: PrometheusPushOptions): PrometheusPush {
  validate(options);
  const registry = options.registry ?? new Registry();
  if (options.constLabels) registry.setDefaultLabels(options.constLabels);
  if (options.defaultMetrics ?? true) registerProcessMetrics(registry);
  const requests = createRequestMetrics({
    registry,
    functionName: options.functionName,
    namespace: options.namespace ?? '',
    buckets: options.buckets ?? DEFAULT_BUCKETS,
    statusCodes: (options.statusCodes ?? [200, 500]).map(String),
    coldStart: options.coldStart ?? true,
    extraLabels: options.extraLabels,
    route: options.route ?? routeOf,
    skip: options.skip,
  });
  const pusher: Pusher | undefined = options.gatewayUrl || options.remoteWrite
    ? createPusher({
        registry,
        functionName: options.functionName,
        gatewayUrl: options.gatewayUrl || undefined,
        remoteWrite: options.remoteWrite,
        job: options.job ?? DEFAULT_JOB,
        timeoutMs: options.timeoutMs ?? 200,
        pushIntervalMs: options.pushIntervalMs ?? 5000,
        auth: options.auth,
        slots: options.slots ? createRedisSlotStore(options.slots.redis, options.job ?? DEFAULT_JOB) : undefined,
        maxSlots: options.slots?.max ?? 1,
        leaseTtlMs: options.slots?.leaseTtlMs ?? 60_000,
      })
    : undefined;

  // Registered now, during init: the runtime asks for its first invocation as soon as this module has loaded.
  const runtimeApi = options.afterResponse?.runtimeApi;
  const guard: FreezeGuard | undefined = pusher && runtimeApi ? guardFreezes(runtimeApi, options.afterResponse?.onError ?? (() => {})) : undefined;
  if (pusher && guard) {
    // Once done, the signal again with its default action: process.exit() would wait for the runtime client's
    // native thread, blocked in its request for the next invocation, and be SIGKILLed there.
    process.once('SIGTERM', () => {
      const budget = new Promise((resolve) => setTimeout(resolve, SHUTDOWN_BUDGET_MS));
      void Promise.race([pusher.shutdown(), budget]).finally(() => process.kill(process.pid, 'SIGTERM'));
    });
  }

  const push = async (requestId?: string): Promise<void> => {
    if (!pusher) return;
    if (guard && requestId !== undefined) return guard.hold(requestId, pusher.push);
    return pusher.push();
  };

  return {
    registry,
    plugin: (plugin) => requests.hooks(plugin?.route, push),
    push,
    shutdown: async () => pusher?.shutdown(),
    status: () => pusher?.status(),
    afterResponse: guard !== undefined,
  };
}
