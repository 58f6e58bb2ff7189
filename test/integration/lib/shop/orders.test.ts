import { afterAll, describe, expect, it } from 'vitest';
import { changeOrderStatus, createOrder, getOrder, listMyOrders } from '../../../../lib/shop/orders.ts';
import { viewProduct } from '../../../../lib/shop/products.ts';
import { db } from '../../../../lib/db/query.ts';
import { closePool } from '../../../../lib/db/pool.ts';
import {
  IdempotencyKeyReusedError,
  InvalidTransitionError,
  MixedCurrencyError,
  NotFoundError,
  OutOfStockError,
  UnknownProductError,
} from '../../../../lib/shop/errors.ts';
import { aCustomer, aProduct, admin, unique } from '../../../support/fixtures.ts';

afterAll(closePool);

const stockOf = async (id: number) =>
  (await db.query<{ stock: number }>({ operation: 'select', table: 'products' }, 'SELECT stock FROM products WHERE id = $1', [id]))[0]!.stock;
const ordersOf = async (userId: number) =>
  (await db.query<{ n: number }>({ operation: 'select', table: 'orders' }, 'SELECT count(*) AS n FROM orders WHERE user_id = $1', [userId]))[0]!.n;

describe('creating orders', () => {
  it('never oversells: fifty concurrent orders for ten in stock give exactly ten orders and stock 0', async () => {
    // Prepare
    const product = await aProduct({ stock: 10 });
    const buyers = await Promise.all(Array.from({ length: 5 }, aCustomer));
    // Act
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, n) => createOrder(buyers[n % buyers.length]!, { items: [{ productId: product.id, quantity: 1 }] })),
    );
    // Assess
    const created = results.filter((r) => r.status === 'fulfilled');
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(created).toHaveLength(10);
    expect(rejected).toHaveLength(40);
    for (const r of rejected) expect(r.reason).toBeInstanceOf(OutOfStockError);
    expect(await stockOf(product.id)).toBe(0);
    const [orders] = await db.query<{ n: number; units: number }>(
      { operation: 'select', table: 'order_items' },
      'SELECT count(*) AS n, coalesce(sum(quantity), 0) AS units FROM order_items WHERE product_id = $1',
      [product.id],
    );
    expect(orders).toEqual({ n: 10, units: 10 });
  });

  it('answers the same Idempotency-Key sent twenty times at once with one order and twenty identical answers', async () => {
    const product = await aProduct({ stock: 100, priceCents: 250 });
    const buyer = await aCustomer();
    const key = unique('key');
    const request = { items: [{ productId: product.id, quantity: 3 }] };

    const outcomes = await Promise.all(Array.from({ length: 20 }, () => createOrder(buyer, request, key)));

    expect(await ordersOf(buyer.userId)).toBe(1);
    expect(await stockOf(product.id)).toBe(97);
    const answers = new Set(outcomes.map((o) => JSON.stringify([o.statusCode, o.order])));
    expect(answers.size).toBe(1);
    expect(outcomes.filter((o) => !o.replayed)).toHaveLength(1);
    expect(outcomes[0]!.order).toEqual(expect.objectContaining({ totalCents: 750, status: 'pending' }));
  });

  it('replays the first answer byte for byte, even after the order moved on', async () => {
    const product = await aProduct();
    const buyer = await aCustomer();
    const key = unique('key');
    const first = await createOrder(buyer, { items: [{ productId: product.id, quantity: 1 }] }, key);
    await changeOrderStatus(first.order.id, 'paid');

    const replay = await createOrder(buyer, { items: [{ productId: product.id, quantity: 1 }] }, key);

    expect(replay.replayed).toBe(true);
    expect(JSON.stringify(replay.order)).toBe(JSON.stringify(first.order));
    expect(replay.statusCode).toBe(201);
  });

  it('rejects an Idempotency-Key reused with a different body, and writes nothing', async () => {
    const product = await aProduct({ stock: 10 });
    const buyer = await aCustomer();
    const key = unique('key');
    await createOrder(buyer, { items: [{ productId: product.id, quantity: 1 }] }, key);

    await expect(createOrder(buyer, { items: [{ productId: product.id, quantity: 2 }] }, key)).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
    expect(await stockOf(product.id)).toBe(9);
    expect(await ordersOf(buyer.userId)).toBe(1);
  });

  it('scopes idempotency keys to the user', async () => {
    const product = await aProduct({ stock: 10 });
    const [a, b] = [await aCustomer(), await aCustomer()];
    const key = unique('shared');
    const fromA = await createOrder(a, { items: [{ productId: product.id, quantity: 1 }] }, key);
    const fromB = await createOrder(b, { items: [{ productId: product.id, quantity: 1 }] }, key);
    expect(fromB.replayed).toBe(false);
    expect(fromB.order.id).not.toBe(fromA.order.id);
  });

  it('takes prices from the database and totals them in minor units', async () => {
    const [p1, p2] = [await aProduct({ priceCents: 1999 }), await aProduct({ priceCents: 1 })];
    const buyer = await aCustomer();
    const { order } = await createOrder(buyer, { items: [{ productId: p1.id, quantity: 2 }, { productId: p2.id, quantity: 5 }] });
    expect(order.totalCents).toBe(2 * 1999 + 5);
    expect(order.items).toEqual([
      { productId: p1.id, quantity: 2, unitPriceCents: 1999 },
      { productId: p2.id, quantity: 5, unitPriceCents: 1 },
    ]);
  });

  it('rolls back every line when one line is short of stock', async () => {
    const [plenty, scarce] = [await aProduct({ stock: 10 }), await aProduct({ stock: 1 })];
    const buyer = await aCustomer();
    await expect(
      createOrder(buyer, { items: [{ productId: plenty.id, quantity: 5 }, { productId: scarce.id, quantity: 2 }] }),
    ).rejects.toMatchObject({ code: 'OUT_OF_STOCK', details: { productIds: [scarce.id] } });
    expect(await stockOf(plenty.id)).toBe(10);
    expect(await ordersOf(buyer.userId)).toBe(0);
  });

  it('rejects unknown and deleted products, and mixed currencies', async () => {
    const buyer = await aCustomer();
    await expect(createOrder(buyer, { items: [{ productId: 987654321, quantity: 1 }] })).rejects.toBeInstanceOf(UnknownProductError);
    const [eur, usd] = [await aProduct(), await aProduct({ currency: 'USD' })];
    await expect(
      createOrder(buyer, { items: [{ productId: eur.id, quantity: 1 }, { productId: usd.id, quantity: 1 }] }),
    ).rejects.toBeInstanceOf(MixedCurrencyError);
    expect(await ordersOf(buyer.userId)).toBe(0);
  });

  it('invalidates the cached product so the next read shows the new stock', async () => {
    const product = await aProduct({ stock: 7 });
    const buyer = await aCustomer();
    await viewProduct(product.id);
    expect((await viewProduct(product.id)).cache).toBe('HIT');
    await createOrder(buyer, { items: [{ productId: product.id, quantity: 2 }] });
    const after = await viewProduct(product.id);
    expect(after.cache).toBe('MISS');
    expect(after.value.stock).toBe(5);
  });
});

