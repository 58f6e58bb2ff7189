// The embedded default: PGlite (Postgres compiled to WASM) behind pglite-socket, so the same `pg` code and
// SQL run with nothing installed. Data lives in a local directory (or memory:// for tests).
import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { prepareDatabase } from './prepare.ts';
import { embeddedDatabaseUrl } from './pool.ts';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

// The socket multiplexes clients onto PGlite's single connection; serverless-offline runs a worker (with its
// own pool) per warm function container, so it needs room for many.
const MAX_CONNECTIONS = 200;

export interface EmbeddedOptions {
  dataDir: string;
  migrationsDir?: string;
  port: number;
}

/** Starts the server, then migrates and seeds it, so that its first client finds a ready shop. */
export async function startEmbeddedDatabase(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  if (!options.dataDir.startsWith('memory://')) await mkdir(options.dataDir, { recursive: true });
  const pglite = await PGlite.create(options.dataDir);
  const server = new PGLiteSocketServer({ db: pglite, port: options.port, host: '127.0.0.1', maxConnections: MAX_CONNECTIONS });
  await server.start();
  const url = embeddedDatabaseUrl(options.port);
  await prepareDatabase(url, options.migrationsDir);
  return {
    url,
    async stop() {
      await server.stop();
      await pglite.close();
    },
  };
}
