// The embedded default: PGlite (Postgres compiled to WASM) behind pglite-socket, so the same `pg` code and
// SQL run with nothing installed. Data lives in a local directory (or memory:// for tests).
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import type net from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { prepareDatabase } from './prepare.ts';
import { embeddedDatabaseUrl } from './pool.ts';

export interface EmbeddedDatabase {
  url: string;
  /** Client connections open right now. */
  connections(): Promise<number>;
  /** Called whenever a client connection closes. */
  onConnectionClosed(listener: () => void): void;
  stop(): Promise<void>;
}

// The socket multiplexes clients onto PGlite's single connection; serverless-offline runs a worker (with its
// own pool) per warm function container, so it needs room for many.
const MAX_CONNECTIONS = 200;
const LOCK_WAIT_MS = 15_000;

export interface EmbeddedOptions {
  dataDir: string;
  migrationsDir?: string;
  port: number;
}

/** Starts the server, then migrates and seeds it, so that its first client finds a ready shop. */
export async function startEmbeddedDatabase(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const persistent = !options.dataDir.startsWith('memory://');
  if (persistent) await mkdir(options.dataDir, { recursive: true });
  const unlock = persistent ? await lockDataDir(options.dataDir) : async () => {};
  const pglite = await PGlite.create(options.dataDir);
  const server = new PGLiteSocketServer({ db: pglite, port: options.port, host: '127.0.0.1', maxConnections: MAX_CONNECTIONS });
  await server.start();
  // pglite-socket keeps its net.Server private; connection counts come from it.
  const listener = (server as unknown as { server: net.Server | null }).server;
  const url = embeddedDatabaseUrl(options.port);
  await prepareDatabase(url, options.migrationsDir);
  return {
    url,
    connections: () => new Promise((resolve) => (listener ? listener.getConnections((_, n) => resolve(n)) : resolve(0))),
    onConnectionClosed(closed) {
      listener?.on('connection', (socket) => socket.once('close', closed));
    },
    async stop() {
      await server.stop();
      await pglite.close();
      await unlock();
    },
  };
}

/**
 * One PGlite per data directory: a second one (a new `invoke local` while the last one's database is still
 * closing) waits for the first to let go. A lock left by a process that died is taken over.
 */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const lockFile = `${dataDir.replace(/\/+$/, '')}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await open(lockFile, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(lockFile, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(await readFile(lockFile, 'utf8').catch(() => ''));
      if (!holder || !isAlive(holder)) {
        await rm(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${dataDir} is in use by process ${holder}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
