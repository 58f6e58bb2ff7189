import { api } from '../../lib/http/api.ts';
import { ok } from '../../lib/http/responses.ts';
import { changeOrderStatus } from '../../lib/shop/orders.ts';
import { idParams, statusChange } from '../../lib/shop/schemas.ts';

export const handler = api(async ({ params, body }) => ok(await changeOrderStatus(params.id, body.status)), {
  route: 'PATCH /api/orders/{id}/status',
  params: idParams,
  body: statusChange,
  auth: 'admin',
});
