// One variant of the in-process benchmark, in a fresh process (forked by scripts/bench/run.ts): fresh module
// state, so prom-client's global registry, our private one and their collectors never leak between variants.
//
//   node scripts/bench/invoke.ts <variant> <warmup> <invocations> <productId>
//
// The environment (DATABASE_URL, REDIS_URL, PUSHGATEWAY_URL for "ours", ...) is set by the parent. It invokes
// the real GET /api/products/{id} handler in-process, `warmup` times unmeasured (the first call misses the
// cache, the rest hit it), then `invocations` times measured, and sends the results over IPC. For
// "after-response" it also plays Lambda's side of the Extensions API (AWS_LAMBDA_RUNTIME_API), in this process.
import net from 'node:net';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { installNoMetricsHooks } from './no-metrics.ts';
import { startExtensionsApi } from './extensions-api.ts';
import { watchGatewayPosts } from '../support/gateway-posts.ts';
import { OUR_PUSHERS, type ChildResult, type Variant } from './variants.ts';
import type { Metric as PromMetric } from 'prom-client';

const variant = process.argv[2] as Variant;
const warmup = Number(process.argv[3]);
const invocations = Number(process.argv[4]);
const productId = process.argv[5]!;

// bare and powertools run the handler without our metrics stack at all (no prom-client loaded).
if (variant === 'bare' || variant === 'powertools') await installNoMetricsHooks();

// ---- accounting (counted only while `measuring`) ---------------------------------------------------------
let measuring = false;
const portOf = (url: string | undefined) => (url ? Number(new URL(url).port) : -1);
const gatewayPort = portOf(process.env.PUSHGATEWAY_URL ?? process.env.BENCH_GATEWAY_URL);
const redisPort = portOf(process.env.REDIS_URL);
const wire = { gateway: 0, redis: 0, other: 0 };
const byteLength = (chunk: unknown, encoding?: unknown) =>
  typeof chunk === 'string' ? Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : ((chunk as Uint8Array)?.byteLength ?? 0);

const socketWrite = net.Socket.prototype.write;
net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]) {
  if (measuring) {
    const bytes = byteLength(args[0], args[1]);
    if (this.remotePort === gatewayPort) wire.gateway += bytes;
    else if (this.remotePort === redisPort) wire.redis += bytes;
    else wire.other += bytes;
  }
  return (socketWrite as (...a: unknown[]) => boolean).apply(this, args);
} as typeof socketWrite;

// Our pusher's bodies and the families in them.
const pushed = { requests: 0, bodyBytes: 0, families: 0 };
watchGatewayPosts((body) => {
  if (!measuring) return;
  pushed.requests++;
  pushed.bodyBytes += Buffer.byteLength(body);
  pushed.families += body.split('\n# TYPE ').length - (body.startsWith('# TYPE ') ? 0 : 1);
});

// Powertools writes EMF to stdout (the parent sends it to /dev/null): count it.
let stdoutBytes = 0;
const stdoutWrite = process.stdout.write;
process.stdout.write = function (this: NodeJS.WriteStream, ...args: unknown[]) {
  if (measuring) stdoutBytes += byteLength(args[0], args[1]);
  return (stdoutWrite as (...a: unknown[]) => boolean).apply(this, args);
} as typeof stdoutWrite;

// ---- after-response: Lambda's side of the Extensions API, before the handler's import (which registers) ----
const extensionApi = variant === 'after-response' ? await startExtensionsApi() : undefined;
if (extensionApi) process.env.AWS_LAMBDA_RUNTIME_API = extensionApi.address;

// ---- the handler ------------------------------------------------------------------------------------------
const { handler } = await import('../../functions/products/get.ts');
const { httpEvent, lambdaContext } = await import('../support/lambda.ts');
// Without the extension the pushes would be awaited in the handler: the numbers of "ours" under another name.
if (extensionApi && !(await import('../../lib/metrics/container.ts')).metrics.afterResponse) {
  throw new Error('after-response: the metrics extension did not register (METRICS_AFTER_RESPONSE=true and PUSHGATEWAY_URL set?)');
}
type Response = { statusCode: number; headers?: Record<string, string | number | boolean> };
let invoke: (event: APIGatewayProxyEventV2, context: Context) => Promise<Response> = (event, context) => handler(event, context) as Promise<Response>;
let naiveFailures = 0;
let registryBytes: () => Promise<{ bytes: number; families: number } | undefined> = async () => undefined;

