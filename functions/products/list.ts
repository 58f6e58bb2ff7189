import { api } from '../../lib/http/api.ts';
import { ok } from '../../lib/http/responses.ts';
import { listProducts } from '../../lib/shop/products.ts';
import { listProductsQuery } from '../../lib/shop/schemas.ts';

export const handler = api(
  async ({ query }) => {
    const { value, cache } = await listProducts(query);
    return ok(value, { 'X-Cache': cache });
  },
  { route: 'GET /api/products', query: listProductsQuery },
);
