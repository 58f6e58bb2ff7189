// A small HTTP client for e2e tests: JSON in, parsed JSON out, headers kept.
import { TEST_ADMIN } from './test-env.ts';

export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export function baseUrl(): string {
  const url = process.env.E2E_BASE_URL;
  if (!url) throw new Error('E2E_BASE_URL is not set: run through the e2e project (test/support/offline.setup.ts)');
  return url;
}

export async function call<T = any>(
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string; token?: string; headers?: Record<string, string> } = {},
): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${baseUrl()}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed as T, text };
}

let counter = 0;
export const unique = (prefix: string) => `${prefix}-${process.pid}-${Date.now().toString(36)}-${++counter}`;

export async function registerCustomer(): Promise<{ token: string; id: number; email: string }> {
  const email = `${unique('buyer')}@example.com`;
  const reply = await call('POST', '/api/users/register', { body: { email, password: 'correct-horse', name: 'Test Buyer' } });
  if (reply.status !== 201) throw new Error(`register failed: ${reply.status} ${reply.text}`);
  return { token: reply.body.token, id: reply.body.user.id, email };
}

export async function adminToken(): Promise<string> {
  const reply = await call('POST', '/api/users/login', { body: TEST_ADMIN });
  if (reply.status !== 200) throw new Error(`admin login failed: ${reply.status} ${reply.text}`);
  return reply.body.token;
}

export async function createProductAs(token: string, overrides: Record<string, unknown> = {}): Promise<any> {
  const sku = unique('SKU').toUpperCase().replace(/[^A-Z0-9-]/g, '-').slice(0, 40);
  const reply = await call('POST', '/api/products', {
    token,
    body: { sku, name: 'Test product', category: 'testing', priceCents: 1250, stock: 10, ...overrides },
  });
  if (reply.status !== 201) throw new Error(`create product failed: ${reply.status} ${reply.text}`);
  return reply.body;
}
