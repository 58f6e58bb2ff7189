// Real handlers under serverless-offline push to the Pushgateway: every route's push is accepted (the
// gateway's consistency check never rejects one), and /healthz/metrics tells what the container did.
import { describe, expect, it } from 'vitest';
import { adminToken, call, registerCustomer } from '../support/http.ts';
import { gatewayGroups } from '../../scripts/support/gateway.ts';

const gatewayUrl = process.env.PUSHGATEWAY_URL;

describe.runIf(gatewayUrl)('metrics pushed by the functions', () => {
  it('has every push of every route accepted by the gateway', async () => {
    // Prepare: at least one request on every route, including error answers
    const admin = await adminToken();
    const buyer = await registerCustomer();
    await call('GET', '/api/products?limit=2');
    await call('GET', '/api/products/1');
    await call('GET', '/api/products/abc');
    await call('POST', '/api/products', { token: admin, body: { sku: `M-${Date.now()}`, name: 'Metered', category: 'testing', priceCents: 1, stock: 1 } });
    await call('PUT', '/api/products/999999', { token: admin, body: { stock: 1 } });
    await call('DELETE', '/api/products/999999', { token: admin });
    await call('POST', '/api/users/login', { body: { email: 'nobody@example.com', password: 'wrong-password' } });
    await call('GET', '/api/users/me', { token: buyer.token });
    const order = await call('POST', '/api/orders', { token: buyer.token, body: { items: [{ productId: 2, quantity: 1 }] } });
    await call('GET', '/api/orders', { token: buyer.token });
    await call('GET', `/api/orders/${order.body.id}`, { token: buyer.token });
    await call('PATCH', `/api/orders/${order.body.id}/status`, { token: admin, body: { status: 'paid' } });
    await call('GET', '/healthz');
    await call('GET', '/info');
    await call('GET', '/healthz/metrics'); // a container pushes after it answers: the second call sees the first push
    const summary = await call('GET', '/healthz/metrics');

    // Act
    const groups = await gatewayGroups(gatewayUrl!);

    // Assess
    const functions = new Set(groups.map((g) => g.labels.function));
    for (const fn of ['listProducts', 'getProduct', 'createProduct', 'updateProduct', 'deleteProduct', 'loginUser', 'getMe', 'createOrder', 'listOrders', 'getOrder', 'updateOrderStatus', 'healthz', 'info']) {
      expect([...functions].some((f) => f?.endsWith(`-${fn}`)), fn).toBe(true);
    }
    for (const group of groups) {
      const failed = group.push_failure_time_seconds as { metrics: { value: string }[] } | undefined;
      expect(Number(failed?.metrics[0]?.value ?? 0), JSON.stringify(group.labels)).toBe(0);
    }
    expect(summary.status).toBe(200);
    expect(summary.body.push).toEqual(expect.objectContaining({ lastPushOk: true, target: process.env.REDIS_URL ? 'slot' : 'solo' }));
    expect(summary.body.routes['GET /healthz/metrics'].requests).toBeGreaterThanOrEqual(1);
  });
});
