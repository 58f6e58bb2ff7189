// The security headers, over HTTP through serverless-offline: every route, on its success and on its error
// answers (4xx of each kind, a compressed answer, a 204, a locked login), carries the same set with the same
// values, and the CORS headers for the caller's origin.
import { beforeAll, describe, expect, it } from 'vitest';
import { config } from '../../lib/config.ts';
import { adminToken, call, createProductAs, registerCustomer, unique, type Reply } from '../support/http.ts';

// @middy/http-security-headers' defaults, which lib/http/api.ts uses unchanged. Written out here so that a
// change to them is a decision this test makes visible.
const EXPECTED: Record<string, string | RegExp> = {
  'content-security-policy': /^default-src 'report-sample' 'report-sha256'; base-uri 'none'; form-action 'none'; frame-ancestors 'none';.* sandbox;/,
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'permissions-policy': /^accelerometer=\(\), .*camera=\(\), .*geolocation=\(\), .*microphone=\(\), .*payment=\(\)/,
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=15552000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'DENY',
  'x-permitted-cross-domain-policies': 'none',
};
/** Headers that tell an attacker what runs here. */
const ABSENT = ['x-powered-by', 'server', 'x-aspnet-version'];
const ORIGIN = 'https://shop.example';

interface Probe {
  /** As in serverless.yml. */
  route: string;
  name: string;
  status: number;
  send: () => Promise<Reply>;
  /** What makes this probe the case its name says. */
  check?: (reply: Reply) => void;
}

const f = {} as { admin: string; customer: Awaited<ReturnType<typeof registerCustomer>>; product: { id: number }; doomed: { id: number }; orderId: number };
const headers = (extra: Record<string, string> = {}) => ({ origin: ORIGIN, ...extra });
const withToken = (token: string, extra: Record<string, string> = {}) => ({ token, headers: headers(extra) });

beforeAll(async () => {
  f.admin = await adminToken();
  f.customer = await registerCustomer();
  f.product = await createProductAs(f.admin, { stock: 10, priceCents: 90_000_000 });
  f.doomed = await createProductAs(f.admin, { stock: 1, priceCents: 90_000_000 });
  const order = await call('POST', '/api/orders', { token: f.customer.token, body: { items: [{ productId: f.product.id, quantity: 1 }] } });
  if (order.status !== 201) throw new Error(`fixture order: ${order.status} ${order.text}`);
  f.orderId = order.body.id;
});

const order = () => ({ items: [{ productId: f.product.id, quantity: 1 }] });
const idempotencyKey = unique('hdr');
const locked = `${unique('locked')}@example.com`;

