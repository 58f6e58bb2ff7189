// The HTTP API's $default route: a request no other route matches still goes through the one Middy stack, so
// it gets the error contract, the security headers and CORS instead of the gateway's bare 404; a browser's
// preflight (OPTIONS, which no route declares) gets its 204, with the CORS headers @middy/http-cors adds.
import { z } from 'zod';
import { api } from '../../lib/http/api.ts';
import { noContent } from '../../lib/http/responses.ts';
import { NotFoundError } from '../../lib/shop/errors.ts';

const anything = z.record(z.string(), z.string().optional());

export const handler = api(
  async ({ method }) => {
    if (method === 'OPTIONS') return noContent();
    throw new NotFoundError('no such route');
  },
  { route: 'ANY $default', query: anything, params: anything },
);
