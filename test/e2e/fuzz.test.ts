// Property-based fuzzing of every HTTP route through serverless-offline: generated bodies (arbitrary JSON, raw
// text, and valid shapes with one field broken), query strings, path parameters, content types, encodings and
// tokens. Whatever comes in: never a 5xx; a 4xx is the `{ error: { code, message } }` contract with the status
// its code stands for; the security headers are set; no body shows a stack trace, SQL or a file path; and a
// rejected request leaves the database as it found it. bad-input.test.ts holds the hand-written cases.
//
// Reproduce a failure with the seed printed at the start (FUZZ_SEED=<seed>), and set FUZZ_RUNS for the runs
// per route. Generated requests only ever write to rows this file created: ids that would reach another
// file's products or orders are swapped for ones that do not exist, so the suite can share the database.
import fc from 'fast-check';
import pg from 'pg';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { config } from '../../lib/config.ts';
import { adminToken, baseUrl, call, createProductAs, registerCustomer, unique } from '../support/http.ts';

const SEED = Number(process.env.FUZZ_SEED || 20_261_125);
const RUNS = Number(process.env.FUZZ_RUNS || 200);
const RUN = unique('fz').replace(/[^a-z0-9]/g, '');
const NONEXISTENT = 2 ** 52 + 7;
const MAX_ID = 2 ** 53 - 1;

// ---------------------------------------------------------------------------------------------------------
// Fixtures: everything a generated request may change belongs to this file.
// ---------------------------------------------------------------------------------------------------------

interface Fixtures {
  tokens: Record<'admin' | 'customer' | 'other' | 'algNoneAdmin' | 'wrongSecretAdmin' | 'expired', string>;
  customer: { id: number; email: string };
  other: { id: number };
  /** Products that PUT and orders may change (dear and of their own category, so no shared page shows them). */
  productIds: number[];
  /** Products that DELETE may remove. */
  doomedIds: number[];
  /** The customer's orders, which PATCH may move; and one of the other customer's. */
  orderIds: number[];
  otherOrderId: number;
}
const f = {} as Fixtures;
let db: pg.Client;

async function forge(claims: Record<string, unknown>, key: Uint8Array, exp: number): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer('serverless-shop')
    .setAudience('serverless-shop-api')
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(key);
}
const b64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

beforeAll(async () => {
  db = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await db.connect();
  const admin = await adminToken();
  const [customer, other] = await Promise.all([registerCustomer(), registerCustomer()]);
  const fixture = () => createProductAs(admin, { category: `fuzz-${RUN}`.slice(0, 40), priceCents: 90_000_000, stock: 1_000_000 });
  const products = await Promise.all([fixture(), fixture()]);
  const doomed = await Promise.all([fixture(), fixture()]);
  const order = async (token: string) => {
    const reply = await call('POST', '/api/orders', { token, body: { items: [{ productId: products[0].id, quantity: 1 }] } });
    if (reply.status !== 201) throw new Error(`fixture order: ${reply.status} ${reply.text}`);
    return reply.body.id as number;
  };
  const now = Math.floor(Date.now() / 1000);
  const secret = new TextEncoder().encode(config.auth.jwtSecret);
  Object.assign(f, {
    customer: { id: customer.id, email: customer.email },
    other: { id: other.id },
    productIds: products.map((p) => p.id),
    doomedIds: doomed.map((p) => p.id),
    orderIds: [await order(customer.token), await order(customer.token)],
    otherOrderId: await order(other.token),
    tokens: {
      admin,
      customer: customer.token,
      other: other.token,
      algNoneAdmin: `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: '1', role: 'admin', iss: 'serverless-shop', aud: 'serverless-shop-api', exp: now + 600 })}.`,
      wrongSecretAdmin: await forge({ sub: '1', role: 'admin' }, new TextEncoder().encode('x'.repeat(48)), now + 600),
      expired: await forge({ sub: String(customer.id), role: 'customer' }, secret, now - 60),
    },
  });
  console.log(`fuzz: seed ${SEED} (FUZZ_SEED), ${RUNS} runs per route (FUZZ_RUNS)`);
});

afterAll(async () => {
  await db?.end();
});

// ---------------------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------------------

