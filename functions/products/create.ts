import { api } from '../../lib/http/api.ts';
import { created } from '../../lib/http/responses.ts';
import { createProduct } from '../../lib/shop/products.ts';
import { newProduct } from '../../lib/shop/schemas.ts';

export const handler = api(async ({ body }) => created(await createProduct(body)), {
  route: 'POST /api/products',
  body: newProduct,
  auth: 'admin',
});