const PROBES: Probe[] = [
  { route: 'GET /api/products', name: 'list products', status: 200, send: () => call('GET', '/api/products?limit=2', { headers: headers() }) },
  { route: 'GET /api/products', name: 'list products, brotli', status: 200, send: () => call('GET', '/api/products?limit=100', { headers: headers({ 'accept-encoding': 'br' }) }), check: (r) => expect(r.headers.get('content-encoding')).toBe('br') },
  { route: 'GET /api/products', name: 'list products, bad limit', status: 400, send: () => call('GET', '/api/products?limit=0', { headers: headers() }) },
  { route: 'GET /api/products/{id}', name: 'get product', status: 200, send: () => call('GET', `/api/products/${f.product.id}`, { headers: headers() }) },
  { route: 'GET /api/products/{id}', name: 'get product, unknown', status: 404, send: () => call('GET', `/api/products/${2 ** 53 - 1}`, { headers: headers() }) },
  { route: 'POST /api/products', name: 'create product', status: 201, send: () => call('POST', '/api/products', { ...withToken(f.admin), body: { sku: unique('HDR').toUpperCase().replace(/[^A-Z0-9-]/g, '-').slice(0, 40), name: 'Headers', category: 'testing', priceCents: 90_000_000, stock: 1 } }) },
  { route: 'POST /api/products', name: 'create product, no token', status: 401, send: () => call('POST', '/api/products', { headers: headers(), body: {} }) },
  { route: 'POST /api/products', name: 'create product, customer', status: 403, send: () => call('POST', '/api/products', { ...withToken(f.customer.token), body: {} }) },
  { route: 'POST /api/products', name: 'create product, malformed JSON', status: 400, send: () => call('POST', '/api/products', { ...withToken(f.admin), rawBody: '{', headers: headers({ 'content-type': 'application/json' }) }) },
  { route: 'POST /api/products', name: 'create product, text/plain', status: 415, send: () => call('POST', '/api/products', { ...withToken(f.admin), rawBody: 'x', headers: headers({ 'content-type': 'text/plain' }) }) },
  { route: 'POST /api/products', name: 'create product, too large', status: 413, send: () => call('POST', '/api/products', { ...withToken(f.admin), body: { description: 'd'.repeat(config.http.maxBodyBytes) } }) },
  { route: 'PUT /api/products/{id}', name: 'update product', status: 200, send: () => call('PUT', `/api/products/${f.product.id}`, { ...withToken(f.admin), body: { stock: 10 } }) },
  { route: 'PUT /api/products/{id}', name: 'update product, unknown', status: 404, send: () => call('PUT', `/api/products/${2 ** 53 - 1}`, { ...withToken(f.admin), body: { stock: 1 } }) },
  { route: 'DELETE /api/products/{id}', name: 'delete product (204, no body)', status: 204, send: () => call('DELETE', `/api/products/${f.doomed.id}`, withToken(f.admin)) },
  { route: 'DELETE /api/products/{id}', name: 'delete product, already gone', status: 404, send: () => call('DELETE', `/api/products/${f.doomed.id}`, withToken(f.admin)) },
  { route: 'POST /api/users/register', name: 'register', status: 201, send: () => call('POST', '/api/users/register', { headers: headers(), body: { email: `${unique('hdr')}@example.com`, password: 'correct-horse', name: 'Headers' } }) },
  { route: 'POST /api/users/register', name: 'register, email taken', status: 409, send: () => call('POST', '/api/users/register', { headers: headers(), body: { email: f.customer.email, password: 'correct-horse', name: 'Again' } }) },
  { route: 'POST /api/users/login', name: 'login', status: 200, send: () => call('POST', '/api/users/login', { headers: headers(), body: { email: f.customer.email, password: 'correct-horse' } }) },
  { route: 'POST /api/users/login', name: 'login, wrong password', status: 401, send: () => call('POST', '/api/users/login', { headers: headers(), body: { email: f.customer.email, password: 'wrong-password' } }) },
  {
    route: 'POST /api/users/login',
    name: 'login, locked account',
    status: 429,
    send: async () => {
      for (let i = 0; i < config.auth.login.maxFailures; i++) await call('POST', '/api/users/login', { body: { email: locked, password: 'wrong-password' } });
      return call('POST', '/api/users/login', { headers: headers(), body: { email: locked, password: 'wrong-password' } });
    },
  },
  { route: 'GET /api/users/me', name: 'me', status: 200, send: () => call('GET', '/api/users/me', withToken(f.customer.token)) },
  { route: 'GET /api/users/me', name: 'me, garbage token', status: 401, send: () => call('GET', '/api/users/me', withToken('a.b.c')) },
  { route: 'POST /api/orders', name: 'create order', status: 201, send: () => call('POST', '/api/orders', { ...withToken(f.customer.token, { 'idempotency-key': idempotencyKey }), body: order() }) },
  { route: 'POST /api/orders', name: 'create order, replayed', status: 201, send: () => call('POST', '/api/orders', { ...withToken(f.customer.token, { 'idempotency-key': idempotencyKey }), body: order() }), check: (r) => expect(r.headers.get('idempotent-replayed')).toBe('true') },
  { route: 'POST /api/orders', name: 'create order, out of stock', status: 409, send: () => call('POST', '/api/orders', { ...withToken(f.customer.token), body: { items: [{ productId: f.product.id, quantity: 1000 }] } }) },
  { route: 'POST /api/orders', name: 'create order, unknown product', status: 422, send: () => call('POST', '/api/orders', { ...withToken(f.customer.token), body: { items: [{ productId: 2 ** 53 - 1, quantity: 1 }] } }) },
  { route: 'GET /api/orders', name: 'my orders', status: 200, send: () => call('GET', '/api/orders', withToken(f.customer.token)) },
  { route: 'GET /api/orders', name: 'my orders, bad offset', status: 400, send: () => call('GET', '/api/orders?offset=-1', withToken(f.customer.token)) },
  { route: 'GET /api/orders/{id}', name: 'get order', status: 200, send: () => call('GET', `/api/orders/${f.orderId}`, withToken(f.customer.token)) },
  { route: 'GET /api/orders/{id}', name: 'get order, not mine', status: 404, send: async () => call('GET', `/api/orders/${f.orderId}`, withToken((await registerCustomer()).token)) },
  { route: 'PATCH /api/orders/{id}/status', name: 'order status', status: 200, send: () => call('PATCH', `/api/orders/${f.orderId}/status`, { ...withToken(f.admin), body: { status: 'paid' } }) },
  { route: 'PATCH /api/orders/{id}/status', name: 'order status, not allowed', status: 409, send: () => call('PATCH', `/api/orders/${f.orderId}/status`, { ...withToken(f.admin), body: { status: 'pending' } }) },
  { route: 'GET /healthz', name: 'healthz', status: 200, send: () => call('GET', '/healthz', { headers: headers() }) },
  { route: 'GET /healthz', name: 'healthz, unknown parameter', status: 400, send: () => call('GET', '/healthz?deep=1', { headers: headers() }) },
  { route: 'GET /info', name: 'info', status: 200, send: () => call('GET', '/info', { headers: headers() }) },
  { route: 'GET /healthz/metrics', name: 'healthz/metrics', status: 200, send: () => call('GET', '/healthz/metrics', { headers: headers() }) },
];

