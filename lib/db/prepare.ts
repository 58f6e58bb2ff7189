import pg from 'pg';
import { migrate } from './migrate.ts';
import { seed } from './seed.ts';
import { queryableOf } from './query.ts';

/**
 * Start-up for any database we own: migrations (idempotent), then seeding (only fills what is empty).
 * It uses its own short-lived connection: it runs before the container's pool may exist.
 */
export async function prepareDatabase(url: string, migrationsDir?: string): Promise<void> {
  await migrate(url, migrationsDir);
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    await seed(queryableOf(pool));
  } finally {
    await pool.end();
  }
}
