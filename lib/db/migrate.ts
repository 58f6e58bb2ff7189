import path from 'node:path';
import { runner } from 'node-pg-migrate';
import { config } from '../config.ts';
import { log } from '../log.ts';

/** Applies pending migrations; safe to run on every start (node-pg-migrate takes an advisory lock). */
export async function migrate(databaseUrl: string, dir = config.database.migrationsDir): Promise<void> {
  const applied = await runner({
    databaseUrl,
    dir: path.resolve(dir),
    direction: 'up',
    migrationsTable: 'pgmigrations',
    log: () => {}, // node-pg-migrate prints every statement; we report the outcome once below
  });
  if (applied.length > 0) log.info('migrations applied', { migrations: applied.map((m) => m.name) });
}
