// Writes events/*.json: one API Gateway (HTTP API v2) event per function, for
//   npx serverless invoke local -f <function> --path events/<file>.json
// Routes that need a login carry a token for the seeded admin (user 1), signed with the development
// secret, which lib/config.ts refuses to use when deployed; it expires in 2100.
import { mkdir, writeFile } from 'node:fs/promises';
import { SignJWT } from 'jose';

const { config } = await import('../lib/config.ts');
const secret = new TextEncoder().encode(config.auth.jwtSecret);
const token = await new SignJWT({ role: 'admin' })
  .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
  .setSubject('1')
  .setIssuer('serverless-shop')
  .setAudience('serverless-shop-api')
  .setIssuedAt(Math.floor(Date.UTC(2026, 0, 1) / 1000))
  .setExpirationTime(Math.floor(Date.UTC(2100, 0, 1) / 1000))
  .sign(secret);

interface Sample {
  file: string;
  /** The routeKey: "METHOD /path" as in serverless.yml, or "$default" with `method`. */
  route: string;
  method?: string;
  path: string;
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  auth?: boolean;
  headers?: Record<string, string>;
}

const samples: Sample[] = [
  { file: 'products-list', route: 'GET /api/products', path: '/api/products', query: { limit: '3', category: 'books' } },
  { file: 'products-get', route: 'GET /api/products/{id}', path: '/api/products/1', params: { id: '1' } },
  {
    file: 'products-create',
    route: 'POST /api/products',
    path: '/api/products',
    auth: true,
    body: { sku: 'LOCAL-INVOKE-1', name: 'Invoke-local lamp', category: 'home', priceCents: 2599, stock: 5 },
  },
  { file: 'products-update', route: 'PUT /api/products/{id}', path: '/api/products/2', params: { id: '2' }, auth: true, body: { stock: 59 } },
  { file: 'products-delete', route: 'DELETE /api/products/{id}', path: '/api/products/36', params: { id: '36' }, auth: true },
  {
    file: 'users-register',
    route: 'POST /api/users/register',
    path: '/api/users/register',
    body: { email: 'invoke-local@example.com', password: 'invoke-local-password', name: 'Invoke Local' },
  },
  { file: 'users-login', route: 'POST /api/users/login', path: '/api/users/login', body: { email: 'admin@shop.local', password: 'admin-password' } },
  { file: 'users-me', route: 'GET /api/users/me', path: '/api/users/me', auth: true },
  {
    file: 'orders-create',
    route: 'POST /api/orders',
    path: '/api/orders',
    auth: true,
    headers: { 'idempotency-key': 'invoke-local-order-1' },
    body: { items: [{ productId: 1, quantity: 1 }, { productId: 7, quantity: 2 }] },
  },
  { file: 'orders-list', route: 'GET /api/orders', path: '/api/orders', auth: true },
  { file: 'orders-get', route: 'GET /api/orders/{id}', path: '/api/orders/1', params: { id: '1' }, auth: true },
  {
    file: 'orders-update-status',
    route: 'PATCH /api/orders/{id}/status',
    path: '/api/orders/1/status',
    params: { id: '1' },
    auth: true,
    body: { status: 'paid' },
  },
  { file: 'healthz', route: 'GET /healthz', path: '/healthz' },
  { file: 'info', route: 'GET /info', path: '/info' },
  { file: 'healthz-metrics', route: 'GET /healthz/metrics', path: '/healthz/metrics' },
  { file: 'fallback', route: '$default', method: 'GET', path: '/api/no-such-route' },
];

await mkdir('events', { recursive: true });
for (const s of samples) {
  const method = s.method ?? s.route.split(' ')[0]!;
  const headers: Record<string, string> = { accept: 'application/json', ...s.headers };
  if (s.body !== undefined) headers['content-type'] = 'application/json';
  if (s.auth) headers.authorization = `Bearer ${token}`;
  const event = {
    version: '2.0',
    routeKey: s.route,
    rawPath: s.path,
    rawQueryString: new URLSearchParams(s.query ?? {}).toString(),
    headers,
    ...(s.query ? { queryStringParameters: s.query } : {}),
    ...(s.params ? { pathParameters: s.params } : {}),
    ...(s.body !== undefined ? { body: JSON.stringify(s.body) } : {}),
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'local',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method, path: s.path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'invoke-local' },
      requestId: `invoke-local-${s.file}`,
      routeKey: s.route,
      stage: '$default',
      time: '25/Nov/2026:12:00:00 +0000',
      timeEpoch: 1795608000000,
    },
  };
  await writeFile(`events/${s.file}.json`, `${JSON.stringify(event, null, 2)}\n`);
}
// The scheduled functions (business collector, janitor, outbox relay) get an EventBridge "Scheduled Event".
const scheduled = {
  version: '0',
  id: 'invoke-local-schedule',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time: '2026-11-25T12:00:00Z',
  region: 'eu-west-1',
  resources: ['arn:aws:events:eu-west-1:123456789012:rule/serverless-shop-dev-schedule'],
  detail: {},
};
await writeFile('events/scheduled.json', `${JSON.stringify(scheduled, null, 2)}\n`);
console.log(`wrote ${samples.length + 1} events to events/`);
