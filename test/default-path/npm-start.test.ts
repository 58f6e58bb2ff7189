// The default path, as a new user runs it: `npm start` (scripts/start.ts) with no DATABASE_URL, REDIS_URL or
// PUSHGATEWAY_URL, so the embedded PostgreSQL over a fresh data directory, the in-process cache and no pushes.
// Freshly started, then hit with bursts from cold: every failure must be a 4xx the route promises, never a
// 5xx, and never a 2xx carrying a Lambda error. Finally Ctrl-C (SIGINT to its process group) must stop it all.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, call, createProductAs, registerCustomer, unique, type Reply } from '../support/http.ts';
import { freePort } from '../../scripts/servers/process.ts';
import { TEST_ADMIN } from '../support/test-env.ts';
import { runWorkload } from '../support/workload.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const READY_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 30_000;
const LANES = 32;
const MIXED_REQUESTS = 320;

let start: ChildProcess;
let exited: Promise<number | null>;
let dataDir: string;
let compileCache: string;
let databaseUrl: string;
const logFile = path.join(os.tmpdir(), 'serverless-shop-default-path.log');

/** The PIDs of processes whose command line names `dir` (the embedded server and its postgres). */
const processesUsing = (dir: string): number[] =>
  readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'shop-default-path-pg-'));
  compileCache = await mkdtemp(path.join(os.tmpdir(), 'shop-default-path-compile-'));
  const [httpPort, lambdaPort, databasePort] = [await freePort(), await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HTTP_PORT: String(httpPort),
    LAMBDA_PORT: String(lambdaPort),
    EMBEDDED_DB_DIR: dataDir,
    EMBEDDED_DB_PORT: String(databasePort),
    ADMIN_EMAIL: TEST_ADMIN.email,
    ADMIN_PASSWORD: TEST_ADMIN.password,
    LOG_LEVEL: 'warn',
    // Empty: no container starts with code compiled by an earlier run.
    NODE_COMPILE_CACHE: compileCache,
    // Its own bundles: another serverless-offline (the e2e project's) may be serving from .esbuild.
    ESBUILD_WORK_FOLDER: '.esbuild-default-path',
  };
  // CI sets these for the other tests; the default path is without them.
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'PUSHGATEWAY_URL', 'OFFLINE_MAX_INVOCATIONS']) delete env[name];
  databaseUrl = `postgres://postgres@127.0.0.1:${databasePort}/postgres`;

  // A process group of its own, as a terminal gives `npm start`: Ctrl-C signals the whole group.
  start = spawn(process.execPath, ['scripts/start.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  exited = new Promise((resolve) => start.once('exit', (code) => resolve(code)));
  const log = createWriteStream(logFile);
  start.stdout!.pipe(log);
  start.stderr!.pipe(log);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start not ready after ${READY_TIMEOUT_MS} ms; see ${logFile}`)), READY_TIMEOUT_MS);
    start.stdout!.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-2000);
      if (!output.includes('serverless-shop is up on')) return;
      clearTimeout(timer);
      resolve();
    });
    start.once('exit', (code) => reject(new Error(`npm start exited with ${code}; see ${logFile}`)));
  });
  // test/support/http.ts talks to E2E_BASE_URL.
  process.env.E2E_BASE_URL = `http://127.0.0.1:${httpPort}`;
}, READY_TIMEOUT_MS + 10_000);

