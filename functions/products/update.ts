import { api } from '../../lib/http/api.ts';
import { ok } from '../../lib/http/responses.ts';
import { updateProduct } from '../../lib/shop/products.ts';
import { idParams, productChanges } from '../../lib/shop/schemas.ts';

export const handler = api(async ({ params, body }) => ok(await updateProduct(params.id, body)), {
  route: 'PUT /api/products/{id}',
  params: idParams,
  body: productChanges,
  auth: 'admin',
});
