import { describe, expect, it } from 'vitest';
import { adminToken, call, createProductAs, registerCustomer } from '../support/http.ts';

describe('the shop over HTTP (serverless-offline)', () => {
  it('serves the seeded catalogue with X-Cache MISS then HIT', async () => {
    const first = await call('GET', '/api/products?limit=5&sort=price');
    const second = await call('GET', '/api/products?limit=5&sort=price');
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(5);
    expect(first.body.total).toBeGreaterThanOrEqual(30);
    expect(first.body.items[0]).toEqual(
      expect.objectContaining({ id: expect.any(Number), sku: expect.any(String), priceCents: expect.any(Number), currency: 'EUR' }),
    );
    expect(second.headers.get('x-cache')).toBe('HIT');
    expect(second.body).toEqual(first.body);
  });

  it('runs a customer order from registration to delivery', async () => {
    const admin = await adminToken();
    const product = await createProductAs(admin, { stock: 5, priceCents: 999 });
    const buyer = await registerCustomer();

    const me = await call('GET', '/api/users/me', { token: buyer.token });
    expect(me.body.user).toEqual({ id: buyer.id, email: buyer.email, name: 'Test Buyer', role: 'customer' });

    const order = await call('POST', '/api/orders', { token: buyer.token, body: { items: [{ productId: product.id, quantity: 2 }] } });
    expect(order.status).toBe(201);
    expect(order.body).toEqual({
      id: expect.any(Number),
      status: 'pending',
      items: [{ productId: product.id, quantity: 2, unitPriceCents: 999 }],
      totalCents: 1998,
      currency: 'EUR',
      createdAt: expect.any(String),
    });

    const afterOrder = await call('GET', `/api/products/${product.id}`);
    expect(afterOrder.body.stock).toBe(3); // the order invalidated the cached product

    const mine = await call('GET', '/api/orders', { token: buyer.token });
    expect(mine.body).toEqual({ items: [order.body], total: 1, limit: 20, offset: 0 });
    expect((await call('GET', `/api/orders/${order.body.id}`, { token: buyer.token })).body).toEqual(order.body);

    for (const status of ['paid', 'shipped', 'delivered']) {
      const moved = await call('PATCH', `/api/orders/${order.body.id}/status`, { token: admin, body: { status } });
      expect(moved.status).toBe(200);
      expect(moved.body.status).toBe(status);
    }
  });

  it('restores stock when an admin cancels a paid order, and shows it on the next read', async () => {
    const admin = await adminToken();
    const product = await createProductAs(admin, { stock: 4 });
    const buyer = await registerCustomer();
    await call('GET', `/api/products/${product.id}`); // warm the cache
    const order = await call('POST', '/api/orders', { token: buyer.token, body: { items: [{ productId: product.id, quantity: 4 }] } });
    expect((await call('GET', `/api/products/${product.id}`)).body.stock).toBe(0);

    await call('PATCH', `/api/orders/${order.body.id}/status`, { token: admin, body: { status: 'paid' } });
    const cancelled = await call('PATCH', `/api/orders/${order.body.id}/status`, { token: admin, body: { status: 'cancelled' } });
    expect(cancelled.body.status).toBe('cancelled');
    expect((await call('GET', `/api/products/${product.id}`)).body.stock).toBe(4);
  });

  it('answers /healthz and /info', async () => {
    const health = await call('GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('ok');
    expect(health.body.checks.database.ok).toBe(true);
    const info = await call('GET', '/info');
    expect(info.body).toEqual(expect.objectContaining({ name: 'serverless-shop', runtime: expect.stringMatching(/^node v24/) }));
  });
});
