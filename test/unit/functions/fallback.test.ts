// The $default route in-process: serverless-offline rewrites the status of OPTIONS answers, so what the
// function itself answers is pinned here; test/e2e/security-headers.test.ts checks it over HTTP.
import { describe, expect, it } from 'vitest';
import { handler } from '../../../functions/ops/fallback.ts';
import { httpEvent, lambdaContext } from '../../../scripts/support/lambda.ts';

const origin = { origin: 'https://shop.example' };

describe('the $default route', () => {
  it('answers a preflight 204 with the methods and headers the API accepts', async () => {
    const reply = await handler(httpEvent('OPTIONS /api/orders', { headers: { ...origin, 'access-control-request-method': 'POST' } }), lambdaContext());
    expect(reply.statusCode).toBe(204);
    expect(reply.headers).toEqual(
      expect.objectContaining({
        'Access-Control-Allow-Methods': 'GET,POST,PUT,PATCH,DELETE',
        'Access-Control-Allow-Headers': 'authorization,content-type,idempotency-key',
        'X-Content-Type-Options': 'nosniff',
      }),
    );
  });

  it('answers anything else with the 404 error contract', async () => {
    const reply = await handler(httpEvent('GET /api/nothing-here', { headers: origin, query: { a: 'b' } }), lambdaContext());
    expect(reply.statusCode).toBe(404);
    expect(JSON.parse(reply.body!)).toEqual({ error: { code: 'NOT_FOUND', message: 'no such route' } });
  });
});
