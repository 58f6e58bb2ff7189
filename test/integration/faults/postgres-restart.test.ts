// Postgres is restarted (fast shutdown, down for a moment, started again) under load of the real handlers.
// Requests that need it during the outage answer a clean 503 in the error contract, never a 500; the same
// containers serve again once it is back (their pools recover without a restart); and no order is half
// written: every order has its items, stock fell by exactly the quantities ordered, and every order whose
// answer was lost in the outage is found by a retry with its Idempotency-Key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { countByStatus, faultUnderLoad, FunctionContainer, loadPlans, percentile } from '../../support/function-container.ts';
import { PostgresProcess, postgresBin } from '../../../scripts/servers/postgres.ts';
import { requireBinaries } from '../../../scripts/servers/process.ts';
import { prepareDatabase } from '../../../lib/db/prepare.ts';

const CONTAINERS = 3;
const STOCK = 1_000_000;
const bin = postgresBin();
const servers = requireBinaries(bin !== undefined, 'the PostgreSQL server binaries (initdb, pg_ctl)');

describe.runIf(servers)('Postgres restarted under load', () => {
  let postgres: PostgresProcess;
  let sql: (text: string, values?: unknown[]) => Promise<Record<string, unknown>[]>;
  beforeAll(async () => {
    postgres = await PostgresProcess.create(bin!);
    await prepareDatabase(postgres.url);
    sql = async (text, values) => {
      const client = new pg.Client({ connectionString: postgres.url });
      await client.connect();
      try {
        return (await client.query(text, values)).rows as Record<string, unknown>[];
      } finally {
        await client.end();
      }
    };
  });
  afterAll(async () => postgres?.destroy());

  it('answers 503 in the error contract during the outage, recovers in the same containers, and writes no order by halves', async () => {
    // Prepare
    const [product] = await sql(
      `INSERT INTO products (sku, name, category, price_cents, stock) VALUES ('FAULT-PG-1', 'Fault product', 'faults', 500, $1) RETURNING id`,
      [STOCK],
    );
    const productId = Number(product!.id);
    const containers = Array.from({ length: CONTAINERS }, () =>
      // No Redis and no gateway: this test is about the database alone (the cache is then in-process).
      new FunctionContainer({ DATABASE_URL: postgres.url, REDIS_URL: '', PUSHGATEWAY_URL: '', AWS_LAMBDA_FUNCTION_NAME: 'faults-postgres', LOG_LEVEL: 'warn' }),
    );
    try {
      const load = await loadPlans(containers, productId);

      // Act: a fast shutdown under load, 1.5 s down, started again with the same data
      const { records, brokenAt, repairedAt } = await faultUnderLoad(load, {
        warmMs: 1500,
        inject: () => postgres.stop(),
        faultMs: 1500,
        repair: () => postgres.start(),
        recoveryMs: 2500,
      });
      // Orders whose answer was a 503: committed or not, a retry with the same key must now give their 201.
      // Each customer retries in its own container, one at a time, as its client would.
      const unanswered = records.filter((r) => r.route === 'POST /api/orders' && r.status === 503);
      const retries = (
        await Promise.all(
          load.map(async ({ container, plan }) => {
            const replies = [];
            for (const r of unanswered.filter((u) => u.key!.slice(0, u.key!.lastIndexOf('-')) === plan.keyPrefix)) {
              replies.push(
                await container.call('POST /api/orders', {
                  body: { items: [{ productId, quantity: r.quantity }] },
                  headers: { authorization: `Bearer ${plan.token}`, 'idempotency-key': r.key! },
                }),
              );
            }
            return replies;
          }),
        )
      ).flat();
      const served = await Promise.all(containers.map((c) => c.served()));

      // Assess
      const outages = records.filter((r) => r.status === 503);
      const firstBackAt = Math.min(...records.filter((r) => r.at >= repairedAt && r.status < 300).map((r) => r.at));
      const lastOutageAt = Math.max(...outages.map((r) => r.at));
      const settled = records.filter((r) => r.at >= repairedAt + 1000);
      const [orders] = await sql('SELECT count(*)::int AS n FROM orders');
      const [withoutItems] = await sql('SELECT count(*)::int AS n FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id)');
      const [ordered] = await sql('SELECT coalesce(sum(quantity), 0)::int AS n FROM order_items WHERE product_id = $1', [productId]);
      const [stock] = await sql('SELECT stock FROM products WHERE id = $1', [productId]);
      const [halfClaimed] = await sql('SELECT count(*)::int AS n FROM idempotency_keys WHERE status_code <> 201');
      const replayed = retries.filter((r) => r.headers['idempotent-replayed'] === 'true').length;
      const ordersCreated = served.reduce((sum, s) => sum + s.ordersCreated, 0);
      console.log(
        `postgres restart: ${records.length} requests under load ${JSON.stringify(countByStatus(records))}, ` +
          `503 latency p50 ${percentile(outages, 0.5)} / max ${percentile(outages, 1)} ms, first 2xx ${firstBackAt - repairedAt} ms after the restart ` +
          `(last 503 ${lastOutageAt - brokenAt} ms after the stop), ${unanswered.length} orders answered 503, of which ${replayed} had committed; ` +
          `${orders!.n} orders in the database, ${ordered!.n} units ordered, stock ${STOCK} -> ${stock!.stock}`,
      );
      expect(outages.length).toBeGreaterThan(0);
      expect(records.every((r) => [200, 201, 503].includes(r.status))).toBe(true); // no 500
      for (const r of outages) {
        const body = JSON.parse(r.body!) as { error: Record<string, unknown> };
        expect(Object.keys(body)).toEqual(['error']);
        expect(body.error).toEqual({ code: 'SERVICE_UNAVAILABLE', message: expect.any(String) });
        expect(r.body).not.toMatch(/select|insert|update|stack|\.ts:|postgres:\/\//i);
      }
      expect(settled.length).toBeGreaterThan(0);
      expect(settled.every((r) => r.status === 200 || r.status === 201)).toBe(true); // the same pools serve again
      expect(retries.length).toBe(unanswered.length);
      expect(retries.filter((r) => r.status !== 201)).toEqual([]);
      expect(withoutItems!.n).toBe(0);
      expect(halfClaimed!.n).toBe(0);
      expect(Number(stock!.stock)).toBe(STOCK - Number(ordered!.n));
      // Every order in the database was answered 201 to someone: at creation, or to its retry as a replay.
      expect(orders!.n).toBe(ordersCreated + replayed);
    } finally {
      await Promise.all(containers.map((c) => c.terminate()));
    }
  });
});
