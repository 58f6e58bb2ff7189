// Servers a fault test owns and breaks: one PostgreSQL cluster or one redis-server on a free loopback port,
// stopped and started again with the same data, and a TCP server that accepts connections and never
// answers (a hung dependency). Never the shared servers from DATABASE_URL / REDIS_URL: other tests use those.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './pushgateway-process.ts';
import { isListening } from '../../lib/db/pool.ts';

/** A binary a test needs: locally its absence skips the test, in CI it fails it (servers are required there). */
export function requireBinaries(available: boolean, what: string): boolean {
  if (!available && process.env.CI) throw new Error(`CI needs ${what} for the fault tests (see scripts/test-servers.sh)`);
  return available;
}

/** The newest /usr/lib/postgresql/<major>/bin with a server, as scripts/test-servers.sh picks it (PG_BIN overrides). */
export function postgresBin(): string | undefined {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root).filter((m) => existsSync(path.join(root, m, 'bin', 'postgres')));
  const newest = majors.sort((a, b) => Number(a) - Number(b)).at(-1);
  return newest && path.join(root, newest, 'bin');
}

export const redisAvailable = (): boolean => spawnSync('redis-server', ['--version']).status === 0;

// PostgreSQL refuses to run as root: as root, its tools run as the `postgres` system user.
const asPostgres = (command: string, args: string[]): [string, string[]] =>
  process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];

const execFileAsync = promisify(execFile);

async function run(command: string, args: string[]): Promise<void> {
  const [cmd, argv] = asPostgres(command, args);
  await execFileAsync(cmd, argv, { cwd: '/' });
}

export class PostgresProcess {
  readonly port: number;
  readonly url: string;
  private readonly bin: string;
  private readonly dir: string;

  private constructor(bin: string, dir: string, port: number) {
    this.bin = bin;
    this.dir = dir;
    this.port = port;
    this.url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  }

  /** A fresh throwaway cluster (trust auth, loopback only, no fsync), started. */
  static async create(bin: string): Promise<PostgresProcess> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'shop-fault-pg-'));
    if (process.getuid?.() === 0) await execFileAsync('chown', ['postgres:postgres', dir]);
    const server = new PostgresProcess(bin, dir, await freePort());
    await run(path.join(bin, 'initdb'), ['-D', server.dataDir, '--username=postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync']);
    await server.start();
    return server;
  }

  private get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  async start(): Promise<void> {
    const options = `-c listen_addresses=127.0.0.1 -c port=${this.port} -c unix_socket_directories='' -c fsync=off -c max_connections=300`;
    await run(path.join(this.bin, 'pg_ctl'), ['start', '-D', this.dataDir, '-l', path.join(this.dir, 'postgres.log'), '-w', '-t', '30', '-o', options]);
  }

  /** Fast shutdown, as an operator restarting the server: open sessions are terminated. */
  async stop(): Promise<void> {
    await run(path.join(this.bin, 'pg_ctl'), ['stop', '-D', this.dataDir, '-m', 'fast', '-w', '-t', '30']);
  }

  async destroy(): Promise<void> {
    try {
      await run(path.join(this.bin, 'pg_ctl'), ['stop', '-D', this.dataDir, '-m', 'immediate', '-w', '-t', '10']);
    } catch {
      // already stopped
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class RedisProcess {
  private child: ChildProcess | undefined;
  private readonly dir: string;
  readonly port: number;
  readonly url: string;

  private readonly appendOnly: boolean;

  private constructor(dir: string, port: number, appendOnly: boolean) {
    this.appendOnly = appendOnly;
    this.dir = dir;
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
  }

  /**
   * `appendOnly`: every write is in the append-only file before Redis answers it (appendfsync always), so even
   * a killed server comes back with everything it acknowledged, as the push slots' state needs
   * (docs/design.md); otherwise a save point makes SIGTERM write a snapshot that the next start loads.
   */
  static async create(options: { appendOnly?: boolean } = {}): Promise<RedisProcess> {
    const server = new RedisProcess(mkdtempSync(path.join(os.tmpdir(), 'shop-fault-redis-')), await freePort(), options.appendOnly ?? false);
    await server.start();
    return server;
  }

  async start(): Promise<void> {
    const persistence = this.appendOnly ? ['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''] : ['--save', '3600 1', '--appendonly', 'no'];
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', ...persistence, '--dir', this.dir], {
      stdio: 'ignore',
    });
    await waitFor(() => isListening(this.port), `redis-server on ${this.port}`);
  }

  /** Killed outright (SIGKILL): no shutdown, no snapshot. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Accepts every connection and never answers: a gateway that hangs. */
export class SilentServer {
  private readonly sockets = new Set<net.Socket>();
  /** Connections accepted so far: pushes that reached it and were left hanging. */
  accepted = 0;
  private readonly server = net.createServer((socket) => {
    this.accepted++;
    this.sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => this.sockets.delete(socket));
  });

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** Polls `check` every 50 ms until it holds, or fails after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  for (const until = Date.now() + timeoutMs; Date.now() < until; ) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${what} did not start`);
}
