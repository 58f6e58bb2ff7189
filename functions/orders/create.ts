import { z } from 'zod';
import { api } from '../../lib/http/api.ts';
import { json } from '../../lib/http/responses.ts';
import { createOrder } from '../../lib/shop/orders.ts';
import { idempotencyKey, newOrder } from '../../lib/shop/schemas.ts';

export const handler = api(
  async ({ principal, body, headers }) => {
    const outcome = await createOrder(principal, body, headers['idempotency-key']);
    return json(outcome.statusCode, outcome.order, outcome.replayed ? { 'Idempotent-Replayed': 'true' } : {});
  },
  {
    route: 'POST /api/orders',
    body: newOrder,
    headers: z.object({ 'idempotency-key': idempotencyKey.optional() }),
    auth: 'user',
  },
);