/** JSON text that JSON.stringify cannot produce: numbers beyond double range, -0, deep nesting. */
class Raw {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}
const RAW_NUMBERS = ['1e400', '-1e400', '-0', '1e-400', '12345678901234567890123', '9007199254740993', '5.000000000000001'];
const nested = (depth: number) => new Raw(`${'{"a":['.repeat(depth)}1${']}'.repeat(depth)}`);

function serialise(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, v) => (v instanceof Raw ? `\u0000raw${raws.push(v.text) - 1}\u0000` : v));
  return text.replace(/"\\u0000raw(\d+)\\u0000"/g, (_m, i: string) => raws[Number(i)]!);
}

const NASTY_CONSTANTS: unknown[] = [
  null, true, false, 0, -1, 1.5, -0.5, 2 ** 31, 2 ** 53, 2 ** 53 + 2, 1e21, 1e308, -1e308, Number.MIN_SAFE_INTEGER,
  '', ' ', '   ', 'NaN', 'Infinity', '-Infinity', '1e400', '0x10', '0b1', '1_000', '１２３', '٣', '5', '-5', 'null',
  'true', 'undefined', '[]', '{}', "' OR '1'='1", '1; DROP TABLE products; --', '../../etc/passwd', '\u0000',
  'a\u0000b', '\uFEFFabc', '\u202Eevil', '𝕏𝕐ℤ', '👩‍👩‍👧‍👦', 'İstanbul', '<script>alert(1)</script>', '${7*7}', '{{7*7}}',
  '%s%s%n', '\\', '"', [], {}, [null], { $gt: '' }, { length: 1e9 }, [1, 2, 3],
];
const nasty: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.constantFrom(...NASTY_CONSTANTS), weight: 6 },
  { arbitrary: fc.constantFrom(...RAW_NUMBERS).map((raw) => new Raw(raw)), weight: 1 },
  { arbitrary: fc.integer(), weight: 1 },
  { arbitrary: fc.double(), weight: 1 }, // NaN and ±Infinity turn into null on the way
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 1 }, // lone surrogates included
  { arbitrary: fc.tuple(fc.integer({ min: 200, max: 20_000 }), fc.constantFrom('x', 'é', '€', '𝕏')).map(([n, c]) => c.repeat(n)), weight: 1 },
  { arbitrary: fc.jsonValue({ maxDepth: 4 }), weight: 1 },
  { arbitrary: fc.integer({ min: 50, max: 2_500 }).map(nested), weight: 1 },
);
const extraKey = fc.oneof(
  fc.constantFrom('role', 'id', 'userId', 'isAdmin', '__proto__', 'constructor', 'prototype', 'toString', 'deletedAt', 'status', '', ' ', 'a.b', '$where'),
  fc.string({ maxLength: 20 }),
);

type Path = (string | number)[];
type Mutation = { kind: 'set'; path: Path; value: unknown } | { kind: 'delete'; path: Path } | { kind: 'add'; path: Path; key: string; value: unknown };

/** Every place in a value that a mutation may hit: its containers and its leaves. */
function placesOf(value: unknown, path: Path = []): Path[] {
  if (value === null || typeof value !== 'object') return [path];
  const inner = Object.entries(value).flatMap(([k, v]) => placesOf(v, [...path, Array.isArray(value) ? Number(k) : k]));
  return [path, ...inner];
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !(v instanceof Raw);
const valueAt = (root: unknown, path: Path): unknown => path.reduce<unknown>((o, k) => (isObject(o) ? (o as any)[k] : undefined), root);

function mutation(base: object): fc.Arbitrary<Mutation> {
  const places = placesOf(base).filter((p) => p.length > 0);
  const containers = placesOf(base).filter((p) => isObject(valueAt(base, p)) && !Array.isArray(valueAt(base, p)));
  const add = fc.record({ kind: fc.constant('add' as const), path: fc.constantFrom(...containers), key: extraKey, value: nasty });
  if (places.length === 0) return add;
  return fc.oneof(
    { arbitrary: fc.record({ kind: fc.constant('set' as const), path: fc.constantFrom(...places), value: nasty }), weight: 6 },
    { arbitrary: fc.record({ kind: fc.constant('delete' as const), path: fc.constantFrom(...places) }), weight: 1 },
    { arbitrary: add, weight: 2 },
  );
}

// Object.fromEntries and defineProperty, not assignment: "__proto__" must become a key of the JSON, not the
// object's prototype.
const clone = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(clone) : isObject(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)])) : v;
const put = (target: object, key: string | number, value: unknown) =>
  Object.defineProperty(target, key, { value, enumerable: true, configurable: true, writable: true });

