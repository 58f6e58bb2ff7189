// A PostgreSQL cluster from the Debian packages on loopback: a fault test's own (a fresh throwaway cluster in a
// temp dir, stopped and started again with the same data), the test servers' (scripts/servers/cli.ts) and the
// local stack's (kept between runs). pg_ctl runs the server in the background itself, so a cluster outlives the
// process that started it until pg_ctl stops it.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './process.ts';

/** The newest /usr/lib/postgresql/<major>/bin with a server (PG_BIN overrides). */
export function postgresBin(): string | undefined {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root).filter((m) => existsSync(path.join(root, m, 'bin', 'postgres')));
  const newest = majors.sort((a, b) => Number(a) - Number(b)).at(-1);
  return newest && path.join(root, newest, 'bin');
}

export const isRoot = () => process.getuid?.() === 0;

// PostgreSQL refuses to run as root: as root, its tools run as the `postgres` system user, from "/" (the
// caller's working directory may be closed to it).
const execFileAsync = promisify(execFile);
export async function asPostgres(command: string, args: string[]): Promise<string> {
  const [cmd, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  const { stdout } = await execFileAsync(cmd, argv, { cwd: '/' });
  return stdout;
}

/** Makes `dir` (created if missing) the postgres user's when we are root. */
export function giveToPostgres(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (isRoot()) execFileSync('chown', ['postgres:postgres', dir]);
}

export interface PostgresOptions {
  /** The cluster's data directory; without it, a fresh one in a temp dir, removed by destroy(). */
  dataDir?: string;
  logFile?: string;
  port?: number;
  /** Speed over durability (fsync off): for clusters thrown away after the run. Default true. */
  throwaway?: boolean;
}

export class PostgresProcess {
  readonly port: number;
  /** The `postgres` database, which every cluster has. */
  readonly url: string;
  readonly dataDir: string;
  private readonly logFile: string;
  private readonly ownDir: string | undefined;
  private readonly throwaway: boolean;
  private readonly bin: string;

  private constructor(bin: string, options: Required<Omit<PostgresOptions, 'dataDir'>> & { dataDir: string; ownDir?: string }) {
    this.bin = bin;
    this.port = options.port;
    this.url = this.urlOf('postgres');
    this.dataDir = options.dataDir;
    this.logFile = options.logFile;
    this.ownDir = options.ownDir;
    this.throwaway = options.throwaway;
  }

  /** The cluster (trust auth, loopback only), made by initdb unless it exists, and started. */
  static async create(bin: string, options: PostgresOptions = {}): Promise<PostgresProcess> {
    const server = PostgresProcess.at(bin, { ...options, port: options.port ?? (await freePort()) });
    if (!existsSync(path.join(server.dataDir, 'PG_VERSION'))) {
      giveToPostgres(server.dataDir);
      // Loopback only (listen_addresses below), so trust auth is acceptable for these clusters.
      await asPostgres(path.join(bin, 'initdb'), ['-D', server.dataDir, '--username=postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync']);
    }
    await server.start();
    return server;
  }

  /** The cluster in `options.dataDir`, started or not (to stop one that an earlier run left). */
  static at(bin: string, options: PostgresOptions & { port: number }): PostgresProcess {
    let ownDir: string | undefined;
    if (!options.dataDir) {
      ownDir = mkdtempSync(path.join(os.tmpdir(), 'shop-pg-'));
      giveToPostgres(ownDir);
    }
    const dataDir = options.dataDir ?? path.join(ownDir!, 'data');
    const logFile = options.logFile ?? path.join(path.dirname(dataDir), 'postgres.log');
    return new PostgresProcess(bin, { dataDir, logFile, port: options.port, throwaway: options.throwaway ?? true, ownDir });
  }

  urlOf(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async start(): Promise<void> {
    if (isRoot() && !existsSync(this.logFile)) {
      writeFileSync(this.logFile, '');
      execFileSync('chown', ['postgres:postgres', this.logFile]);
    }
    // Port and addresses on the command line, so that another port works on the same data; TCP only, which
    // never clashes with a system server's socket.
    const settings = [`listen_addresses=127.0.0.1`, `port=${this.port}`, `unix_socket_directories=''`, 'max_connections=300'];
    if (this.throwaway) settings.push('fsync=off', 'synchronous_commit=off', 'full_page_writes=off');
    const options = settings.map((s) => `-c ${s}`).join(' ');
    await asPostgres(path.join(this.bin, 'pg_ctl'), ['start', '-D', this.dataDir, '-l', this.logFile, '-w', '-t', '30', '-o', options]);
  }

  async running(): Promise<boolean> {
    if (!existsSync(path.join(this.dataDir, 'postmaster.pid'))) return false;
    return asPostgres(path.join(this.bin, 'pg_ctl'), ['status', '-D', this.dataDir]).then(() => true, () => false);
  }

  /** Fast shutdown, as an operator restarting the server: open sessions are terminated. */
  async stop(): Promise<void> {
    await asPostgres(path.join(this.bin, 'pg_ctl'), ['stop', '-D', this.dataDir, '-m', 'fast', '-w', '-t', '30']);
  }

  /** Stopped if it runs: `fast`, else (or when a fast shutdown fails) `immediate`, which skips the checkpoint. */
  async ensureStopped(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!(await this.running())) return;
    const immediate = () => asPostgres(path.join(this.bin, 'pg_ctl'), ['stop', '-D', this.dataDir, '-m', 'immediate', '-w', '-t', '10']);
    await (mode === 'fast' ? this.stop().catch(immediate) : immediate());
  }

  async createDatabase(name: string): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    await client.connect();
    try {
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (!rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    } finally {
      await client.end();
    }
  }

  async destroy(): Promise<void> {
    await this.ensureStopped('immediate').catch(() => {});
    if (this.ownDir) rmSync(this.ownDir, { recursive: true, force: true });
  }
}
