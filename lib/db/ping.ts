// The database's side of GET /healthz, so that lib/ops needs nothing of the pool's or of SQL.
import { getPool } from './pool.ts';
import { db } from './query.ts';

/**
 * Resolves once the container's pool exists. Locally, making it may first start the embedded database: that
 * is start-up time, not the database's latency, so a health check awaits this before it times ping(). A
 * failure here is left for ping() to report.
 */
export async function ready(): Promise<void> {
  await getPool().catch(() => undefined);
}

/** One round trip through the container's pool, the way every query goes (and is measured). */
export async function ping(): Promise<void> {
  await db.query({ operation: 'select', table: 'health' }, 'SELECT 1');
}
