// One function container in a worker thread: the real handlers, with the module state a Lambda container has
// (config read from this worker's own environment, one registry, one pusher, one pg pool, one Redis client).
// Several workers are several containers; each serves one request at a time, as a Lambda container does.
// Driven by test/support/function-container.ts over the worker's message port.
import { parentPort } from 'node:worker_threads';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { httpEvent, lambdaContext } from '../../scripts/support/lambda.ts';
import { pushStatus } from '../../lib/metrics/container.ts';
import { registry } from '../../lib/metrics/registry.ts';
import { handler as metricsJanitor } from '../../functions/ops/metrics-janitor.ts';
import type { CallOptions, LoadPlan, LoadRecord, Reply, Request } from './function-container.ts';

type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<{ statusCode: number; headers?: Record<string, unknown>; body?: string }>;

const HANDLER_FILES: Record<string, string> = {
  'GET /api/products/{id}': '../../functions/products/get.ts',
  'GET /api/products': '../../functions/products/list.ts',
  'POST /api/orders': '../../functions/orders/create.ts',
  'POST /api/users/register': '../../functions/users/register.ts',
  'POST /api/users/login': '../../functions/users/login.ts',
  'GET /healthz': '../../functions/ops/healthz.ts',
  'GET /healthz/metrics': '../../functions/ops/healthz-metrics.ts',
  'GET /info': '../../functions/ops/info.ts',
};
// Loaded before the first message is read: a module's first import is start-up time, not a request's.
const HANDLERS = new Map<string, Handler>(
  await Promise.all(Object.entries(HANDLER_FILES).map(async ([route, file]) => [route, ((await import(file)) as { handler: Handler }).handler] as const)),
);

/** Every API invocation this container served, and the orders it created: the truth the gateway must add up to. */
const served = { invocations: 0, ordersCreated: 0 };

async function call(route: string, options: CallOptions = {}): Promise<Reply> {
  const handler = HANDLERS.get(route);
  if (!handler) throw new Error(`no handler for ${route}`);
  const response = await handler(httpEvent(route, options), lambdaContext());
  served.invocations++;
  if (route === 'POST /api/orders' && response.statusCode === 201 && !response.headers?.['Idempotent-Replayed']) served.ordersCreated++;
  const headers = Object.fromEntries(Object.entries(response.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
  return { status: response.statusCode, headers, body: response.body ?? '' };
}

// The load: GET a product, GET the first catalogue page, POST an order of 1-3 units with its own
// Idempotency-Key, round and round, one at a time, until told to stop.
const loadState = { stopping: false, done: Promise.resolve<LoadRecord[]>([]) };

async function invokeOnce(plan: LoadPlan, n: number): Promise<Omit<LoadRecord, 'at' | 'ms'>> {
  if (n % 3 === 0) {
    const reply = await call('GET /api/products/{id}', { params: { id: String(plan.productId) } });
    return { route: 'GET /api/products/{id}', status: reply.status, cache: reply.headers['x-cache'], body: reply.body };
  }
  if (n % 3 === 1) {
    const reply = await call('GET /api/products');
    return { route: 'GET /api/products', status: reply.status, cache: reply.headers['x-cache'], body: reply.body };
  }
  const key = `${plan.keyPrefix}-${n}`;
  const quantity = 1 + (n % 3);
  const reply = await call('POST /api/orders', {
    body: { items: [{ productId: plan.productId, quantity }] },
    headers: { authorization: `Bearer ${plan.token}`, 'idempotency-key': key },
  });
  return { route: 'POST /api/orders', status: reply.status, key, quantity, body: reply.body };
}

async function runLoad(plan: LoadPlan): Promise<LoadRecord[]> {
  const records: LoadRecord[] = [];
  for (let n = 0; !loadState.stopping; n++) {
    const at = Date.now();
    const started = performance.now();
    const { body, ...record } = await invokeOnce(plan, n);
    // Bodies only of failures: thousands of catalogue pages would swamp the message port.
    records.push({ at, ms: performance.now() - started, ...record, ...(record.status >= 300 ? { body } : {}) });
    // One invocation per turn of the event loop, as Lambda delivers them: an invocation served from the
    // in-process cache without a push does no I/O at all, and back to back they would starve this port.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return records;
}

async function dispatch(request: Request): Promise<unknown> {
  switch (request.op) {
    case 'call':
      return call(request.route, request.options);
    case 'startLoad':
      // One round unrecorded first: the container's first calls open its pool and Redis connections and
      // claim its slot, which is its cold start, not the steady state a fault is compared with.
      for (let n = 0; n < 3; n++) await invokeOnce({ ...request.plan, keyPrefix: `${request.plan.keyPrefix}-warm` }, n);
      loadState.stopping = false;
      loadState.done = runLoad(request.plan);
      return undefined;
    case 'stopLoad':
      loadState.stopping = true;
      return loadState.done;
    case 'served':
      return { ...served };
    case 'pushStatus':
      return pushStatus();
    case 'metric':
      return (await registry.getSingleMetric(request.name)?.get())?.values ?? [];
    case 'janitor':
      return metricsJanitor();
  }
}

parentPort!.on('message', (request: Request) => {
  dispatch(request).then(
    (value) => parentPort!.postMessage({ id: request.id, ok: true, value }),
    (err: unknown) => parentPort!.postMessage({ id: request.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
