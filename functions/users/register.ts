import { api } from '../../lib/http/api.ts';
import { created } from '../../lib/http/responses.ts';
import { register } from '../../lib/shop/users.ts';
import { registration } from '../../lib/shop/schemas.ts';

export const handler = api(async ({ body }) => created(await register(body)), {
  route: 'POST /api/users/register',
  body: registration,
});
