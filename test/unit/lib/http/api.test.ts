import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { api } from '../../../../lib/http/api.ts';
import { ok } from '../../../../lib/http/responses.ts';
import { registry } from '../../../../lib/metrics/registry.ts';
import { OutOfStockError } from '../../../../lib/shop/errors.ts';
import { ServiceUnavailableError } from '../../../../lib/errors.ts';
import { issueToken } from '../../../../lib/auth/tokens.ts';
import { httpEvent, lambdaContext } from '../../../../scripts/support/lambda.ts';

const requests = async (labels: Record<string, string>) =>
  (await registry.getSingleMetric('http_requests_total')!.get()).values.find((v) =>
    Object.entries(labels).every(([k, value]) => v.labels[k] === value),
  )?.value ?? 0;
const errorBody = (response: { body?: string }) => JSON.parse(response.body!).error;

describe('the api() handler factory', () => {
  it('passes validated, typed input to the route function', async () => {
    // Prepare
    const fn = vi.fn(async (input: { body: { n: number }; query: { q?: string }; params: { id: string } }) => ok(input));
    const handler = api(fn, {
      route: 'POST /unit/{id}',
      body: z.strictObject({ n: z.number() }),
      query: z.strictObject({ q: z.string().optional() }),
      params: z.strictObject({ id: z.string() }),
    });
    // Act
    const response = await handler(httpEvent('POST /unit/7', { body: { n: 5 }, query: { q: 'x' }, params: { id: '7' } }), lambdaContext());
    // Assess
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body!)).toEqual(expect.objectContaining({ body: { n: 5 }, query: { q: 'x' }, params: { id: '7' } }));
  });

  it('rejects a string where a number is expected, and unknown fields, with 400 VALIDATION_ERROR', async () => {
    const handler = api(async () => ok({}), { route: 'POST /unit/strict', body: z.strictObject({ n: z.number() }) });
    const coerced = await handler(httpEvent('POST /unit/strict', { body: { n: '5' } }), lambdaContext());
    const extra = await handler(httpEvent('POST /unit/strict', { body: { n: 5, admin: true } }), lambdaContext());
    expect(coerced.statusCode).toBe(400);
    expect(errorBody(coerced)).toEqual({ code: 'VALIDATION_ERROR', message: 'invalid body', details: { location: 'body', issues: [expect.objectContaining({ path: 'n' })] } });
    expect(extra.statusCode).toBe(400);
  });

  it('answers malformed JSON with 400 MALFORMED_JSON and never echoes the body', async () => {
    const handler = api(async () => ok({}), { route: 'POST /unit/json', body: z.strictObject({ password: z.string() }) });
    const response = await handler(httpEvent('POST /unit/json', { rawBody: '{"password":"hunter2"', headers: { 'content-type': 'application/json' } }), lambdaContext());
    expect(response.statusCode).toBe(400);
    expect(errorBody(response).code).toBe('MALFORMED_JSON');
    expect(response.body).not.toContain('hunter2');
  });

  it('answers a body that is not JSON with 415 and an oversized one with 413', async () => {
    const handler = api(async () => ok({}), { route: 'POST /unit/size', body: z.strictObject({ s: z.string() }) });
    const text = await handler(httpEvent('POST /unit/size', { rawBody: 's=1', headers: { 'content-type': 'text/plain' } }), lambdaContext());
    const huge = await handler(httpEvent('POST /unit/size', { body: { s: 'x'.repeat(20_000) } }), lambdaContext());
    expect([text.statusCode, errorBody(text).code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    expect([huge.statusCode, errorBody(huge).code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
  });

  it('maps shop errors through the code table, with their details', async () => {
    const handler = api(async () => {
      throw new OutOfStockError('not enough stock', { productIds: [3] });
    }, { route: 'POST /unit/stock' });
    const response = await handler(httpEvent('POST /unit/stock'), lambdaContext());
    expect(response.statusCode).toBe(409);
    expect(errorBody(response)).toEqual({ code: 'OUT_OF_STOCK', message: 'not enough stock', details: { productIds: [3] } });
  });

  it('turns a bug into a generic 500 without the stack, and counts it in errors_total', async () => {
    const handler = api(async () => {
      throw new TypeError("Cannot read properties of undefined (reading 'secret')");
    }, { route: 'GET /unit/bug' });
    const errorsBefore = (await registry.getSingleMetric('errors_total')!.get()).values.reduce((s, v) => s + v.value, 0);
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});

    const response = await handler(httpEvent('GET /unit/bug'), lambdaContext());

    spy.mockRestore();
    expect(response.statusCode).toBe(500);
    expect(errorBody(response)).toEqual({ code: 'INTERNAL_ERROR', message: 'internal error' });
    expect(response.body).not.toMatch(/secret|TypeError|\.ts:/);
    const errorsAfter = (await registry.getSingleMetric('errors_total')!.get()).values.reduce((s, v) => s + v.value, 0);
    expect(errorsAfter).toBe(errorsBefore + 1);
  });

  it('answers an outage with 503 and Retry-After', async () => {
    const handler = api(async () => {
      throw new ServiceUnavailableError('database unavailable');
    }, { route: 'GET /unit/outage' });
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    const response = await handler(httpEvent('GET /unit/outage'), lambdaContext());
    spy.mockRestore();
    expect(response.statusCode).toBe(503);
    expect(response.headers['Retry-After']).toBe('1');
    expect(errorBody(response).code).toBe('SERVICE_UNAVAILABLE');
  });

  it('puts security and CORS headers on error answers too', async () => {
    const handler = api(async () => ok({}), { route: 'GET /unit/headers', auth: 'user' });
    const response = await handler(httpEvent('GET /unit/headers', { headers: { origin: 'https://shop.example' } }), lambdaContext());
    expect(response.statusCode).toBe(401);
    const headers = Object.fromEntries(Object.entries(response.headers!).map(([k, v]) => [k.toLowerCase(), v]));
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['access-control-allow-origin']).toBeDefined();
  });

  it('refuses unknown query parameters on routes that take none', async () => {
    const handler = api(async () => ok({}), { route: 'GET /unit/noquery' });
    const response = await handler(httpEvent('GET /unit/noquery', { query: { debug: '1' } }), lambdaContext());
    expect(response.statusCode).toBe(400);
  });

  it('lets a customer through a user route and stops them at an admin route', async () => {
    const token = await issueToken({ userId: 9, role: 'customer' });
    const seen = vi.fn(async ({ principal }: { principal: unknown }) => ok({ principal }));
    const userRoute = api(seen, { route: 'GET /unit/mine', auth: 'user' });
    const adminRoute = api(async () => ok({}), { route: 'GET /unit/admin', auth: 'admin' });
    const headers = { authorization: `Bearer ${token}` };

    const mine = await userRoute(httpEvent('GET /unit/mine', { headers }), lambdaContext());
    const admin = await adminRoute(httpEvent('GET /unit/admin', { headers }), lambdaContext());

    expect(JSON.parse(mine.body!)).toEqual({ principal: { userId: 9, role: 'customer' } });
    expect([admin.statusCode, errorBody(admin).code]).toEqual([403, 'FORBIDDEN']);
  });

  it('checks the token before the body, so an anonymous caller learns nothing about validation', async () => {
    const handler = api(async () => ok({}), { route: 'POST /unit/auth-first', auth: 'user', body: z.strictObject({ n: z.number() }) });
    const response = await handler(httpEvent('POST /unit/auth-first', { rawBody: 'not json', headers: { 'content-type': 'application/json' } }), lambdaContext());
    expect(response.statusCode).toBe(401);
  });

  it('counts every request with the status the client got: success, thrown error, and early answer', async () => {
    const route = 'GET /unit/counted';
    const handler = api(async ({ query }) => {
      if ((query as { fail?: string }).fail) throw new Error('boom');
      return ok({});
    }, { route, query: z.strictObject({ fail: z.string().optional() }) });
    const [ok0, err0, bad0] = await Promise.all(['200', '500', '400'].map((status_code) => requests({ route: '/unit/counted', status_code })));
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});

    await handler(httpEvent(route), lambdaContext());
    await handler(httpEvent(route, { query: { fail: '1' } }), lambdaContext());
    await handler(httpEvent(route, { query: { nope: '1' } }), lambdaContext()); // rejected in a before

    spy.mockRestore();
    expect(await requests({ route: '/unit/counted', status_code: '200', method: 'GET' })).toBe(ok0! + 1);
    expect(await requests({ route: '/unit/counted', status_code: '500' })).toBe(err0! + 1);
    expect(await requests({ route: '/unit/counted', status_code: '400' })).toBe(bad0! + 1);
  });
});
