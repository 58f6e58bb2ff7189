// Attacks on authentication and authorisation over HTTP, through serverless-offline. bad-input.test.ts tries
// one broken token per route; here every forged token meets every protected route and must get the same 401,
// customers meet each other's orders and the admin routes, and repeated failed logins lock one account.
import { createHmac } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, decodeJwt, decodeProtectedHeader, type JWTPayload } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { config } from '../../lib/config.ts';
import { adminToken, call, createProductAs, registerCustomer, unique, type Reply } from '../support/http.ts';
import { gatewayGroups } from '../../scripts/support/gateway.ts';

const ISSUER = 'serverless-shop';
const AUDIENCE = 'serverless-shop-api';
const MAX_ID = 2 ** 53 - 1;
const now = () => Math.floor(Date.now() / 1000);
const b64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const secret = () => new TextEncoder().encode(config.auth.jwtSecret);

type Customer = Awaited<ReturnType<typeof registerCustomer>>;
interface Fixtures {
  admin: string;
  a: Customer;
  b: Customer;
  product: { id: number; name: string; stock: number; priceCents: number };
  aOrderId: number;
  aIdempotencyKey: string;
}
const f = {} as Fixtures;

beforeAll(async () => {
  f.admin = await adminToken();
  [f.a, f.b] = await Promise.all([registerCustomer(), registerCustomer()]);
  const product = await createProductAs(f.admin, { stock: 50, priceCents: 90_000_000 });
  f.aIdempotencyKey = unique('auth-key');
  const order = await call('POST', '/api/orders', {
    token: f.a.token,
    headers: { 'idempotency-key': f.aIdempotencyKey },
    body: { items: [{ productId: product.id, quantity: 1 }] },
  });
  if (order.status !== 201) throw new Error(`fixture order: ${order.status} ${order.text}`);
  f.aOrderId = order.body.id;
  f.product = { id: product.id, name: product.name, stock: 49, priceCents: product.priceCents };
});

const expectError = (reply: Reply, status: number, code: string, context = '') => {
  expect(reply.status, `${context} ${reply.text}`).toBe(status);
  expect(reply.body, context).toEqual({ error: expect.objectContaining({ code, message: expect.stringMatching(/\S/) }) });
  expect(reply.headers.get('x-content-type-options'), context).toBe('nosniff');
};

// ---------------------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------------------

/** Claims of a valid token for customer A, with `extra` on top. */
const claimsOfA = (extra: JWTPayload = {}): JWTPayload => ({ sub: String(f.a.id), role: 'customer', iss: ISSUER, aud: AUDIENCE, iat: now(), exp: now() + 600, ...extra });
const signed = (claims: JWTPayload, key: Parameters<SignJWT['sign']>[0], header: Record<string, unknown> & { alg: string }) =>
  new SignJWT(claims).setProtectedHeader({ typ: 'JWT', ...header }).sign(key);
const unsigned = (alg: string, claims: JWTPayload, signature = '') => `${b64url({ alg, typ: 'JWT' })}.${b64url(claims)}.${signature}`;
/** Signed by hand with the right key: jose itself refuses to sign with a header it would not accept. */
const handSigned = (header: object, claims: JWTPayload) => {
  const input = `${b64url(header)}.${b64url(claims)}`;
  return `${input}.${createHmac('sha256', secret()).update(input).digest('base64url')}`;
};

