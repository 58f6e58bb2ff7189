// Orders. Prices come from the database, never the request; stock is checked and decremented under row
// locks in the order's transaction, together with its idempotency key, so a replay needs only Postgres.
import { createHash } from 'node:crypto';
import { db, transaction, type Queryable } from '../db/query.ts';
import type { Principal } from '../auth/tokens.ts';
import { UnauthorizedError } from '../auth/errors.ts';
import { business } from '../metrics/business.ts';
import { invalidateProducts, type Page } from './products.ts';
import { enqueueEvent, publishNow } from './outbox.ts';
import {
  IdempotencyKeyReusedError,
  InvalidTransitionError,
  MixedCurrencyError,
  NotFoundError,
  OutOfStockError,
  UnknownProductError,
} from './errors.ts';
import type { ListOrdersQuery, NewOrder, OrderStatus } from './schemas.ts';

export interface OrderItem {
  productId: number;
  quantity: number;
  unitPriceCents: number;
}
export interface Order {
  id: number;
  status: OrderStatus;
  items: OrderItem[];
  totalCents: number;
  currency: string;
  createdAt: string;
}
/** What the client gets: on a replay, the first answer again. */
export interface OrderOutcome {
  statusCode: number;
  order: Order;
  replayed: boolean;
}

const TRANSITIONS: Record<OrderStatus, readonly OrderStatus[]> = {
  pending: ['paid', 'cancelled'],
  paid: ['shipped', 'cancelled'],
  shipped: ['delivered'],
  delivered: [],
  cancelled: [],
};

type OrderRow = { id: number; user_id: number; status: OrderStatus; total_cents: number; currency: string; created_at: Date };
type ItemRow = { order_id: number; product_id: number; quantity: number; unit_price_cents: number };

const toOrder = (row: OrderRow, items: ItemRow[]): Order => ({
  id: row.id,
  status: row.status,
  items: items
    .filter((i) => i.order_id === row.id)
    .map((i) => ({ productId: i.product_id, quantity: i.quantity, unitPriceCents: i.unit_price_cents })),
  totalCents: row.total_cents,
  currency: row.currency,
  createdAt: row.created_at.toISOString(),
});

/** Same items in any order are the same request. */
const requestHash = (input: NewOrder) =>
  createHash('sha256')
    .update(JSON.stringify([...input.items].sort((a, b) => a.productId - b.productId).map((i) => [i.productId, i.quantity])))
    .digest('hex');

type Claim = { claimed: true } | { claimed: false; statusCode: number; order: Order };

/**
 * Claims the key inside the order's transaction. A concurrent request with the same key blocks on the
 * unique index until this transaction ends: then it either sees the committed answer, or (after a
 * rollback) claims the key itself.
 */
async function claimKey(tx: Queryable, userId: number, key: string, hash: string): Promise<Claim> {
  const inserted = await tx.query(
    { operation: 'insert', table: 'idempotency_keys' },
    `INSERT INTO idempotency_keys (user_id, key, request_hash, status_code, response_body)
     VALUES ($1, $2, $3, 0, '') ON CONFLICT DO NOTHING RETURNING key`,
    [userId, key, hash],
  );
  if (inserted.length > 0) return { claimed: true };
  const [stored] = await tx.query<{ request_hash: string; status_code: number; response_body: string }>(
    { operation: 'select', table: 'idempotency_keys' },
    'SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE user_id = $1 AND key = $2',
    [userId, key],
  );
  if (!stored || stored.request_hash !== hash) {
    throw new IdempotencyKeyReusedError('this Idempotency-Key was already used with a different request');
  }
  return { claimed: false, statusCode: stored.status_code, order: JSON.parse(stored.response_body) as Order };
}

/** A token outlives its account (tokens are not looked up); the order must not. */
async function requireAccount(tx: Queryable, userId: number): Promise<void> {
  const [user] = await tx.query({ operation: 'select', table: 'users' }, 'SELECT 1 FROM users WHERE id = $1', [userId]);
  if (!user) throw new UnauthorizedError('the account of this token no longer exists');
}

async function placeOrder(tx: Queryable, userId: number, input: NewOrder): Promise<Order> {
  const ids = input.items.map((i) => i.productId);
  // Locked in id order, so two orders over the same products cannot deadlock.
  const products = await tx.query<{ id: number; price_cents: number; currency: string; stock: number }>(
    { operation: 'select', table: 'products' },
    'SELECT id, price_cents, currency, stock FROM products WHERE id = ANY($1::bigint[]) AND deleted_at IS NULL ORDER BY id FOR UPDATE',
    [ids],
  );
  const byId = new Map(products.map((p) => [p.id, p]));
  const unknown = ids.filter((id) => !byId.has(id));
  if (unknown.length > 0) throw new UnknownProductError('some products do not exist', { productIds: unknown });
  const currencies = new Set(products.map((p) => p.currency));
  if (currencies.size > 1) throw new MixedCurrencyError('all products of an order must share one currency');
  const short = input.items.filter((i) => byId.get(i.productId)!.stock < i.quantity).map((i) => i.productId);
  if (short.length > 0) throw new OutOfStockError('not enough stock for some products', { productIds: short });

  const quantities = input.items.map((i) => i.quantity);
  const prices = input.items.map((i) => byId.get(i.productId)!.price_cents);
  const total = input.items.reduce((sum, item, n) => sum + item.quantity * prices[n]!, 0);

  await tx.query(
    { operation: 'update', table: 'products' },
    `UPDATE products SET stock = stock - d.quantity, updated_at = now()
     FROM unnest($1::bigint[], $2::int[]) AS d(id, quantity) WHERE products.id = d.id`,
    [ids, quantities],
  );
  const [order] = await tx.query<OrderRow>(
    { operation: 'insert', table: 'orders' },
    `INSERT INTO orders (user_id, status, total_cents, currency) VALUES ($1, 'pending', $2, $3)
     RETURNING id, user_id, status, total_cents, currency, created_at`,
    [userId, total, [...currencies][0]],
  );
  const items = await tx.query<ItemRow>(
    { operation: 'insert', table: 'order_items' },
    `INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)
     SELECT $1, * FROM unnest($2::bigint[], $3::int[], $4::int[])
     RETURNING order_id, product_id, quantity, unit_price_cents`,
    [order!.id, ids, quantities, prices],
  );
  return toOrder(order!, items);
}

