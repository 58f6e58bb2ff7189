// The package's public API as a user meets it: options checked at construction, and the plugin's series.
import middy from '@middy/core';
import { describe, expect, it } from 'vitest';
import { prometheusPush, routeOf, type PrometheusPushOptions } from '../../../packages/middy-pushgateway/src/index.ts';
import { httpEvent, lambdaContext } from '../../../scripts/support/lambda.ts';

const valueOf = async (metrics: ReturnType<typeof prometheusPush>, name: string, labels: Record<string, string>) => {
  const metric = await metrics.registry.getSingleMetric(name)!.get();
  return metric.values.find((v) => Object.entries(labels).every(([k, value]) => String(v.labels[k]) === value))?.value;
};

describe('prometheusPush options', () => {
  const bad: [string, Partial<PrometheusPushOptions>, RegExp][] = [
    ['no functionName', { functionName: '' }, /functionName is required/],
    ['a gateway URL that is not http', { gatewayUrl: 'redis://x:1' }, /gatewayUrl must be an http\(s\) URL/],
    ['buckets out of order', { buckets: [0.1, 0.05] }, /buckets must be positive and increasing/],
    ['a reserved constant label', { constLabels: { instance: 'x' } }, /"instance" is a label of the package's own/],
    ['a label name with a dash', { extraLabels: { names: ['tenant-id'], values: () => ({}) } }, /"tenant-id" is not a label name/],
    ['a status that is not one', { statusCodes: [700] }, /"700" is not an HTTP status/],
    ['a zero timeout', { timeoutMs: 0 }, /timeoutMs must be a positive whole number/],
    ['a namespace with a dash', { namespace: 'my-shop_' }, /namespace must be a metric name prefix/],
    ['slots without a client', { slots: { redis: undefined as never, max: 4 } }, /slots.redis must be an ioredis client/],
  ];
  it.each(bad)('refuses %s at construction, saying what is wrong', (_case, options, message) => {
    expect(() => prometheusPush({ functionName: 'fn', ...options })).toThrow(message);
  });
});

describe('routeOf', () => {
  it('reads API Gateway routes and ignores other events', () => {
    expect(routeOf(httpEvent('GET /items/{id}'))).toBe('GET /items/{id}');
    expect(routeOf({ ...httpEvent('POST /anything'), routeKey: '$default' })).toBe('POST $default');
    expect(routeOf({ httpMethod: 'PUT', resource: '/items/{id}' })).toBe('PUT /items/{id}');
    expect(routeOf({ source: 'aws.events' })).toBeUndefined();
  });
});

describe('the plugin', () => {
  it('counts what the client got: early returns, thrown errors and the route from the event', async () => {
    const metrics = prometheusPush({ functionName: 'items', statusCodes: [200, 404, 500], namespace: 'shop_', constLabels: { stage: 'test' } });
    const ok = middy(metrics.plugin()).handler(async () => ({ statusCode: 200, body: '' }));
    const early = middy(metrics.plugin())
      .use({ before: async () => ({ statusCode: 404, body: '' }) })
      .handler(async () => ({ statusCode: 200, body: '' }));
    const thrown = middy(metrics.plugin()).handler(async () => {
      throw new Error('bug');
    });
    await ok(httpEvent('GET /items/{id}'), lambdaContext());
    await early(httpEvent('GET /items/{id}'), lambdaContext());
    await expect(thrown(httpEvent('GET /items/{id}'), lambdaContext())).rejects.toThrow('bug');

    const route = { method: 'GET', route: '/items/{id}' };
    expect(await valueOf(metrics, 'shop_http_requests_total', { ...route, status_code: '200' })).toBe(1);
    expect(await valueOf(metrics, 'shop_http_requests_total', { ...route, status_code: '404' })).toBe(1);
    expect(await valueOf(metrics, 'shop_http_requests_total', { ...route, status_code: '500' })).toBe(1);
    expect(await valueOf(metrics, 'shop_function_invocations_total', { function: 'items', outcome: 'error' })).toBe(1);
    expect(await valueOf(metrics, 'shop_function_cold_starts_total', { function: 'items' })).toBe(1);
    // Constant labels go on every series of the exposition that is pushed.
    expect(await metrics.registry.metrics()).toContain('shop_http_requests_total{method="GET",route="/items/{id}",status_code="404",stage="test"} 1');
  });

  it('creates a fixed route\'s statuses at 0, skips what it is told to, and adds extra labels', async () => {
    const metrics = prometheusPush({
      functionName: 'items',
      defaultMetrics: false,
      coldStart: false,
      skip: (event) => (event as { warmup?: boolean }).warmup === true,
    });
    metrics.plugin({ route: 'GET /items' });
    expect(await valueOf(metrics, 'http_requests_total', { route: '/items', status_code: '500' })).toBe(0);
    const handler = middy(metrics.plugin({ route: 'GET /items' })).handler(async () => ({ statusCode: 200 }));
    await handler({ warmup: true }, lambdaContext());
    expect(await valueOf(metrics, 'http_requests_total', { route: '/items', status_code: '200' })).toBe(0);
    expect(metrics.registry.getSingleMetric('process_cpu_seconds_total')).toBeUndefined();
    expect(metrics.registry.getSingleMetric('function_cold_starts_total')).toBeUndefined();

    const tagged = prometheusPush({ functionName: 'items', extraLabels: { names: ['tenant'], values: (event) => ({ tenant: (event as { tenant: string }).tenant }) } });
    await middy(tagged.plugin({ route: 'GET /items' })).handler(async () => ({ statusCode: 200 }))({ tenant: 'acme' }, lambdaContext());
    expect(await valueOf(tagged, 'http_requests_total', { tenant: 'acme', status_code: '200' })).toBe(1);
  });
});
