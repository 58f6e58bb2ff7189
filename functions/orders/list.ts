import { api } from '../../lib/http/api.ts';
import { ok } from '../../lib/http/responses.ts';
import { listMyOrders } from '../../lib/shop/orders.ts';
import { listOrdersQuery } from '../../lib/shop/schemas.ts';

export const handler = api(async ({ principal, query }) => ok(await listMyOrders(principal, query)), {
  route: 'GET /api/orders',
  query: listOrdersQuery,
  auth: 'user',
});