/** Authorization headers that must never authenticate anybody. */
async function forgedAuthorizations(): Promise<Record<string, string>> {
  const rsa = await generateKeyPair('RS256');
  const ec = await generateKeyPair('ES256');
  const [, payloadOfA, signatureOfA] = f.a.token.split('.');
  const headerOfA = f.a.token.split('.')[0];
  const asAdmin = claimsOfA({ role: 'admin' });
  const bearer = (token: string) => `Bearer ${token}`;
  return {
    'expired (right secret)': bearer(await signed(claimsOfA({ iat: now() - 7200, exp: now() - 3600 }), secret(), { alg: 'HS256' })),
    'payload changed to role admin, signature kept': bearer(`${headerOfA}.${b64url(asAdmin)}.${signatureOfA}`),
    'payload changed to customer B, signature kept': bearer(`${headerOfA}.${b64url(claimsOfA({ sub: String(f.b.id) }))}.${signatureOfA}`),
    'alg none, admin': bearer(unsigned('none', asAdmin)),
    'alg None, admin': bearer(unsigned('None', asAdmin)),
    'alg NONE, admin': bearer(unsigned('NONE', asAdmin)),
    'alg none with the real signature kept': bearer(unsigned('none', JSON.parse(Buffer.from(payloadOfA!, 'base64url').toString()), signatureOfA)),
    'wrong secret, admin': bearer(await signed(asAdmin, new TextEncoder().encode('an-attacker-secret-that-is-long-enough!!'), { alg: 'HS256' })),
    'HS384 with the right secret': bearer(await signed(claimsOfA(), secret(), { alg: 'HS384' })),
    'HS512 with the right secret': bearer(await signed(claimsOfA(), secret(), { alg: 'HS512' })),
    'RS256 by an attacker key': bearer(await signed(asAdmin, rsa.privateKey, { alg: 'RS256' })),
    'RS256 carrying its own public key (jwk header)': bearer(await signed(asAdmin, rsa.privateKey, { alg: 'RS256', jwk: await exportJWK(rsa.publicKey) })),
    'ES256 by an attacker key': bearer(await signed(asAdmin, ec.privateKey, { alg: 'ES256' })),
    'unknown critical header (right secret)': bearer(handSigned({ alg: 'HS256', typ: 'JWT', crit: ['x-shop'], 'x-shop': 1 }, claimsOfA())),
    'another issuer (right secret)': bearer(await signed(claimsOfA({ iss: 'evil' }), secret(), { alg: 'HS256' })),
    'sub of an admin as a number (right secret)': bearer(await signed(claimsOfA({ sub: 1 as unknown as string }), secret(), { alg: 'HS256' })),
    'role as a list (right secret)': bearer(await signed(claimsOfA({ role: ['admin'] }), secret(), { alg: 'HS256' })),
    'no Bearer scheme': f.a.token,
    'Bearer and nothing': 'Bearer',
    'garbage': 'Bearer garbage',
    'two tokens': `Bearer ${f.a.token}, Bearer ${f.admin}`,
    'token with a space inside': `Bearer ${f.a.token.slice(0, 20)} ${f.a.token.slice(20)}`,
    'JWE-shaped (five segments)': `Bearer ${'a.'.repeat(4)}a`,
    'Basic with the admin password': `Basic ${Buffer.from('admin@test.local:test-admin-password').toString('base64')}`,
  };
}

interface Protected {
  name: string;
  method: string;
  path: () => string;
  body?: () => unknown;
}
const PROTECTED: Protected[] = [
  { name: 'create product', method: 'POST', path: () => '/api/products', body: () => ({ sku: 'AUTH-FORGED', name: 'forged', category: 'testing', priceCents: 1, stock: 1 }) },
  { name: 'update product', method: 'PUT', path: () => `/api/products/${f.product.id}`, body: () => ({ stock: 0, name: 'forged' }) },
  { name: 'delete product', method: 'DELETE', path: () => `/api/products/${f.product.id}` },
  { name: 'me', method: 'GET', path: () => '/api/users/me' },
  { name: 'create order', method: 'POST', path: () => '/api/orders', body: () => ({ items: [{ productId: f.product.id, quantity: 1 }] }) },
  { name: 'my orders', method: 'GET', path: () => '/api/orders' },
  { name: 'get order', method: 'GET', path: () => `/api/orders/${f.aOrderId}` },
  { name: 'order status', method: 'PATCH', path: () => `/api/orders/${f.aOrderId}/status`, body: () => ({ status: 'cancelled' }) },
];
const ADMIN_ONLY = PROTECTED.filter((r) => ['create product', 'update product', 'delete product', 'order status'].includes(r.name));

