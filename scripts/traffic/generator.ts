// Shop traffic for the dashboards: people browse and search the catalogue (mostly the same popular products,
// so mostly cache hits), register, log in (now and then with a wrong password), order with an
// Idempotency-Key (sometimes retried), and an admin moves orders along pending → paid → shipped → delivered,
// cancels some and restocks what runs low. A few requests are wrong on purpose and must get their 4xx.
//
// Every request is one step of a weighted mix, paced to `rps` over `concurrency` workers. The run starts
// with one pass over every step, so a short run still hits every route. Each answer is checked against what
// the step expects; anything else is reported as unexpected.
//
// The report also keeps what the client saw, as the shop's counters should count it (`answered`, `counted`):
// the exactness suite compares them with what reached the Pushgateway.
import { seriesKey } from '../../packages/middy-pushgateway/src/exposition.ts';

export interface Credentials {
  email: string;
  password: string;
}

export interface TrafficOptions {
  baseUrl: string;
  durationMs: number;
  /** Requests per second, over all workers. */
  rps: number;
  /** Requests in flight at most. */
  concurrency: number;
  admin: Credentials;
  /** Only the products of this category are viewed, ordered and restocked (for a server that others use). */
  category?: string;
  /** Stops the run early; requests in flight are abandoned, not counted. */
  signal?: AbortSignal;
  /** How long a request may take before the client gives up on it (default 10 s). */
  requestTimeoutMs?: number;
  /** Given the report once the run is set up (admin logged in, catalogue read), as the mix starts: to watch it
   * fill (answers, requests in flight) and to time what goes on beside it. */
  onStart?: (report: TrafficReport) => void;
}

export const STATUS_CLASSES = ['2xx', '3xx', '4xx', '5xx', 'error'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

export interface Unexpected {
  step: string;
  route: string;
  status: number;
  body: string;
}

export interface TrafficReport {
  /** Answers by route (`METHOD /template`, as serverless.yml declares it) and status class. */
  byRoute: Record<string, Record<StatusClass, number>>;
  /** Answers by `METHOD /template status`, exactly. */
  answered: Record<string, number>;
  /** The business counters' increments the answers imply, by series key (`product_views_total{category="x"}`). */
  counted: Record<string, number>;
  /** Requests sent and not answered yet, by route. */
  inFlight: Record<string, number>;
  /** How often each step ran. */
  steps: Record<string, number>;
  /** The first answers that were not what their step expects, and how many there were in all. */
  unexpected: Unexpected[];
  unexpectedCount: number;
  createdOrderIds: number[];
  elapsedMs: number;
}

interface Customer extends Credentials {
  token: string;
  /** Wrong passwords since the last good login: kept below the shop's lockout (LOGIN_MAX_FAILURES). */
  failures: number;
}
interface Order {
  id: number;
  status: string;
  token: string;
}
interface Product {
  id: number;
  category: string;
  stock: number;
  currency: string;
}
interface Reply {
  status: number;
  body: any;
  headers: Headers;
}
interface Request {
  route: string;
  path: string;
  method?: string;
  body?: unknown;
  /** Sent as is, with a JSON content type. */
  raw?: string;
  token?: string;
  headers?: Record<string, string>;
  /** Statuses this step expects; `code` is also checked when given (error answers). */
  expect: number[];
  code?: string;
}

const MAX_UNEXPECTED_KEPT = 20;
const MAX_POOL = 200;
const REQUEST_TIMEOUT_MS = 10_000;
const PASSWORD = 'traffic-password-1';
const LOW_STOCK = 10;
const RESTOCK_TO = 150;
// Above any stock this generator sets, and the largest quantity the API accepts.
const TOO_MANY = 1000;
const MAX_ID = 2 ** 53 - 1;

const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(Math.random() * items.length)];
const chance = (p: number) => Math.random() < p;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One run's shared state: what the simulated people know of the shop. */
class Run {
  readonly report: TrafficReport = { byRoute: {}, answered: {}, counted: {}, inFlight: {}, steps: {}, unexpected: [], unexpectedCount: 0, createdOrderIds: [], elapsedMs: 0 };
  readonly runId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  adminToken = '';
  products: Product[] = [];
  customers: Customer[] = [];
  /** Products this run added, for the admin to delete again. */
  added: number[] = [];
  readonly addedSkuPrefix = `TRAFFIC-${this.runId.toUpperCase()}-`;
  orders = new Map<string, Order[]>();
  lastOrder: { token: string; key: string; body: unknown } | undefined;
  private counter = 0;
  private nextSlot = 0;
  readonly o: TrafficOptions;

