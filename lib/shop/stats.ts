// The shop's state in numbers, straight from Postgres: the truth that business gauges report, rather than
// a sum of what function containers happened to see.
import { db } from '../db/query.ts';
import { orderStatuses } from './schemas.ts';

export interface ShopStats {
  ordersByStatus: Record<string, number>;
  productsByCategory: Record<string, number>;
  /** Value of every order not cancelled, in minor units, by currency. */
  revenueByCurrency: Record<string, number>;
}

export async function shopStats(): Promise<ShopStats> {
  const [orders, products, revenue] = await Promise.all([
    db.query<{ status: string; n: number }>({ operation: 'select', table: 'orders' }, 'SELECT status, count(*) AS n FROM orders GROUP BY status'),
    db.query<{ category: string; n: number }>(
      { operation: 'select', table: 'products' },
      'SELECT category, count(*) AS n FROM products WHERE deleted_at IS NULL GROUP BY category',
    ),
    db.query<{ currency: string; total: number }>(
      { operation: 'select', table: 'orders' },
      "SELECT currency, sum(total_cents)::bigint AS total FROM orders WHERE status <> 'cancelled' GROUP BY currency",
    ),
  ]);
  return {
    // Every status is present, at 0 when there are none, so a dashboard never shows a hole.
    ordersByStatus: Object.fromEntries(orderStatuses.map((status) => [status, orders.find((r) => r.status === status)?.n ?? 0])),
    productsByCategory: Object.fromEntries(products.map((r) => [r.category, r.n])),
    revenueByCurrency: Object.fromEntries(revenue.map((r) => [r.currency, r.total])),
  };
}