const send = (r: Protected, authorization?: string) =>
  call(r.method, r.path(), { body: r.body?.(), headers: authorization === undefined ? {} : { authorization } });

async function expectNothingWritten(): Promise<void> {
  const product = await call('GET', `/api/products/${f.product.id}`);
  expect(product.status).toBe(200);
  expect(product.body).toEqual(expect.objectContaining({ name: f.product.name, stock: f.product.stock, priceCents: f.product.priceCents }));
  expect((await call('GET', `/api/products?q=forged&category=testing&limit=100`)).body.items.filter((p: { sku: string }) => p.sku === 'AUTH-FORGED')).toEqual([]);
  const mine = await call('GET', '/api/orders', { token: f.a.token });
  expect(mine.body.items.map((o: { id: number; status: string }) => [o.id, o.status])).toEqual([[f.aOrderId, 'pending']]);
  expect((await call('GET', '/api/orders', { token: f.b.token })).body.total).toBe(0);
}

describe('authentication over HTTP (serverless-offline)', () => {
  it('answers every forged or broken credential on every protected route with the same 401', async () => {
    // Prepare
    const forged = await forgedAuthorizations();
    const messages = new Set<string>();
    // Act and assess: one message per kind of failure (missing vs. rejected), never which check failed
    for (const route of PROTECTED) {
      for (const [what, authorization] of [...Object.entries(forged), ['no Authorization header', undefined] as const]) {
        const reply = await send(route, authorization);
        expectError(reply, 401, 'UNAUTHORIZED', `${route.name} / ${what}:`);
        messages.add(reply.body.error.message);
      }
    }
    expect([...messages].sort()).toEqual(['invalid or expired token', 'missing bearer token']);
    await expectNothingWritten();
    // Control: the same hand-made signing, without the critical header, is accepted
    const control = await call('GET', '/api/users/me', { headers: { authorization: `Bearer ${handSigned({ alg: 'HS256', typ: 'JWT' }, claimsOfA())}` } });
    expect(control.status, control.text).toBe(200);
  });

  it('takes no token from the query string or a cookie', async () => {
    expectError(await call('GET', `/api/users/me?access_token=${f.a.token}`), 401, 'UNAUTHORIZED');
    expectError(await call('GET', '/api/users/me', { headers: { cookie: `token=${f.a.token}` } }), 401, 'UNAUTHORIZED');
  });

  it('accepts the Bearer scheme in any letter case, as RFC 9110 asks', async () => {
    const reply = await call('GET', '/api/users/me', { headers: { authorization: `bEaReR ${f.a.token}` } });
    expect(reply.status, reply.text).toBe(200);
    expect(reply.body.user.id).toBe(f.a.id);
  });

  it('answers 401, not a 5xx, to a genuine token whose account does not exist', async () => {
    const ghost = await signed({ sub: String(MAX_ID), role: 'customer', iss: ISSUER, aud: AUDIENCE, iat: now(), exp: now() + 600 }, secret(), { alg: 'HS256' });
    expectError(await call('GET', '/api/users/me', { token: ghost }), 401, 'UNAUTHORIZED');
    const order = await call('POST', '/api/orders', { token: ghost, body: { items: [{ productId: f.product.id, quantity: 1 }] } });
    expectError(order, 401, 'UNAUTHORIZED');
  });

  it('issues HS256 tokens for one hour that name the user and role and nothing else', async () => {
    const login = await call('POST', '/api/users/login', { body: { email: f.a.email, password: 'correct-horse' } });
    expect(login.status).toBe(200);
    expect(decodeProtectedHeader(login.body.token)).toEqual({ alg: 'HS256', typ: 'JWT' });
    const claims = decodeJwt(login.body.token);
    expect(claims).toEqual({ sub: String(f.a.id), role: 'customer', iss: ISSUER, aud: AUDIENCE, iat: expect.any(Number), exp: claims.iat! + config.auth.tokenTtlSeconds });
    expect(login.text).not.toMatch(/password|scrypt\$/);
  });
});