export async function createOrder(principal: Principal, input: NewOrder, idempotencyKey?: string): Promise<OrderOutcome> {
  const { outcome, eventId } = await transaction('orders', async (tx): Promise<{ outcome: OrderOutcome; eventId?: number }> => {
    await requireAccount(tx, principal.userId);
    if (idempotencyKey) {
      const claim = await claimKey(tx, principal.userId, idempotencyKey, requestHash(input));
      if (!claim.claimed) return { outcome: { statusCode: claim.statusCode, order: claim.order, replayed: true } };
    }
    const order = await placeOrder(tx, principal.userId, input);
    // In the order's transaction: an order never exists without its event, nor an event without its order.
    const eventId = await enqueueEvent(tx, { source: 'serverless-shop.orders', detailType: 'OrderCreated', detail: { ...order, userId: principal.userId } });
    if (idempotencyKey) {
      await tx.query(
        { operation: 'update', table: 'idempotency_keys' },
        'UPDATE idempotency_keys SET status_code = 201, response_body = $3 WHERE user_id = $1 AND key = $2',
        [principal.userId, idempotencyKey, JSON.stringify(order)],
      );
    }
    return { outcome: { statusCode: 201, order, replayed: false }, eventId };
  });
  if (eventId !== undefined) await afterOrderCreated(outcome.order, eventId);
  return outcome;
}

async function afterOrderCreated(order: Order, eventId: number): Promise<void> {
  business.orderCreated(order);
  await invalidateProducts(order.items.map((i) => i.productId));
  await publishNow(eventId); // never throws: the relay sends what this does not
}

async function loadOrders(where: string, values: unknown[], suffix = ''): Promise<Order[]> {
  const rows = await db.query<OrderRow>(
    { operation: 'select', table: 'orders' },
    `SELECT id, user_id, status, total_cents, currency, created_at FROM orders WHERE ${where} ORDER BY id DESC ${suffix}`,
    values,
  );
  if (rows.length === 0) return [];
  const items = await db.query<ItemRow>(
    { operation: 'select', table: 'order_items' },
    'SELECT order_id, product_id, quantity, unit_price_cents FROM order_items WHERE order_id = ANY($1::bigint[]) ORDER BY product_id',
    [rows.map((r) => r.id)],
  );
  return rows.map((row) => toOrder(row, items));
}

export async function listMyOrders(principal: Principal, query: ListOrdersQuery): Promise<Page<Order>> {
  const [items, [count]] = await Promise.all([
    loadOrders('user_id = $1', [principal.userId, query.limit, query.offset], 'LIMIT $2 OFFSET $3'),
    db.query<{ total: number }>({ operation: 'select', table: 'orders' }, 'SELECT count(*) AS total FROM orders WHERE user_id = $1', [principal.userId]),
  ]);
  return { items, total: count?.total ?? 0, limit: query.limit, offset: query.offset };
}

/** Another customer's order answers 404, not 403: its existence is not theirs to know. */
export async function getOrder(principal: Principal, id: number): Promise<Order> {
  const [order] =
    principal.role === 'admin'
      ? await loadOrders('id = $1', [id])
      : await loadOrders('id = $1 AND user_id = $2', [id, principal.userId]);
  if (!order) throw new NotFoundError(`order ${id} not found`, { orderId: id });
  return order;
}

export async function changeOrderStatus(id: number, to: OrderStatus): Promise<Order> {
  const { from, restocked } = await transaction('orders', async (tx) => {
    const [row] = await tx.query<{ status: OrderStatus }>(
      { operation: 'select', table: 'orders' },
      'SELECT status FROM orders WHERE id = $1 FOR UPDATE',
      [id],
    );
    if (!row) throw new NotFoundError(`order ${id} not found`, { orderId: id });
    if (!TRANSITIONS[row.status].includes(to)) {
      throw new InvalidTransitionError(`an order cannot go from ${row.status} to ${to}`, {
        from: row.status,
        to,
        allowed: TRANSITIONS[row.status],
      });
    }
    await tx.query({ operation: 'update', table: 'orders' }, 'UPDATE orders SET status = $2, updated_at = now() WHERE id = $1', [id, to]);
    const restored =
      to === 'cancelled'
        ? await tx.query<{ id: number }>(
            { operation: 'update', table: 'products' },
            `UPDATE products SET stock = products.stock + oi.quantity, updated_at = now()
             FROM order_items oi WHERE oi.order_id = $1 AND products.id = oi.product_id RETURNING products.id`,
            [id],
          )
        : [];
    return { from: row.status, restocked: restored.map((r) => r.id) };
  });
  business.orderStatusChanged(from, to);
  if (restocked.length > 0) await invalidateProducts(restocked);
  const [order] = await loadOrders('id = $1', [id]);
  return order!;
}
