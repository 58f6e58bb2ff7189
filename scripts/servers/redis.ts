// redis-server on loopback: how to run it (redisLaunch, for the launchers) and a fault test's own server
// (RedisProcess), which the test kills and starts again on the same port and data.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, ServerProcess, type Launch, type Placement } from './process.ts';

export const redisAvailable = (): boolean => spawnSync(process.env.REDIS_SERVER_BIN ?? 'redis-server', ['--version']).status === 0;

/**
 * - `none`: memory only (throwaway servers: every start is empty).
 * - `snapshot`: a save point, so that a SIGTERM writes a snapshot that the next start loads.
 * - `appendonly`: the append-only file, fsynced every second (a developer's stack, kept between runs).
 * - `appendonly-always`: every write is in the append-only file before Redis answers it, so even a killed server
 *   comes back with everything it acknowledged, as the push slots' state needs (docs/design.md).
 */
export type RedisPersistence = 'none' | 'snapshot' | 'appendonly' | 'appendonly-always';

const PERSISTENCE: Record<RedisPersistence, string[]> = {
  none: ['--save', '', '--appendonly', 'no'],
  snapshot: ['--save', '3600 1', '--appendonly', 'no'],
  appendonly: ['--appendonly', 'yes', '--save', ''],
  'appendonly-always': ['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
};

/** PING answered PONG (not merely a port that accepts: a server loading its data answers -LOADING). */
export function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write('PING\r\n'));
    socket.setTimeout(2000, () => socket.destroy());
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('close', () => resolve(false));
    socket.once('error', () => resolve(false));
  });
}

export function redisLaunch(port: number, dir: string, persistence: RedisPersistence): Launch {
  return {
    name: `redis-server on 127.0.0.1:${port}`,
    command: process.env.REDIS_SERVER_BIN ?? 'redis-server',
    args: ['--port', String(port), '--bind', '127.0.0.1', ...PERSISTENCE[persistence], '--dir', dir],
    ready: () => redisPing(port),
  };
}

export class RedisProcess {
  private server: ServerProcess | undefined;
  readonly url: string;
  readonly port: number;
  private readonly dir: string;
  private readonly persistence: RedisPersistence;

  private constructor(dir: string, port: number, persistence: RedisPersistence) {
    this.dir = dir;
    this.port = port;
    this.persistence = persistence;
    this.url = `redis://127.0.0.1:${port}`;
  }

  /** A server of the test's own in a temp dir. `appendOnly`: `appendonly-always` (see RedisPersistence), else a
   * `snapshot`. */
  static async create(options: { appendOnly?: boolean } = {}): Promise<RedisProcess> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'shop-fault-redis-'));
    const server = new RedisProcess(dir, await freePort(), options.appendOnly ? 'appendonly-always' : 'snapshot');
    await server.start();
    return server;
  }

  async start(placement: Placement = {}): Promise<void> {
    this.server = await ServerProcess.start(redisLaunch(this.port, this.dir, this.persistence), placement);
  }

  /** Killed outright (SIGKILL): no shutdown, no snapshot. */
  async kill(): Promise<void> {
    await this.server?.kill();
  }

  async stop(): Promise<void> {
    await this.server?.stop();
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