/** Applies `m` to a copy of `value`; a mutation whose place an earlier one removed changes nothing. */
function mutate(value: unknown, m: Mutation): unknown {
  const copy = clone(value);
  const parent = valueAt(copy, m.kind === 'add' ? m.path : m.path.slice(0, -1));
  if (!isObject(parent)) return copy;
  const last = m.path.at(-1)!;
  if (m.kind === 'add') put(parent, m.key, m.value);
  else if (m.kind === 'set') put(parent, last, m.value);
  else if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else delete parent[last];
  return copy;
}

/** A valid body from `base`, most often with one thing broken, sometimes two. */
const nearValid = <T extends object>(base: fc.Arbitrary<T>) =>
  base.chain((b) => fc.array(mutation(b), { maxLength: 2 }).map((ms) => ms.reduce<unknown>(mutate, b)));

type Body = { kind: 'json'; value: unknown } | { kind: 'raw'; text: string };
const body = <T extends object>(base: fc.Arbitrary<T>): fc.Arbitrary<Body> =>
  fc.oneof(
    { arbitrary: nearValid(base).map((value): Body => ({ kind: 'json', value })), weight: 8 },
    { arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value): Body => ({ kind: 'json', value })), weight: 2 },
    { arbitrary: fc.string({ unit: 'grapheme', maxLength: 60 }).map((text): Body => ({ kind: 'raw', text })), weight: 1 },
    { arbitrary: fc.constantFrom('', ' ', '{', '[', '{"a":1,}', '{"a":1}{"b":2}', 'null', 'NaN', '\u0000', '{"a":1e400}', '{"__proto__":{"role":"admin"}}', '\uFEFF{}').map((text): Body => ({ kind: 'raw', text })), weight: 1 },
  );

// Types Hapi cannot parse (";;;", a list) stop at serverless-offline with its own 400, before any function.
const CONTENT_TYPES = [undefined, 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'APPLICATION/JSON', 'application/vnd.api+json', 'application/jsonp', '*/*'];
const contentType = fc.oneof({ arbitrary: fc.constant('application/json'), weight: 8 }, { arbitrary: fc.constantFrom(...CONTENT_TYPES), weight: 2 });
const acceptEncoding = fc.constantFrom(undefined, undefined, 'gzip', 'br', 'deflate', 'gzip;q=0', 'identity', '*', 'x-unknown', 'br;q=1.0, gzip;q=0.8, *;q=0.1');

/** Header values fetch will send: printable ASCII only. */
const headerText = (maxLength: number) => fc.string({ unit: 'binary-ascii', maxLength }).map((s) => s.replace(/[^\x20-\x7e]/g, ''));

type TokenName = keyof Fixtures['tokens'];
type Auth = { token: TokenName } | { header: string } | undefined;
const badAuth: fc.Arbitrary<Auth> = fc.oneof(
  fc.constantFrom<TokenName>('algNoneAdmin', 'wrongSecretAdmin', 'expired').map((token) => ({ token })),
  fc.constantFrom('Bearer', 'Bearer ', 'Basic YTpi', 'bearer a.b.c', 'Bearer a.b', `Bearer ${'a'.repeat(5000)}.b.c`).map((header) => ({ header })),
  headerText(80).map((s) => ({ header: `Bearer ${s}` })),
);
const authFor = (mode: 'none' | 'user' | 'admin'): fc.Arbitrary<Auth> =>
  fc.oneof(
    { arbitrary: fc.constant<Auth>(mode === 'admin' ? { token: 'admin' } : mode === 'user' ? { token: 'customer' } : undefined), weight: 8 },
    { arbitrary: fc.constantFrom<Auth>(undefined, { token: 'customer' }, { token: 'other' }), weight: 1 },
    { arbitrary: badAuth, weight: 1 },
  );

const queryValue = (valid: string[]) =>
  fc.oneof(
    { arbitrary: fc.constantFrom(...valid), weight: 3 },
    { arbitrary: fc.constantFrom(...NASTY_CONSTANTS.filter((v) => typeof v !== 'object').map(String)), weight: 2 },
    { arbitrary: fc.string({ unit: 'grapheme', maxLength: 120 }), weight: 2 },
  );