afterAll(async () => {
  if (start?.exitCode === null && start.signalCode === null) {
    try {
      process.kill(-start.pid!, 'SIGKILL');
    } catch {} // gone already
  }
  for (const pid of dataDir ? processesUsing(dataDir) : []) process.kill(pid, 'SIGKILL');
  if (dataDir) {
    await rm(dataDir, { recursive: true, force: true });
    await rm(`${dataDir}.lock`, { force: true });
  }
  // A worker of the stopped server may still be writing its compiled code there: retried, not raced.
  if (compileCache) await rm(compileCache, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
});

/** Neither a 5xx nor a 2xx that carries a Lambda error (serverless-offline's way of answering a timeout). */
function failures(replies: Reply[]): string[] {
  return replies
    .filter((r) => r.status >= 500 || (r.status < 300 && /"error(Message|Type)"/.test(r.text)))
    .map((r) => `${r.status} ${r.text.slice(0, 200)}`);
}

describe('npm start with no URLs (embedded PostgreSQL, in-process cache)', () => {
  let admin: string;
  let buyer: { token: string };

  beforeAll(async () => {
    admin = await adminToken();
    buyer = await registerCustomer();
  });

  // First, while createOrder has no container yet: every one of the 50 starts cold.
  it('sells exactly the stock to 50 concurrent orders from cold: 10 × 201, 40 × 409 OUT_OF_STOCK, stock 0', async () => {
    const product = await createProductAs(admin, { stock: 10 });
    const started = performance.now();
    const replies = await Promise.all(
      Array.from({ length: 50 }, () => call('POST', '/api/orders', { token: buyer.token, body: { items: [{ productId: product.id, quantity: 1 }] } })),
    );
    console.log(`cold burst of 50 orders: ${Math.round(performance.now() - started)} ms`);

    expect(failures(replies)).toEqual([]);
    expect(replies.filter((r) => r.status === 201)).toHaveLength(10);
    const refused = replies.filter((r) => r.status === 409);
    expect(refused).toHaveLength(40);
    for (const r of refused) expect(r.body.error.code).toBe('OUT_OF_STOCK');

    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ stock: number; ordered: number }>(
        'SELECT stock, (SELECT count(*)::int FROM order_items WHERE product_id = $1) AS ordered FROM products WHERE id = $1',
        [product.id],
      );
      expect(rows[0]).toEqual({ stock: 0, ordered: 10 });
    } finally {
      await client.end();
    }
  });

  it(`answers ${MIXED_REQUESTS} requests over every route, ${LANES} at a time, with no 5xx and no error as 2xx`, async () => {
    const perRoute = MIXED_REQUESTS / 16;
    const product = await createProductAs(admin, { stock: 1_000_000 });
    const doomed = await Promise.all(Array.from({ length: perRoute }, () => createProductAs(admin)));
    const orders = await Promise.all(
      Array.from({ length: perRoute }, async () => {
        const reply = await call('POST', '/api/orders', { token: buyer.token, body: { items: [{ productId: product.id, quantity: 1 }] } });
        if (reply.status !== 201) throw new Error(`order setup failed: ${reply.status} ${reply.text}`);
        return reply.body.id as number;
      }),
    );

    // Route, expected status, request; `i` counts the requests of that route, so each delete and each status
    // change has a product or an order of its own.
    const routes: [string, number, (i: number) => Promise<Reply>][] = [
      ['GET /api/products', 200, () => call('GET', '/api/products?limit=5')],
      ['GET /api/products/{id}', 200, () => call('GET', `/api/products/${product.id}`)],
      ['POST /api/products', 201, () => call('POST', '/api/products', { token: admin, body: newProduct() })],
      ['PUT /api/products/{id}', 200, (i) => call('PUT', `/api/products/${product.id}`, { token: admin, body: { priceCents: 1000 + i } })],
      ['DELETE /api/products/{id}', 204, (i) => call('DELETE', `/api/products/${doomed[i]!.id}`, { token: admin })],
      ['POST /api/users/register', 201, () => call('POST', '/api/users/register', { body: { email: `${unique('mixed')}@example.com`, password: 'correct-horse', name: 'Mixed' } })],
      ['POST /api/users/login', 200, () => call('POST', '/api/users/login', { body: TEST_ADMIN })],
      ['GET /api/users/me', 200, () => call('GET', '/api/users/me', { token: buyer.token })],
      ['POST /api/orders', 201, () => call('POST', '/api/orders', { token: buyer.token, body: { items: [{ productId: product.id, quantity: 1 }] } })],
      ['GET /api/orders', 200, () => call('GET', '/api/orders', { token: buyer.token })],
      ['GET /api/orders/{id}', 200, (i) => call('GET', `/api/orders/${orders[i]}`, { token: buyer.token })],
      ['PATCH /api/orders/{id}/status', 200, (i) => call('PATCH', `/api/orders/${orders[i]}/status`, { token: admin, body: { status: 'paid' } })],
      ['GET /healthz', 200, () => call('GET', '/healthz')],
      ['GET /info', 200, () => call('GET', '/info')],
      ['GET /healthz/metrics', 200, () => call('GET', '/healthz/metrics')],
      ['GET /unknown (the $default route)', 404, () => call('GET', `/${unique('nowhere')}`)],
    ];
    const replies: Reply[] = [];
    const unexpected: string[] = [];
    const started = performance.now();
    // Each lane sends request n, of route n mod 16: the first wave has every route in it, twice.
    await runWorkload(
      () => ({
        async invoke(n) {
          const [route, status, send] = routes[n % routes.length]!;
          const reply = await send(Math.floor(n / routes.length));
          replies.push(reply);
          if (reply.status !== status) unexpected.push(`${route}: ${reply.status} ${reply.text.slice(0, 200)}`);
        },
        abandon() {},
      }),
      { lanes: LANES, invocations: MIXED_REQUESTS, replaceProbability: 0 },
    );
    console.log(`mixed load of ${MIXED_REQUESTS} requests at ${LANES} at a time: ${Math.round(performance.now() - started)} ms`);

    expect(replies).toHaveLength(MIXED_REQUESTS);
    expect(failures(replies)).toEqual([]);
    expect(unexpected).toEqual([]);
  });

  it('stops on Ctrl-C: no server left running, no lock left behind', async () => {
    process.kill(-start.pid!, 'SIGINT');
    const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running'), STOP_TIMEOUT_MS))]);
    expect(code).toBe(0);
    expect(processesUsing(dataDir)).toEqual([]);
    expect(existsSync(`${dataDir}.lock`)).toBe(false);
    expect(existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(false);
    expect(existsSync(path.join(dataDir, 'PG_VERSION'))).toBe(true); // the data stays
  });
});

const newProduct = () => ({
  sku: unique('MIX').toUpperCase().replace(/[^A-Z0-9-]/g, '-').slice(0, 40),
  name: 'Mixed load product',
  category: 'testing',
  priceCents: 500,
  stock: 5,
});