function expectSecurityHeaders(reply: Reply): void {
  for (const [name, value] of Object.entries(EXPECTED)) {
    if (typeof value === 'string') expect(reply.headers.get(name), name).toBe(value);
    else expect(reply.headers.get(name), name).toMatch(value);
  }
  for (const name of ABSENT) expect(reply.headers.get(name), name).toBeNull();
  expect(reply.headers.get('access-control-allow-origin')).toMatch(new RegExp(`^(\\*|${ORIGIN.replace(/\./g, '\\.')})$`));
}

// No route of ours matches these: the $default route (functions/ops/fallback.ts) answers them through the same
// stack. HTTP APIs have no 405: a method a path lacks is an unknown route too.
const UNROUTED: { name: string; send: () => Promise<Reply> }[] = [
  { name: 'an unknown path', send: () => call('GET', '/api/no-such-thing', { headers: headers() }) },
  { name: 'a method the path lacks (PATCH /api/products)', send: () => call('PATCH', '/api/products', { headers: headers(), body: {} }) },
];
const preflight = () =>
  call('OPTIONS', '/api/products', { headers: headers({ 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization, idempotency-key' }) });

describe('security headers over HTTP (serverless-offline)', () => {
  it('probes every HTTP route of serverless.yml, on success and on error', async () => {
    const { parse } = await import('yaml');
    const { readFile } = await import('node:fs/promises');
    const sls = parse(await readFile('serverless.yml', 'utf8')) as { functions: Record<string, { events: { httpApi?: string }[] }> };
    const routes = Object.values(sls.functions).flatMap((fn) => fn.events.map((e) => e.httpApi).filter(Boolean));
    const declared = routes.filter((r) => r !== '*'); // the $default route: see UNROUTED
    expect(declared).toHaveLength(15);
    expect([...new Set(PROBES.map((p) => p.route))].sort()).toEqual(declared.sort());
  });

  // One after the other: the probes build on each other (an order is created, then replayed, then moved).
  for (const probe of PROBES) {
    it(`${probe.route}, ${probe.name} → ${probe.status}: the same security headers, CORS for the origin, nothing that names the server`, async () => {
      const reply = await probe.send();
      expect(reply.status, reply.text).toBe(probe.status);
      expectSecurityHeaders(reply);
      if (probe.status >= 400) expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
      probe.check?.(reply);
    });
  }

  for (const probe of UNROUTED) {
    it(`${probe.name} → 404 from the $default route: the same security headers and the error contract`, async () => {
      const reply = await probe.send();
      expect(reply.status, reply.text).toBe(404);
      expectSecurityHeaders(reply);
      expect(reply.body).toEqual({ error: expect.objectContaining({ code: 'NOT_FOUND' }) });
    });
  }

  it('answers a browser preflight with the allowed methods and headers, and the same security headers', async () => {
    const reply = await preflight();
    // The function answers 204 (functions/ops/fallback.ts); serverless-offline turns every OPTIONS answer into a
    // 200. A browser takes any 2xx for a preflight.
    expect([200, 204], reply.text).toContain(reply.status);
    expect(reply.headers.get('access-control-allow-methods')).toContain('POST');
    expect(reply.headers.get('access-control-allow-headers')).toContain('idempotency-key');
    expectSecurityHeaders(reply);
  });
});
