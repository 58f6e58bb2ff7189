import { afterAll, describe, expect, it } from 'vitest';
import { shopStats } from '../../../../lib/shop/stats.ts';
import { createOrder, changeOrderStatus } from '../../../../lib/shop/orders.ts';
import { closePool } from '../../../../lib/db/pool.ts';
import { businessRegistry } from '../../../../lib/metrics/business-gauges.ts';
import { aCustomer, aProduct } from '../../../support/fixtures.ts';

afterAll(closePool);

describe('the shop in numbers', () => {
  it('counts orders by status and revenue without cancelled orders, as numbers', async () => {
    const before = await shopStats();
    const product = await aProduct({ priceCents: 700, stock: 10 });
    const buyer = await aCustomer();
    await createOrder(buyer, { items: [{ productId: product.id, quantity: 2 }] });
    const { order: cancelled } = await createOrder(buyer, { items: [{ productId: product.id, quantity: 1 }] });
    await changeOrderStatus(cancelled.id, 'cancelled');

    const after = await shopStats();

    expect(Object.keys(after.ordersByStatus).sort()).toEqual(['cancelled', 'delivered', 'paid', 'pending', 'shipped']);
    expect(after.ordersByStatus.pending! - (before.ordersByStatus.pending ?? 0)).toBeGreaterThanOrEqual(1);
    expect(after.ordersByStatus.cancelled! - (before.ordersByStatus.cancelled ?? 0)).toBeGreaterThanOrEqual(1);
    expect(typeof after.revenueByCurrency.EUR).toBe('number');
    expect(after.revenueByCurrency.EUR! - (before.revenueByCurrency.EUR ?? 0)).toBeGreaterThanOrEqual(1400);
    expect(typeof after.productsByCategory.fixtures).toBe('number');
    expect(await businessRegistry(after).metrics()).toContain('shop_orders{status="pending"}');
  });
});