if (variant === 'naive') {
  // What the tutorials do: default metrics on prom-client's global registry, the app's metrics in that same
  // registry, and Pushgateway#pushAdd of the whole global registry after every request. Our families are
  // recorded as in "ours" (the real hooks, pushing disabled) and registered in the global registry too, minus
  // our four process_* / nodejs_* families, which the default metrics already have.
  const client = await import('prom-client');
  const { registry } = await import('../../lib/metrics/registry.ts');
  client.collectDefaultMetrics();
  for (const metric of registry.getMetricsAsArray() as unknown as PromMetric[]) {
    if (!client.register.getSingleMetric((metric as unknown as { name: string }).name)) client.register.registerMetric(metric);
  }
  const gateway = new client.Pushgateway(process.env.BENCH_GATEWAY_URL!);
  const inner = invoke;
  invoke = async (event, context) => {
    const response = await inner(event, context);
    await gateway.pushAdd({ jobName: 'bench-naive' }).catch(() => naiveFailures++);
    return response;
  };
  registryBytes = async () => ({ bytes: Buffer.byteLength(await client.register.metrics()), families: client.register.getMetricsAsArray().length });
}

if (OUR_PUSHERS.includes(variant) || variant === 'recorded') {
  const { registry } = await import('../../lib/metrics/registry.ts');
  registryBytes = async () => ({ bytes: Buffer.byteLength(await registry.metrics()), families: registry.getMetricsAsArray().length });
}

if (variant === 'powertools') {
  // The serverless reference: EMF lines on stdout, which CloudWatch turns into metrics; nothing on the network.
  const { Metrics, MetricUnit } = await import('@aws-lambda-powertools/metrics');
  const { logMetrics } = await import('@aws-lambda-powertools/metrics/middleware');
  const metrics = new Metrics({ namespace: 'serverless-shop', serviceName: 'getProduct' });
  const START = Symbol('start');
  type Timed = { internal: Record<string | symbol, unknown> };
  (handler as unknown as { use(m: object): unknown }).use(logMetrics(metrics, { captureColdStartMetric: true }));
  // Roughly what our hooks record: a count and a latency per request (flushed by logMetrics' after).
  (handler as unknown as { use(m: object): unknown }).use({
    before: (request: Timed) => {
      request.internal[START] = performance.now();
    },
    after: (request: Timed) => {
      metrics.addMetric('Requests', MetricUnit.Count, 1);
      metrics.addMetric('Latency', MetricUnit.Milliseconds, performance.now() - (request.internal[START] as number));
    },
  });
}

// ---- the loops --------------------------------------------------------------------------------------------
const route = 'GET /api/products/{id}';
let bad = 0;
let misses = 0;
let requests = 0;
async function once(): Promise<[latencyUs: number, cpuUs: number, busyAfterUs: number]> {
  const event = httpEvent(route, { params: { id: productId } });
  // Unique, as on Lambda: the extension matches each invocation's push to its event by request id.
  const context = { ...lambdaContext(), awsRequestId: `bench-${++requests}` };
  if (extensionApi) await extensionApi.start(context.awsRequestId);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const response = await invoke(event, context);
  const t1 = process.hrtime.bigint();
  // The client has its answer at t1, but the invocation costs (CPU, billed time, the next one's wait) until t2.
  const t2 = extensionApi ? await extensionApi.phaseEnd() : t1;
  const cpu = process.cpuUsage(cpu0);
  if (response.statusCode !== 200) bad++;
  if (response.headers?.['X-Cache'] !== 'HIT') misses++;
  return [Number(t1 - t0) / 1000, cpu.user + cpu.system, Number(t2 - t1) / 1000];
}

for (let i = 0; i < warmup; i++) await once();
bad = 0;
misses = 0;
const latencyUs = new Float64Array(invocations);
const cpuUs = new Float64Array(invocations);
const busyAfterUs = new Float64Array(invocations);
const wallStart = process.hrtime.bigint();
measuring = true;
for (let i = 0; i < invocations; i++) [latencyUs[i], cpuUs[i], busyAfterUs[i]] = await once();
measuring = false;
const wallMs = Number(process.hrtime.bigint() - wallStart) / 1e6;

let pushStatus: ChildResult['pushStatus'];
if (OUR_PUSHERS.includes(variant)) {
  const container = await import('../../lib/metrics/container.ts');
  pushStatus = container.pushStatus();
}

const result: ChildResult = {
  variant,
  invocations,
  latencyUs: [...latencyUs],
  cpuUs: [...cpuUs],
  busyAfterUs: [...busyAfterUs],
  wallMs,
  bad,
  misses,
  naiveFailures,
  wire,
  pushed,
  stdoutBytes,
  registry: await registryBytes(),
  pushStatus,
};
process.send!(result, () => process.exit(0));
