import { api } from '../../lib/http/api.ts';
import { ok } from '../../lib/http/responses.ts';
import { me } from '../../lib/shop/users.ts';

export const handler = api(async ({ principal }) => ok({ user: await me(principal) }), {
  route: 'GET /api/users/me',
  auth: 'user',
});
