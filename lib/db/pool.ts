// One pg pool per container. Lambda reuses the container between invocations, so the pool (and its warm
// connections) outlives a request; it is created on first use so that modules load without a database.
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { config } from '../config.ts';
import { log, describeError } from '../log.ts';
import { toDatabaseError } from './errors.ts';

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
 * Without DATABASE_URL: the embedded database on its fixed loopback port, started in this process when no
 * one serves it yet (`npm start` does; a lone `serverless invoke local` starts its own).
 */
function ensureEmbeddedDatabase(): Promise<string> {
  embedded ??= (async () => {
    const { embeddedDir, embeddedPort } = config.database;
    const url = embeddedDatabaseUrl(embeddedPort);
    if (await isListening(embeddedPort)) return url;
    // A run-time path, so esbuild does not bundle it: PGlite ships WASM files and never runs deployed.
    // Local runs start from the project root, where Node 24 loads the TypeScript source as it is.
    const modulePath = pathToFileURL(path.resolve('lib/db/embedded.ts')).href;
    const { startEmbeddedDatabase } = (await import(modulePath)) as typeof import('./embedded.ts');
    await startEmbeddedDatabase({ dataDir: embeddedDir, port: embeddedPort });
    return url;
  })().catch((err: unknown) => {
    embedded = undefined;
    throw err;
  });
  return embedded;
}

export const embeddedDatabaseUrl = (port: number) => `postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable`;

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

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
  return created;
}

/** Ends the pool (tests and scripts); the next getPool() builds a new one. */
export async function closePool(): Promise<void> {
  const current = pool;
  pool = undefined;
  if (current) await (await current.catch(() => undefined))?.end();
}