/** Key-value pairs (repeated keys included) plus the odd malformed piece, as one query string. */
const queryString = (params: Record<string, string[]>) => {
  const known = Object.entries(params);
  const pair = fc.oneof(
    ...(known.length > 0 ? [{ arbitrary: fc.constantFrom(...known).chain(([k, valid]) => queryValue(valid).map((v) => `${k}=${encodeURIComponent(v)}`)), weight: 6 }] : []),
    { arbitrary: fc.tuple(extraKey.filter((k) => k !== ''), fc.string({ unit: 'grapheme', maxLength: 20 })).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`), weight: 1 },
    { arbitrary: fc.constantFrom('', '=', '=x', 'limit', 'limit=', '&', 'a[]=1', 'a[b]=1'), weight: 1 },
  );
  return fc.oneof(
    { arbitrary: fc.constant(''), weight: 2 },
    { arbitrary: fc.array(pair, { minLength: 1, maxLength: 4 }).map((pairs) => `?${pairs.join('&')}`), weight: known.length > 0 ? 6 : 1 },
  );
};

const ID_CONSTANTS = ['0', '-1', '1.5', '1e3', '0x1F', '+1', ' 1', '1 ', '00001', '9'.repeat(17), '9'.repeat(1000), '9007199254740992', 'abc', 'null', 'undefined', '..%2F..%2Fetc%2Fpasswd', "1' OR '1'='1", '1;DROP TABLE products', '%', '/', '../..', '\\', '\u0000', '１', '٣', '...', String(NONEXISTENT), String(MAX_ID)];
/** A path parameter; decoded it stays one segment (".." and "." would be routed elsewhere by the URL itself). */
const pathId = (ids: () => number[]) =>
  fc
    .oneof(
      { arbitrary: fc.nat().map((i) => String(ids()[i % ids().length])), weight: 4 },
      { arbitrary: fc.constantFrom(...ID_CONSTANTS), weight: 3 },
      { arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), weight: 2 },
      { arbitrary: fc.webSegment().filter((s) => s.length > 0), weight: 1 },
    )
    .filter((s) => s !== '.' && s !== '..');

/** A whole-number id that is not ours would let a generated write reach another test's rows. */
const ours = (id: unknown, mine: number[]) => !(Number.isSafeInteger(id) && (id as number) > 0 && !mine.includes(id as number));
const guardPathId = (raw: string, mine: number[]) => (/^[0-9]{1,16}$/.test(raw) && !mine.includes(Number(raw)) ? String(NONEXISTENT) : raw);
function guardProductIds(value: unknown): unknown {
  const items = (value as { items?: unknown })?.items;
  if (!Array.isArray(items)) return value;
  for (const item of items) {
    if (item && typeof item === 'object' && !ours((item as { productId?: unknown }).productId, f.productIds)) {
      (item as { productId: number }).productId = NONEXISTENT;
    }
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------------
// The routes
// ---------------------------------------------------------------------------------------------------------

interface FuzzRequest {
  method: string;
  path: string;
  auth: Auth;
  contentType?: string | undefined;
  acceptEncoding?: string | undefined;
  idempotencyKey?: string | undefined;
  body?: Body;
}

interface RouteSpec {
  route: string;
  /** Share of RUNS: routes that hash passwords on valid input run fewer times. */
  share?: number;
  request: () => fc.Arbitrary<FuzzRequest>;
}

const withBody = (method: string, mode: 'none' | 'user' | 'admin', path: fc.Arbitrary<string>, base: fc.Arbitrary<object>, guard: (v: unknown) => unknown = (v) => v) =>
  fc.record({
    method: fc.constant(method),
    path,
    auth: authFor(mode),
    contentType,
    acceptEncoding,
    body: body(base).map((b): Body => (b.kind === 'json' ? { kind: 'json', value: guard(b.value) } : b)),
  });
const withoutBody = (method: string, mode: 'none' | 'user' | 'admin', path: fc.Arbitrary<string>) =>
  fc.record({ method: fc.constant(method), path, auth: authFor(mode), acceptEncoding });

const LIST_QUERY = { limit: ['1', '20', '100'], offset: ['0', '5', '10000'], category: ['electronics', 'books', 'no-such-category'], q: ['ear', 'a', '%', '_'], sort: ['id', 'name', '-name', 'price', '-price', 'newest'] };
const PAGE_QUERY = { limit: ['1', '20', '100'], offset: ['0', '1', '10000'] };
const noQuery = queryString({});
const at = (prefix: string, suffix = '') => (ids: () => number[], writes: boolean) =>
  fc.tuple(pathId(ids), noQuery).map(([id, q]) => `${prefix}/${encodeURIComponent(writes ? guardPathId(id, ids()) : id)}${suffix}${q}`);

const productBase = fc.record({
  sku: fc.nat().map((n) => `FZ${RUN.toUpperCase()}-${n}`.slice(0, 40)),
  name: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }),
  description: fc.string({ unit: 'grapheme', maxLength: 100 }),
  category: fc.constant(`fuzz-${RUN}`.slice(0, 40)),
  priceCents: fc.integer({ min: 90_000_000, max: 100_000_000 }),
  currency: fc.constant('EUR'),
  stock: fc.integer({ min: 0, max: 1_000_000 }),
});
const changesBase = fc.record(
  { name: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }), description: fc.string({ maxLength: 100 }), priceCents: fc.integer({ min: 90_000_000, max: 100_000_000 }), stock: fc.integer({ min: 0, max: 1_000_000 }) },
  { requiredKeys: [] },
);
const orderBase = () =>
  fc.record({
    items: fc.uniqueArray(fc.record({ productId: fc.constantFrom(...f.productIds), quantity: fc.integer({ min: 1, max: 3 }) }), { minLength: 1, maxLength: 2, selector: (i) => i.productId }),
  });

const ROUTES: RouteSpec[] = [
  { route: 'GET /api/products', request: () => withoutBody('GET', 'none', queryString(LIST_QUERY).map((q) => `/api/products${q}`)) },
  { route: 'GET /api/products/{id}', request: () => withoutBody('GET', 'none', at('/api/products')(() => [...f.productIds, ...f.doomedIds], false)) },
  { route: 'POST /api/products', request: () => withBody('POST', 'admin', noQuery.map((q) => `/api/products${q}`), productBase) },
  { route: 'PUT /api/products/{id}', request: () => withBody('PUT', 'admin', at('/api/products')(() => f.productIds, true), changesBase) },
  { route: 'DELETE /api/products/{id}', request: () => withoutBody('DELETE', 'admin', at('/api/products')(() => f.doomedIds, true)) },
  {
    route: 'POST /api/users/register',
    share: 0.4,
    request: () =>
      withBody(
        'POST',
        'none',
        noQuery.map((q) => `/api/users/register${q}`),
        fc.record({ email: fc.nat().map((n) => `fuzz-${RUN}-${n}@example.com`), password: fc.string({ unit: 'grapheme', minLength: 8, maxLength: 40 }), name: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }) }),
      ),
  },
  {
    // Only this file's customer and made-up addresses: locking a shared account would fail other files.
    route: 'POST /api/users/login',
    share: 0.4,
    request: () =>
      withBody('POST', 'none', noQuery.map((q) => `/api/users/login${q}`), fc.record({ email: fc.constantFrom(f.customer.email, `nobody-${RUN}@example.com`), password: fc.string({ maxLength: 40 }) })),
  },
  { route: 'GET /api/users/me', request: () => withoutBody('GET', 'user', noQuery.map((q) => `/api/users/me${q}`)) },
  {
    route: 'POST /api/orders',
    request: () =>
      withBody('POST', 'user', noQuery.map((q) => `/api/orders${q}`), orderBase(), guardProductIds).chain((r) =>
        fc.option(fc.oneof(fc.stringMatching(/^[A-Za-z0-9_.:-]{1,40}$/), headerText(300)), { nil: undefined }).map((idempotencyKey) => ({ ...r, idempotencyKey })),
      ),
  },
  { route: 'GET /api/orders', request: () => withoutBody('GET', 'user', queryString(PAGE_QUERY).map((q) => `/api/orders${q}`)) },
  { route: 'GET /api/orders/{id}', request: () => withoutBody('GET', 'user', at('/api/orders')(() => [...f.orderIds, f.otherOrderId], false)) },
  {
    route: 'PATCH /api/orders/{id}/status',
    request: () => withBody('PATCH', 'admin', at('/api/orders', '/status')(() => [...f.orderIds, f.otherOrderId], true), fc.record({ status: fc.constantFrom('pending', 'paid', 'shipped', 'delivered', 'cancelled') })),
  },
  { route: 'GET /healthz', request: () => withoutBody('GET', 'none', noQuery.map((q) => `/healthz${q}`)) },
  { route: 'GET /info', request: () => withoutBody('GET', 'none', noQuery.map((q) => `/info${q}`)) },
  { route: 'GET /healthz/metrics', request: () => withoutBody('GET', 'none', noQuery.map((q) => `/healthz/metrics${q}`)) },
];

// ---------------------------------------------------------------------------------------------------------
// Sending, and what every answer must be
// ---------------------------------------------------------------------------------------------------------

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

async function send(r: FuzzRequest): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (r.auth && 'token' in r.auth) headers.authorization = `Bearer ${f.tokens[r.auth.token]}`;
  if (r.auth && 'header' in r.auth) headers.authorization = r.auth.header;
  if (r.contentType) headers['content-type'] = r.contentType;
  if (r.acceptEncoding) headers['accept-encoding'] = r.acceptEncoding;
  if (r.idempotencyKey !== undefined) headers['idempotency-key'] = r.idempotencyKey;
  // Bytes, not a string: fetch then adds no Content-Type of its own.
  const payload = r.body && Buffer.from(r.body.kind === 'json' ? serialise(r.body.value) : r.body.text);
  const response = await fetch(`${baseUrl()}${r.path}`, { method: r.method, headers, body: payload, redirect: 'manual' });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

// The contract from a client's side: each code means one status.
const STATUS_OF_CODE: Record<string, number> = {
  VALIDATION_ERROR: 400, MALFORMED_JSON: 400, UNAUTHORIZED: 401, INVALID_CREDENTIALS: 401, FORBIDDEN: 403, NOT_FOUND: 404,
  OUT_OF_STOCK: 409, EMAIL_TAKEN: 409, SKU_TAKEN: 409, INVALID_TRANSITION: 409, PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415, IDEMPOTENCY_KEY_REUSED: 422, UNKNOWN_PRODUCT: 422, MIXED_CURRENCY: 422, TOO_MANY_ATTEMPTS: 429,
};
const STACK_TRACE = /\bat .*\.(?:[cm]?[jt]s):\d|\bat (?:async )?[\w.<>]+ \(/;
const LEAKS = [/\b(?:SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b/, /node_modules|\/work\/|file:\/\/|\.esbuild|\.ts:\d/, /password_hash|duplicate key|violates|syntax error at|relation "/i];

function checkAnswer(r: FuzzRequest, a: Answer): void {
  const context = `${r.method} ${r.path.slice(0, 200)} → ${a.status} ${a.text.slice(0, 300)}`;
  expect(a.status, context).toBeLessThan(500);
  // Set by our Middy stack only: an answer without them did not come from the function.
  expect(a.headers.get('x-content-type-options'), context).toBe('nosniff');
  expect(a.headers.get('content-security-policy'), context).toMatch(/frame-ancestors 'none'/);
  expect(a.headers.get('strict-transport-security'), context).toMatch(/max-age=\d+/);
  expect(a.text, context).not.toMatch(STACK_TRACE);
  for (const leak of LEAKS) expect(a.text, context).not.toMatch(leak);
  if (a.status === 204) {
    expect(a.text, context).toBe('');
    return;
  }
  expect(a.headers.get('content-type'), context).toMatch(/^application\/json/);
  const parsed = JSON.parse(a.text) as { error?: { code?: unknown; message?: unknown } };
  if (a.status >= 400) {
    expect(Object.keys(parsed), context).toEqual(['error']);
    expect(Object.keys(parsed.error!).filter((k) => !['code', 'message', 'details'].includes(k)), context).toEqual([]);
    expect(STATUS_OF_CODE[String(parsed.error!.code)], context).toBe(a.status);
    expect(parsed.error!.message, context).toMatch(/\S/);
  }
}

/** What a rejected request must leave unchanged: this file's rows, and anything named in the request. */
async function snapshot(r: FuzzRequest): Promise<unknown> {
  const value = r.body?.kind === 'json' ? (r.body.value as Record<string, unknown> | null) : null;
  // Postgres text cannot hold NUL, so a value with one was never stored: nothing to count.
  const field = (k: string) => (value && typeof value === 'object' && typeof value[k] === 'string' && !value[k].includes('\u0000') ? [value[k] as string] : []);
  const { rows } = await db.query(
    `SELECT
       (SELECT coalesce(string_agg(md5(p::text), ',' ORDER BY p.id), '') FROM products p WHERE p.id = ANY($1::bigint[])) AS products,
       (SELECT count(*)::int FROM products WHERE sku = ANY($2::text[])) AS skus,
       (SELECT count(*)::int FROM users WHERE lower(email) = ANY($3::text[])) AS emails,
       (SELECT coalesce(string_agg(md5(o::text), ',' ORDER BY o.id), '') FROM orders o WHERE o.user_id = ANY($4::bigint[])) AS orders,
       (SELECT count(*)::int FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.user_id = ANY($4::bigint[])) AS items,
       (SELECT count(*)::int FROM idempotency_keys WHERE user_id = ANY($4::bigint[])) AS keys`,
    [[...f.productIds, ...f.doomedIds], field('sku'), field('email').map((e) => e.trim().toLowerCase()), [f.customer.id, f.other.id]],
  );
  return rows[0];
}

const seen = new Map<string, Map<number, number>>();

describe('fuzzing every route (fast-check, serverless-offline)', () => {
  it('covers the 15 HTTP routes of serverless.yml', async () => {
    const { parse } = await import('yaml');
    const { readFile } = await import('node:fs/promises');
    const sls = parse(await readFile('serverless.yml', 'utf8')) as { functions: Record<string, { events: { httpApi?: string }[] }> };
    // Not the $default route ('*'): what it answers is whatever no route matches, which the path fuzz reaches.
    const routes = Object.values(sls.functions).flatMap((fn) => fn.events.map((e) => e.httpApi).filter((r) => r && r !== '*'));
    expect(ROUTES.map((r) => r.route).sort()).toEqual(routes.sort());
  });

  it('sees a write in its snapshot (the control for "nothing written")', async () => {
    const sku = `FZ${RUN.toUpperCase()}-CONTROL`.slice(0, 40);
    const email = `fuzz-${RUN}-control@example.com`;
    const writes: FuzzRequest[] = [
      { method: 'PUT', path: `/api/products/${f.productIds[1]}`, auth: { token: 'admin' }, contentType: 'application/json', body: { kind: 'json', value: { stock: 7 } } },
      { method: 'POST', path: '/api/products', auth: { token: 'admin' }, contentType: 'application/json', body: { kind: 'json', value: { sku, name: 'Control', category: 'fuzz', priceCents: 90_000_000, stock: 1 } } },
      { method: 'POST', path: '/api/users/register', auth: undefined, contentType: 'application/json', body: { kind: 'json', value: { email, password: 'correct-horse', name: 'Control' } } },
      { method: 'POST', path: '/api/orders', auth: { token: 'customer' }, contentType: 'application/json', body: { kind: 'json', value: { items: [{ productId: f.productIds[1], quantity: 1 }] } } },
    ];
    for (const r of writes) {
      const before = await snapshot(r);
      const answer = await send(r);
      expect(answer.status, answer.text).toBeLessThan(300);
      expect(await snapshot(r), `${r.method} ${r.path}`).not.toEqual(before);
    }
  });

  for (const spec of ROUTES) {
    it(`${spec.route}: no 5xx, the error contract, security headers, no leaks, nothing written when rejected`, async () => {
      const statuses = new Map<number, number>();
      seen.set(spec.route, statuses);
      await fc.assert(
        fc.asyncProperty(spec.request(), async (r) => {
          const before = await snapshot(r);
          const answer = await send(r);
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          checkAnswer(r, answer);
          if (answer.status >= 400) expect(await snapshot(r), `${r.method} ${r.path} → ${answer.status} wrote`).toEqual(before);
        }),
        { seed: SEED, numRuns: Math.max(1, Math.round(RUNS * (spec.share ?? 1))) },
      );
      // A generator stuck on one answer (every request a 401, say) would test next to nothing.
      expect(statuses.size, JSON.stringify([...statuses])).toBeGreaterThanOrEqual(Math.min(2, RUNS));
    }, 120_000);
  }

  afterAll(() => {
    const rows = [...seen].map(([route, statuses]) => {
      const total = [...statuses.values()].reduce((s, n) => s + n, 0);
      return `${route.padEnd(30)} ${String(total).padStart(5)}  ${[...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}:${n}`).join(' ')}`;
    });
    console.log(`fuzz: requests per route and their statuses (seed ${SEED})\n${rows.join('\n')}`);
  });
});
