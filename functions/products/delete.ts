import { api } from '../../lib/http/api.ts';
import { noContent } from '../../lib/http/responses.ts';
import { deleteProduct } from '../../lib/shop/products.ts';
import { idParams } from '../../lib/shop/schemas.ts';

export const handler = api(
  async ({ params }) => {
    await deleteProduct(params.id);
    return noContent();
  },
  { route: 'DELETE /api/products/{id}', params: idParams, auth: 'admin' },
);
