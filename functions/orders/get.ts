import { api } from '../../lib/http/api.ts';
import { ok } from '../../lib/http/responses.ts';
import { getOrder } from '../../lib/shop/orders.ts';
import { idParams } from '../../lib/shop/schemas.ts';

export const handler = api(async ({ principal, params }) => ok(await getOrder(principal, params.id)), {
  route: 'GET /api/orders/{id}',
  params: idParams,
  auth: 'user',
});
