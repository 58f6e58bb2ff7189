import { api } from '../../lib/http/api.ts';
import { ok } from '../../lib/http/responses.ts';
import { info } from '../../lib/ops/info.ts';

export const handler = api(async () => ok(info()), { route: 'GET /info' });