  constructor(o: TrafficOptions) {
    this.o = o;
  }

  next = () => ++this.counter;

  /** Waits for this request's turn, so that requests start `rps` per second at most. */
  private async pace() {
    const now = performance.now();
    const slot = Math.max(this.nextSlot, now);
    this.nextSlot = slot + 1000 / this.o.rps;
    if (slot > now) await sleep(slot - now);
  }

  async send(step: string, r: Request): Promise<Reply | undefined> {
    await this.pace();
    if (this.o.signal?.aborted) return undefined;
    const headers: Record<string, string> = { ...r.headers };
    if (r.token) headers.authorization = `Bearer ${r.token}`;
    const body = r.raw ?? (r.body === undefined ? undefined : JSON.stringify(r.body));
    if (body !== undefined) headers['content-type'] = 'application/json';
    const timeout = AbortSignal.timeout(this.o.requestTimeoutMs ?? REQUEST_TIMEOUT_MS);
    const inFlight = this.report.inFlight;
    inFlight[r.route] = (inFlight[r.route] ?? 0) + 1;
    let reply: Reply;
    try {
      const response = await fetch(new URL(r.path, this.o.baseUrl), {
        method: r.method ?? 'GET',
        headers,
        body,
        signal: this.o.signal ? AbortSignal.any([timeout, this.o.signal]) : timeout,
      });
      const text = await response.text();
      reply = { status: response.status, headers: response.headers, body: parseJson(text) ?? text };
    } catch (err) {
      inFlight[r.route]!--;
      if (this.o.signal?.aborted) return undefined;
      this.count(r.route, 'error');
      this.unexpected(step, r.route, 0, (err as Error).message);
      return undefined;
    }
    this.count(r.route, `${Math.floor(reply.status / 100)}xx` as StatusClass);
    const answer = `${r.route} ${reply.status}`;
    this.report.answered[answer] = (this.report.answered[answer] ?? 0) + 1;
    inFlight[r.route]!--;
    // The nginx edge answers 429 RATE_LIMITED when traffic goes through it faster than its limit.
    const throttled = reply.status === 429 && reply.body?.error?.code === 'RATE_LIMITED';
    const expected = r.expect.includes(reply.status) && (r.code === undefined || reply.body?.error?.code === r.code);
    if (!expected && !throttled) this.unexpected(step, r.route, reply.status, typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
    return expected ? reply : undefined;
  }

  private count(route: string, statusClass: StatusClass) {
    const counts = (this.report.byRoute[route] ??= { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, error: 0 });
    counts[statusClass]++;
  }

  /** The shop counts this on `metric` (a business counter), as the answer shows. */
  expectCount(metric: string, labels: Record<string, string>, n = 1) {
    const key = seriesKey(metric, labels);
    this.report.counted[key] = (this.report.counted[key] ?? 0) + n;
  }

  unexpected(step: string, route: string, status: number, body: string) {
    this.report.unexpectedCount++;
    if (this.report.unexpected.length < MAX_UNEXPECTED_KEPT) this.report.unexpected.push({ step, route, status, body: body.slice(0, 300) });
  }

  inScope = (p: Product) => !this.o.category || p.category === this.o.category;

  /** Keeps what a product answer says (its stock in particular). */
  learn(item: any) {
    const product: Product = { id: item.id, category: item.category, stock: item.stock, currency: item.currency };
    // The admin's own additions are never viewed or ordered: one may be deleted between a pick and its request.
    if (!this.inScope(product) || String(item.sku).startsWith(this.addedSkuPrefix)) return;
    const known = this.products.findIndex((p) => p.id === product.id);
    if (known >= 0) this.products[known] = product;
    else this.products.push(product);
  }

  forget(productId: number) {
    this.products = this.products.filter((p) => p.id !== productId);
  }

  /** Takes an order in one of these statuses out of the pool, so that no two workers move the same one. */
  takeOrder(...statuses: string[]): Order | undefined {
    const status = pick(statuses.filter((s) => this.orders.get(s)?.length));
    const pool = status ? this.orders.get(status)! : undefined;
    return pool?.splice(Math.floor(Math.random() * pool.length), 1)[0];
  }

  putOrder(order: Order) {
    const pool = this.orders.get(order.status) ?? [];
    pool.push(order);
    if (pool.length > MAX_POOL) pool.shift();
    this.orders.set(order.status, pool);
  }

  addCustomer(customer: Customer) {
    this.customers.push(customer);
    if (this.customers.length > MAX_POOL) this.customers.shift();
  }

  /** Most views go to a few popular products, as in a real shop: those answers come from the cache. */
  popularProduct(): Product | undefined {
    return chance(0.8) ? pick(this.products.slice(0, 5)) : pick(this.products);
  }
}

const parseJson = (text: string): unknown => {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
};

type Step = (run: Run, name: string) => Promise<boolean>;

const SORTS = ['id', 'name', '-name', 'price', '-price', 'newest'];
const WORDS = ['mug', 'garden', 'book', 'wireless', 'yoga', 'lamp', 'kite', 'coffee'];

const productsPath = (query: Record<string, string | number | undefined>) => {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  return `/api/products?${params}`;
};

async function register(run: Run, name: string): Promise<Customer | undefined> {
  const email = `shopper-${run.runId}-${run.next()}@example.com`;
  const reply = await run.send(name, {
    route: 'POST /api/users/register',
    path: '/api/users/register',
    method: 'POST',
    body: { email, password: PASSWORD, name: 'Traffic Shopper' },
    expect: [201],
  });
  if (!reply) return undefined;
  run.expectCount('user_registrations_total', {});
  const customer = { email, password: PASSWORD, token: reply.body.token, failures: 0 };
  run.addCustomer(customer);
  return customer;
}

const customer = async (run: Run, name: string) => pick(run.customers) ?? register(run, name);

/** Moves an order one step along its life, as the admin does. */
const move = (from: string[], to: string): Step => async (run, name) => {
  const order = run.takeOrder(...from);
  if (!order) return false;
  const reply = await run.send(name, {
    route: 'PATCH /api/orders/{id}/status',
    path: `/api/orders/${order.id}/status`,
    method: 'PATCH',
    token: run.adminToken,
    body: { status: to },
    expect: [200],
  });
  if (reply) run.expectCount('order_status_transitions_total', { from: order.status, to });
  run.putOrder(reply ? { ...order, status: to } : order);
  return true;
};

/** A request that is wrong on purpose, and the error it must get. */
const bad = (request: (run: Run) => Promise<Omit<Request, 'expect'> | undefined>, status: number, code: string): Step => async (run, name) => {
  const r = await request(run);
  if (!r) return false;
  await run.send(name, { ...r, expect: [status], code });
  return true;
};

export const STEPS: Record<string, Step> = {
  // Half the visits land on the front page, the others on a category page, sometimes sorted or the next page:
  // a few popular pages, as in a real shop, so that most answers come from the cache.
  async browse(run, name) {
    const category = pick([...new Set(run.products.map((p) => p.category))]);
    const path = chance(0.5)
      ? '/api/products'
      : productsPath({ category, sort: chance(0.3) ? pick(SORTS) : undefined, offset: chance(0.2) ? 20 : undefined });
    const reply = await run.send(name, { route: 'GET /api/products', path, expect: [200] });
    for (const item of reply?.body.items ?? []) run.learn(item);
    return true;
  },
  async search(run, name) {
    await run.send(name, { route: 'GET /api/products', path: productsPath({ q: pick(WORDS), category: run.o.category }), expect: [200] });
    return true;
  },
  async view(run, name) {
    const product = run.popularProduct();
    if (!product) return false;
    // 404: deleted since we saw it.
    const reply = await run.send(name, { route: 'GET /api/products/{id}', path: `/api/products/${product.id}`, expect: [200, 404] });
    if (reply?.status === 200) {
      run.learn(reply.body);
      run.expectCount('product_views_total', { category: reply.body.category });
    }
    if (reply?.status === 404) run.forget(product.id);
    return true;
  },
  async register(run, name) {
    await register(run, name);
    return true;
  },
  async login(run, name) {
    const who = pick(run.customers);
    if (!who) return false;
    const reply = await run.send(name, { route: 'POST /api/users/login', path: '/api/users/login', method: 'POST', body: { email: who.email, password: who.password }, expect: [200] });
    if (reply) {
      Object.assign(who, { token: reply.body.token, failures: 0 });
      run.expectCount('user_logins_total', { result: 'success' });
    }
    return true;
  },
  async 'login-wrong-password'(run, name) {
    const who = pick(run.customers.filter((c) => c.failures < 2));
    if (!who) return false;
    who.failures++;
    const reply = await run.send(name, {
      route: 'POST /api/users/login',
      path: '/api/users/login',
      method: 'POST',
      body: { email: who.email, password: `${who.password}-typo` },
      expect: [401],
      code: 'INVALID_CREDENTIALS',
    });
    if (reply) run.expectCount('user_logins_total', { result: 'failure' });
    return true;
  },
  async me(run, name) {
    const who = pick(run.customers);
    if (!who) return false;
    await run.send(name, { route: 'GET /api/users/me', path: '/api/users/me', token: who.token, expect: [200] });
    return true;
  },
  async order(run, name) {
    const available = run.products.filter((p) => p.stock >= 3);
    const first = pick(available);
    const who = first && (await customer(run, name));
    if (!first || !who) return false;
    const others = available.filter((p) => p.id !== first.id && p.currency === first.currency);
    const lines = [first, ...(chance(0.3) && others.length ? [pick(others)!] : [])];
    const body = { items: lines.map((p) => ({ productId: p.id, quantity: chance(0.8) ? 1 : 2 })) };
    const key = `traffic-${run.runId}-${run.next()}`;
    // 409: another worker bought the last units first.
    const reply = await run.send(name, { route: 'POST /api/orders', path: '/api/orders', method: 'POST', token: who.token, headers: { 'idempotency-key': key }, body, expect: [201, 409] });
    if (reply?.status !== 201) return true;
    run.expectCount('orders_created_total', { status: reply.body.status });
    run.expectCount('revenue_total', { currency: reply.body.currency }, reply.body.totalCents);
    run.report.createdOrderIds.push(reply.body.id);
    run.putOrder({ id: reply.body.id, status: reply.body.status, token: who.token });
    run.lastOrder = { token: who.token, key, body };
    for (const item of body.items) {
      const product = run.products.find((p) => p.id === item.productId);
      if (product) product.stock -= item.quantity;
    }
    return true;
  },
  // A client that lost the answer retries with the same key, and gets the same order back.
  async 'order-retry'(run, name) {
    const last = run.lastOrder;
    if (!last) return false;
    const reply = await run.send(name, { route: 'POST /api/orders', path: '/api/orders', method: 'POST', token: last.token, headers: { 'idempotency-key': last.key }, body: last.body, expect: [201] });
    if (reply && reply.headers.get('idempotent-replayed') !== 'true') run.unexpected(name, 'POST /api/orders', reply.status, 'no Idempotent-Replayed: true on a retry');
    return true;
  },
  async 'my-orders'(run, name) {
    const who = pick(run.customers);
    if (!who) return false;
    await run.send(name, { route: 'GET /api/orders', path: '/api/orders?limit=10', token: who.token, expect: [200] });
    return true;
  },
  async 'order-detail'(run, name) {
    const order = pick([...run.orders.values()].flat());
    if (!order) return false;
    await run.send(name, { route: 'GET /api/orders/{id}', path: `/api/orders/${order.id}`, token: order.token, expect: [200] });
    return true;
  },
  pay: move(['pending'], 'paid'),
  ship: move(['paid'], 'shipped'),
  deliver: move(['shipped'], 'delivered'),
  cancel: move(['pending', 'paid'], 'cancelled'),
  async restock(run, name) {
    const product = [...run.products].sort((a, b) => a.stock - b.stock)[0];
    if (!product) return false;
    const reply = await run.send(name, {
      route: 'PUT /api/products/{id}',
      path: `/api/products/${product.id}`,
      method: 'PUT',
      token: run.adminToken,
      body: { stock: RESTOCK_TO },
      expect: [200, 404],
    });
    if (reply?.status === 200) run.learn(reply.body);
    if (reply?.status === 404) run.forget(product.id);
    return true;
  },
  'out-of-stock': bad(async (run) => {
    const product = pick(run.products.filter((p) => p.stock < TOO_MANY));
    const who = product && (await customer(run, 'out-of-stock'));
    if (!product || !who) return undefined;
    return { route: 'POST /api/orders', path: '/api/orders', method: 'POST', token: who.token, body: { items: [{ productId: product.id, quantity: TOO_MANY }] } };
  }, 409, 'OUT_OF_STOCK'),
  async healthz(run, name) {
    await run.send(name, { route: 'GET /healthz', path: '/healthz', expect: [200] });
    return true;
  },
  async info(run, name) {
    await run.send(name, { route: 'GET /info', path: '/info', expect: [200] });
    return true;
  },
  async 'metrics-summary'(run, name) {
    await run.send(name, { route: 'GET /healthz/metrics', path: '/healthz/metrics', expect: [200] });
    return true;
  },
  // The admin adds a product now and then, and takes one of those out again.
  async 'add-product'(run, name) {
    const n = run.next();
    const reply = await run.send(name, {
      route: 'POST /api/products',
      path: '/api/products',
      method: 'POST',
      token: run.adminToken,
      body: { sku: `${run.addedSkuPrefix}${n}`, name: `Traffic item ${n}`, category: run.o.category ?? 'traffic', priceCents: 500 + n, stock: 50 },
      expect: [201],
    });
    if (reply) run.added.push(reply.body.id);
    return true;
  },
  async 'remove-product'(run, name) {
    const id = run.added.shift();
    if (id === undefined) return false;
    await run.send(name, { route: 'DELETE /api/products/{id}', path: `/api/products/${id}`, method: 'DELETE', token: run.adminToken, expect: [204] });
    return true;
  },
  'bad-json': bad(async () => ({ route: 'POST /api/users/login', path: '/api/users/login', method: 'POST', raw: '{"email": "someone@example.com", ' }), 400, 'MALFORMED_JSON'),
  'bad-unknown-field': bad(
    async (run) => ({
      route: 'POST /api/users/register',
      path: '/api/users/register',
      method: 'POST',
      body: { email: `sneaky-${run.runId}-${run.next()}@example.com`, password: PASSWORD, name: 'Sneaky', role: 'admin' },
    }),
    400,
    'VALIDATION_ERROR',
  ),
  'bad-product-id': bad(async () => ({ route: 'GET /api/products/{id}', path: '/api/products/not-a-number' }), 400, 'VALIDATION_ERROR'),
  'unknown-product': bad(async () => ({ route: 'GET /api/products/{id}', path: `/api/products/${MAX_ID}` }), 404, 'NOT_FOUND'),
  'bad-quantity': bad(async (run) => {
    const product = pick(run.products);
    const who = product && (await customer(run, 'bad-quantity'));
    if (!product || !who) return undefined;
    return { route: 'POST /api/orders', path: '/api/orders', method: 'POST', token: who.token, body: { items: [{ productId: product.id, quantity: '2' }] } };
  }, 400, 'VALIDATION_ERROR'),
  'order-without-token': bad(async (run) => {
    const product = pick(run.products);
    return product && { route: 'POST /api/orders', path: '/api/orders', method: 'POST', body: { items: [{ productId: product.id, quantity: 1 }] } };
  }, 401, 'UNAUTHORIZED'),
  'customer-moves-order': bad(async (run) => {
    const order = pick([...run.orders.values()].flat());
    return order && { route: 'PATCH /api/orders/{id}/status', path: `/api/orders/${order.id}/status`, method: 'PATCH', token: order.token, body: { status: 'delivered' } };
  }, 403, 'FORBIDDEN'),
  'unknown-path': bad(async () => ({ route: 'ANY $default', path: '/api/nowhere' }), 404, 'NOT_FOUND'),
  'invalid-transition': bad(async (run) => {
    const order = pick([...(run.orders.get('delivered') ?? []), ...(run.orders.get('cancelled') ?? [])]);
    return order && { route: 'PATCH /api/orders/{id}/status', path: `/api/orders/${order.id}/status`, method: 'PATCH', token: run.adminToken, body: { status: 'paid' } };
  }, 409, 'INVALID_TRANSITION'),
};

/** Steps whose every request must get a 4xx. */
export const BAD_INPUT_STEPS = ['login-wrong-password', 'out-of-stock', 'bad-json', 'bad-unknown-field', 'bad-product-id', 'unknown-product', 'bad-quantity', 'order-without-token', 'customer-moves-order', 'invalid-transition', 'unknown-path'];

/** Every route the mix hits, as serverless.yml declares them. */
export const MIX_ROUTES = [
  'GET /api/products',
  'GET /api/products/{id}',
  'POST /api/products',
  'PUT /api/products/{id}',
  'DELETE /api/products/{id}',
  'POST /api/users/register',
  'POST /api/users/login',
  'GET /api/users/me',
  'POST /api/orders',
  'GET /api/orders',
  'GET /api/orders/{id}',
  'PATCH /api/orders/{id}/status',
  'GET /healthz',
  'GET /healthz/metrics',
  'GET /info',
  'ANY $default',
];

// The first pass, in an order where each step finds what it needs: two orders, so that one is cancelled
// while the other goes all the way to delivered.
const TOUR = ['browse', 'search', 'view', 'register', 'login', 'login-wrong-password', 'me', 'order', 'order-retry', 'order', 'my-orders', 'order-detail', 'pay', 'ship', 'deliver', 'cancel', 'restock', 'add-product', 'remove-product', 'healthz', 'metrics-summary', 'info', ...BAD_INPUT_STEPS];

// Relative frequencies after the first pass: mostly reading, some buying, a little admin work and mistakes.
// Every stock change empties the cached lists, so orders stay rare enough for most reads to hit the cache
// (monitoring/rules/alerts.yml: CacheHitRatioCollapse below 50%).
const WEIGHTS: Record<string, number> = {
  browse: 25, search: 3, view: 40, register: 2, login: 3, 'login-wrong-password': 1, me: 2, order: 4, 'order-retry': 0.5,
  'my-orders': 3, 'order-detail': 2, pay: 2.5, ship: 2, deliver: 1.6, cancel: 0.5, healthz: 1, info: 0.5, 'metrics-summary': 0.3,
  'add-product': 0.3, 'remove-product': 0.2, 'unknown-path': 0.3,
  'out-of-stock': 0.3, 'bad-json': 0.3, 'bad-unknown-field': 0.3, 'bad-product-id': 0.3, 'unknown-product': 0.3,
  'bad-quantity': 0.3, 'order-without-token': 0.3, 'customer-moves-order': 0.3, 'invalid-transition': 0.3,
};
const TOTAL_WEIGHT = Object.values(WEIGHTS).reduce((a, b) => a + b, 0);

function weightedStep(run: Run): string {
  // The admin restocks (only) what runs low, before it turns every order into an OUT_OF_STOCK.
  if (run.products.some((p) => p.stock < LOW_STOCK) && chance(0.2)) return 'restock';
  let r = Math.random() * TOTAL_WEIGHT;
  for (const [name, weight] of Object.entries(WEIGHTS)) if ((r -= weight) < 0) return name;
  return 'browse';
}

async function runStep(run: Run, name: string): Promise<boolean> {
  const done = await STEPS[name]!(run, name);
  if (done) run.report.steps[name] = (run.report.steps[name] ?? 0) + 1;
  return done;
}

async function setUp(run: Run) {
  const login = await run.send('admin-login', { route: 'POST /api/users/login', path: '/api/users/login', method: 'POST', body: run.o.admin, expect: [200] });
  if (!login) throw new Error(`admin login as ${run.o.admin.email} failed: ${JSON.stringify(run.report.unexpected.at(-1) ?? 'interrupted')}`);
  run.adminToken = login.body.token;
  run.expectCount('user_logins_total', { result: 'success' });
  for (let offset = 0; offset <= 10_000; offset += 100) {
    const page = await run.send('browse', { route: 'GET /api/products', path: productsPath({ category: run.o.category, limit: 100, offset }), expect: [200] });
    for (const item of page?.body.items ?? []) run.learn(item);
    if (!page || offset + 100 >= page.body.total) break;
  }
  if (run.products.length === 0) {
    const last = run.report.unexpected.at(-1);
    throw new Error(`no products${run.o.category ? ` in category ${run.o.category}` : ''} at ${run.o.baseUrl}${last ? `: ${last.status} ${last.body}` : ''}`);
  }
}

export async function runTraffic(o: TrafficOptions): Promise<TrafficReport> {
  const run = new Run(o);
  const started = performance.now();
  await setUp(run);
  o.onStart?.(run.report);
  const deadline = Date.now() + o.durationMs;
  // The tour is a lane of its own beside the workers: every route is hit while the mix goes on, cold or not.
  const tour = async () => {
    for (const name of TOUR) {
      if (o.signal?.aborted) break;
      await runStep(run, name);
    }
  };
  const worker = async () => {
    while (Date.now() < deadline && !o.signal?.aborted) {
      let name = weightedStep(run);
      // A step with nothing to act on yet (no paid order to ship) gives its turn to a browse.
      if (!(await runStep(run, name))) await runStep(run, (name = 'browse'));
    }
  };
  await Promise.all([tour(), ...Array.from({ length: o.concurrency }, worker)]);
  run.report.elapsedMs = performance.now() - started;
  return run.report;
}

export function formatReport(report: TrafficReport): string {
  const routes = Object.keys(report.byRoute).sort((a, b) => a.split(' ')[1]!.localeCompare(b.split(' ')[1]!) || a.localeCompare(b));
  const width = Math.max(5, ...routes.map((r) => r.length));
  const row = (label: string, cells: readonly (string | number)[]) => label.padEnd(width) + cells.map((c) => String(c).padStart(8)).join('');
  const totals = Object.fromEntries(STATUS_CLASSES.map((c) => [c, routes.reduce((sum, r) => sum + report.byRoute[r]![c], 0)])) as Record<StatusClass, number>;
  const requests = Object.values(totals).reduce((a, b) => a + b, 0);
  const seconds = report.elapsedMs / 1000;
  const lines = [
    row('route', STATUS_CLASSES),
    ...routes.map((r) => row(r, STATUS_CLASSES.map((c) => report.byRoute[r]![c]))),
    row('total', STATUS_CLASSES.map((c) => totals[c])),
    '',
    `${requests} requests in ${seconds.toFixed(1)} s (${(requests / seconds).toFixed(1)}/s), ${report.createdOrderIds.length} orders created`,
    `unexpected answers: ${report.unexpectedCount}`,
    ...report.unexpected.map((u) => `  ${u.step}: ${u.route} → ${u.status} ${u.body}`),
  ];
  return lines.join('\n');
}
