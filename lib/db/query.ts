// The only door to Postgres for lib/shop. Every statement names its operation and table, the labels of
// db_query_duration_seconds, and every outage leaves here as a ServiceUnavailableError.
import type pg from 'pg';
import { getPool } from './pool.ts';
import { toDatabaseError } from './errors.ts';
import { observeQuery } from '../metrics/database.ts';

export type Operation = 'select' | 'insert' | 'update' | 'delete' | 'tx';
export interface QueryLabels {
  operation: Operation;
  table: string;
}
export type Row = Record<string, unknown>;

export interface Queryable {
  query<R extends Row = Row>(labels: QueryLabels, text: string, values?: unknown[]): Promise<R[]>;
}

async function timed<T>(labels: QueryLabels, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await run();
  } catch (err) {
    throw toDatabaseError(err);
  } finally {
    observeQuery(labels, (performance.now() - started) / 1000);
  }
}

export function queryableOf(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    query: <R extends Row>(labels: QueryLabels, text: string, values?: unknown[]) =>
      timed(labels, async () => (await client.query<R>(text, values)).rows),
  };
}

export const db: Queryable = {
  query: async (labels, text, values) => queryableOf(await getPool()).query(labels, text, values),
};

/**
 * Runs `work` in one transaction. A failed COMMIT whose connection dropped leaves the outcome unknown; it
 * surfaces as a 503, and the caller's idempotency key is what makes the retry safe.
 */
export async function transaction<T>(table: string, work: (tx: Queryable) => Promise<T>): Promise<T> {
  const pool = await getPool();
  const client = await timed({ operation: 'tx', table }, () => pool.connect());
  let broken: Error | undefined;
  // The pool stops listening for a client's 'error' while it is checked out. If the server goes away during
  // the transaction (a restart, a failover), the client emits one, and unheard it would crash the container;
  // the request learns of it from its next statement anyway. The client is then destroyed, not pooled.
  const onError = (err: Error) => {
    broken = err;
  };
  client.on('error', onError);
  try {
    const tx = queryableOf(client);
    await tx.query({ operation: 'tx', table }, 'BEGIN');
    const result = await work(tx);
    await tx.query({ operation: 'tx', table }, 'COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackErr: Error) => {
      broken = rollbackErr; // the connection is unusable: destroy it rather than return it to the pool
    });
    throw err;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}