describe('authorisation over HTTP (serverless-offline)', () => {
  it('keeps customers off the admin routes with 403, whichever customer, and writes nothing', async () => {
    for (const route of ADMIN_ONLY) {
      for (const who of [f.a, f.b]) expectError(await send(route, `Bearer ${who.token}`), 403, 'FORBIDDEN', route.name);
    }
    await expectNothingWritten();
  });

  it("shows customer B nothing of customer A's orders, and the same 404 as for an order that does not exist", async () => {
    // Act
    const theirs = await call('GET', `/api/orders/${f.aOrderId}`, { token: f.b.token });
    const missing = await call('GET', `/api/orders/${MAX_ID}`, { token: f.b.token });
    const nearby = await Promise.all([-1, 1].map((d) => call('GET', `/api/orders/${f.aOrderId + d}`, { token: f.b.token })));
    const list = await call('GET', '/api/orders?limit=100', { token: f.b.token });
    const byAdmin = await call('GET', `/api/orders/${f.aOrderId}`, { token: f.admin });
    // Assess
    expectError(theirs, 404, 'NOT_FOUND');
    // No oracle for "exists, but not yours": the two answers differ only in the id asked for
    const withoutId = (reply: Reply, id: number) => reply.text.replaceAll(String(id), '0');
    expect(withoutId(theirs, f.aOrderId)).toEqual(withoutId(missing, MAX_ID));
    for (const reply of nearby) expect([404, 400]).toContain(reply.status);
    expect(list.body).toEqual({ items: [], total: 0, limit: 100, offset: 0 });
    expect(byAdmin.status).toBe(200); // the order is there: the 404s above are about who asks
    expect(byAdmin.body.id).toBe(f.aOrderId);
  });

  it("does not let customer B replay customer A's Idempotency-Key to read A's order", async () => {
    const reply = await call('POST', '/api/orders', {
      token: f.b.token,
      headers: { 'idempotency-key': f.aIdempotencyKey },
      body: { items: [{ productId: f.product.id, quantity: 1 }] },
    });
    expect(reply.status, reply.text).toBe(201);
    expect(reply.headers.get('idempotent-replayed')).toBeNull();
    expect(reply.body.id).not.toBe(f.aOrderId);
    const orders = await call('GET', '/api/orders', { token: f.b.token });
    expect(orders.body.items.map((o: { id: number }) => o.id)).toEqual([reply.body.id]);
  });

  it('lets the admin do what the customers could not', async () => {
    const moved = await call('PATCH', `/api/orders/${f.aOrderId}/status`, { token: f.admin, body: { status: 'paid' } });
    const renamed = await call('PUT', `/api/products/${f.product.id}`, { token: f.admin, body: { name: `${f.product.name} (renamed)` } });
    expect([moved.status, moved.body.status]).toEqual([200, 'paid']);
    expect([renamed.status, renamed.body.name]).toEqual([200, `${f.product.name} (renamed)`]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Login throttling
// ---------------------------------------------------------------------------------------------------------

const MAX_FAILURES = config.auth.login.maxFailures;
const login = (email: string, password: string) => call('POST', '/api/users/login', { body: { email, password } });
async function fail(email: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) expectError(await login(email, `wrong-password-${i}`), 401, 'INVALID_CREDENTIALS', `failure ${i + 1}`);
}

const gatewayUrl = process.env.PUSHGATEWAY_URL;
async function loginsCounted(): Promise<Record<string, number>> {
  const counted: Record<string, number> = { success: 0, failure: 0, locked: 0 };
  for (const group of await gatewayGroups(gatewayUrl!)) {
    if (!group.labels.function?.endsWith('-loginUser')) continue;
    const family = group.user_logins_total as { metrics: { labels: { result: string }; value: string }[] } | undefined;
    for (const m of family?.metrics ?? []) counted[m.labels.result] = (counted[m.labels.result] ?? 0) + Number(m.value);
  }
  return counted;
}

describe('login throttling over HTTP (serverless-offline)', () => {
  it(`refuses an account's logins with 429 and Retry-After after ${MAX_FAILURES} failures, the right password included`, async () => {
    // Prepare
    const victim = await registerCustomer();
    await fail(victim.email, MAX_FAILURES);
    // Act
    const locked = await login(victim.email, 'correct-horse');
    // Assess
    expect(locked.status, locked.text).toBe(429);
    expect(locked.body).toEqual({ error: { code: 'TOO_MANY_ATTEMPTS', message: expect.any(String), details: { retryAfterSeconds: expect.any(Number) } } });
    const retryAfter = Number(locked.headers.get('retry-after'));
    expect(retryAfter).toBe(locked.body.error.details.retryAfterSeconds);
    expect(retryAfter).toBeGreaterThan(config.auth.login.lockSeconds - 60);
    expect(retryAfter).toBeLessThanOrEqual(config.auth.login.lockSeconds);
    expect(locked.headers.get('x-content-type-options')).toBe('nosniff');
    // The token already issued still works: the lock is on logging in, not on the account
    expect((await call('GET', '/api/users/me', { token: victim.token })).status).toBe(200);
  });

  it('answers a made-up address exactly as an existing account, before and after the lock', async () => {
    const real = await registerCustomer();
    const madeUp = `${unique('nobody')}@example.com`;
    const first = await Promise.all([login(real.email, 'wrong-password'), login(madeUp, 'wrong-password')]);
    expect(first[0].body).toEqual(first[1].body);
    await fail(real.email, MAX_FAILURES - 1);
    await fail(madeUp, MAX_FAILURES - 1);
    const [realLocked, madeUpLocked] = [await login(real.email, 'correct-horse'), await login(madeUp, 'correct-horse')];
    expect([realLocked.status, madeUpLocked.status]).toEqual([429, 429]);
    expect(realLocked.body.error.message).toBe(madeUpLocked.body.error.message);
  });

  it('counts letter-case and whitespace variants of the address as one account', async () => {
    const victim = await registerCustomer();
    const variants = [victim.email.toUpperCase(), ` ${victim.email}`, `${victim.email} `, victim.email.replace(/^./, (c) => c.toUpperCase())];
    for (let i = 0; i < MAX_FAILURES; i++) expectError(await login(variants[i % variants.length]!, 'wrong-password'), 401, 'INVALID_CREDENTIALS');
    expectError(await login(victim.email, 'correct-horse'), 429, 'TOO_MANY_ATTEMPTS');
  });

  it('forgets the failures after a successful login', async () => {
    const user = await registerCustomer();
    await fail(user.email, MAX_FAILURES - 1);
    expect((await login(user.email, 'correct-horse')).status).toBe(200);
    await fail(user.email, MAX_FAILURES - 1);
    expect((await login(user.email, 'correct-horse')).status).toBe(200);
  });

  it("does not lock other accounts with one account's failures", async () => {
    const [victim, bystander] = await Promise.all([registerCustomer(), registerCustomer()]);
    await fail(victim.email, MAX_FAILURES);
    expect((await login(victim.email, 'correct-horse')).status).toBe(429);
    expect((await login(bystander.email, 'correct-horse')).status).toBe(200);
  });

  it.runIf(gatewayUrl)('counts failed and refused logins in user_logins_total{result="failure"|"locked"}', async () => {
    // Prepare
    const before = await loginsCounted();
    const victim = await registerCustomer();
    // Act
    await fail(victim.email, MAX_FAILURES);
    expect((await login(victim.email, 'correct-horse')).status).toBe(429);
    // Assess: a container pushes at most once per METRICS_PUSH_INTERVAL_MS, so later invocations (400s, which
    // count no login) carry the last values to the gateway
    let after = await loginsCounted();
    for (let i = 0; i < 10 && (after.failure! < before.failure! + MAX_FAILURES || after.locked! < before.locked! + 1); i++) {
      await new Promise((resolve) => setTimeout(resolve, 600));
      await call('POST', '/api/users/login', { body: {} });
      after = await loginsCounted();
    }
    expect(after.failure! - before.failure!).toBeGreaterThanOrEqual(MAX_FAILURES);
    expect(after.locked! - before.locked!).toBeGreaterThanOrEqual(1);
  });
});
