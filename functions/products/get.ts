import { api } from '../../lib/http/api.ts';
import { ok } from '../../lib/http/responses.ts';
import { viewProduct } from '../../lib/shop/products.ts';
import { idParams } from '../../lib/shop/schemas.ts';

export const handler = api(
  async ({ params }) => {
    const { value, cache } = await viewProduct(params.id);
    return ok(value, { 'X-Cache': cache });
  },
  { route: 'GET /api/products/{id}', params: idParams },
);
