// One pg pool per container. Lambda reuses the container between invocations, so the pool (and its warm
// connections) outlives a request; it is created on first use so that modules load without a database.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { config } from '../config.ts';
import { log, describeError } from '../log.ts';
import { toDatabaseError } from './errors.ts';
import { reportPool } from '../metrics/database.ts';
import { isListening } from '../net.ts';

// int8 (ids, counts, sums) as numbers: every value we store stays far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, Number);

let pool: Promise<pg.Pool> | undefined;

export function getPool(): Promise<pg.Pool> {
  pool ??= createPool().catch((err: unknown) => {
    pool = undefined; // the next request tries again instead of inheriting a failed start
    throw toDatabaseError(err);
  });
  return pool;
}

export async function databaseUrl(): Promise<string> {
  return config.database.url ?? ensureEmbeddedDatabase();
}

let embedded: Promise<string> | undefined;

/**
 * Without DATABASE_URL: the embedded database on its fixed loopback port, started beside this process when no
 * one serves it yet (`npm start` does; a lone `serverless invoke local` starts its own).
 */
function ensureEmbeddedDatabase(): Promise<string> {
  embedded ??= (async () => {
    const { embeddedDir, embeddedPort } = config.database;
    const url = embeddedDatabaseUrl(embeddedPort);
    if (await isListening(embeddedPort)) return url;
    await startEmbeddedServerProcess(embeddedDir, embeddedPort);
    return url;
  })().catch((err: unknown) => {
    embedded = undefined;
    throw err;
  });
  return embedded;
}

/**
 * Starts the embedded database (lib/db/embedded.ts) for a lone `serverless invoke local`, which must exit once
 * it has answered: the server stops once this process is gone and its clients have left. The module is loaded
 * from the project at run time, so esbuild never bundles it (local runs only, never deployed); Node 24 runs the
 * TypeScript source as it is.
 */
async function startEmbeddedServerProcess(dataDir: string | undefined, port: number): Promise<void> {
  const root = projectRoot();
  const embedded: typeof import('./embedded.ts') = await import(pathToFileURL(path.join(root, 'lib', 'db', 'embedded.ts')).href);
  await embedded.startEmbeddedDatabase({ dataDir: embedded.embeddedDataDir(dataDir), port, migrationsDir: path.resolve(root, config.database.migrationsDir) });
}

/** `invoke local` runs in the build directory inside the project, so look upwards for the project. */
function projectRoot(): string {
  for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'lib', 'db', 'embedded.ts'))) return dir;
    if (path.dirname(dir) === dir) throw new Error('no DATABASE_URL, and no serverless-shop project above the working directory');
  }
}

export const embeddedDatabaseUrl = (port: number) => `postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable`;

/** Whether something accepts TCP connections on 127.0.0.1:`port` (also used by the fault tests' servers). */
async function createPool(): Promise<pg.Pool> {
  const created = new pg.Pool({
    connectionString: await databaseUrl(),
    max: config.database.poolMax,
    connectionTimeoutMillis: config.database.connectTimeoutMs,
    statement_timeout: config.database.statementTimeoutMs,
    idleTimeoutMillis: 30_000,
    allowExitOnIdle: true,
  });
  // An idle client whose server went away emits 'error'; unhandled, it would crash the container.
  created.on('error', (err) => log.warn('idle database connection lost', describeError(err)));
  reportPool(() => ({ total: created.totalCount, idle: created.idleCount, waiting: created.waitingCount }));
  return created;
}

/** Ends the pool (tests and scripts); the next getPool() builds a new one. */
export async function closePool(): Promise<void> {
  const current = pool;
  pool = undefined;
  if (current) await (await current.catch(() => undefined))?.end();
}