describe('reading orders', () => {
  it("hides another customer's order as not found, and shows it to an admin", async () => {
    const product = await aProduct();
    const [owner, stranger] = [await aCustomer(), await aCustomer()];
    const { order } = await createOrder(owner, { items: [{ productId: product.id, quantity: 1 }] });
    await expect(getOrder(stranger, order.id)).rejects.toBeInstanceOf(NotFoundError);
    expect(await getOrder(owner, order.id)).toEqual(order);
    expect(await getOrder(admin, order.id)).toEqual(order);
  });

  it('lists only my orders, newest first, with paging', async () => {
    const product = await aProduct({ stock: 10 });
    const [me, other] = [await aCustomer(), await aCustomer()];
    const mine = [];
    for (let n = 0; n < 3; n++) mine.push((await createOrder(me, { items: [{ productId: product.id, quantity: 1 }] })).order);
    await createOrder(other, { items: [{ productId: product.id, quantity: 1 }] });

    const page = await listMyOrders(me, { limit: 2, offset: 0 });
    expect(page.total).toBe(3);
    expect(page.items.map((o) => o.id)).toEqual([mine[2]!.id, mine[1]!.id]);
    expect((await listMyOrders(me, { limit: 2, offset: 2 })).items.map((o) => o.id)).toEqual([mine[0]!.id]);
  });
});

describe('order status transitions', () => {
  it('moves pending → paid → shipped → delivered and refuses anything else', async () => {
    const product = await aProduct();
    const buyer = await aCustomer();
    const { order } = await createOrder(buyer, { items: [{ productId: product.id, quantity: 1 }] });
    await expect(changeOrderStatus(order.id, 'shipped')).rejects.toBeInstanceOf(InvalidTransitionError);
    expect((await changeOrderStatus(order.id, 'paid')).status).toBe('paid');
    expect((await changeOrderStatus(order.id, 'shipped')).status).toBe('shipped');
    await expect(changeOrderStatus(order.id, 'cancelled')).rejects.toBeInstanceOf(InvalidTransitionError);
    expect((await changeOrderStatus(order.id, 'delivered')).status).toBe('delivered');
    await expect(changeOrderStatus(order.id, 'paid')).rejects.toBeInstanceOf(InvalidTransitionError);
  });

  it('restores stock when a pending or paid order is cancelled, exactly once', async () => {
    const product = await aProduct({ stock: 6 });
    const buyer = await aCustomer();
    const { order } = await createOrder(buyer, { items: [{ productId: product.id, quantity: 4 }] });
    expect(await stockOf(product.id)).toBe(2);
    await changeOrderStatus(order.id, 'paid');

    const results = await Promise.allSettled(Array.from({ length: 5 }, () => changeOrderStatus(order.id, 'cancelled')));

    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(await stockOf(product.id)).toBe(6);
  });

  it('answers not found for an unknown order', async () => {
    await expect(changeOrderStatus(987654321, 'paid')).rejects.toBeInstanceOf(NotFoundError);
  });
});
