import { api } from '../../lib/http/api.ts';
import { ok } from '../../lib/http/responses.ts';
import { login } from '../../lib/shop/users.ts';
import { credentials } from '../../lib/shop/schemas.ts';

export const handler = api(async ({ body }) => ok(await login(body)), {
  route: 'POST /api/users/login',
  body: credentials,
});
