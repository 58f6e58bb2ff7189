// Throwaway PostgreSQL, Redis, Prometheus Pushgateway and Prometheus for the test suite (local runs and CI), the
// load run and whoever needs the set:
//
//   node scripts/servers/cli.ts start <dir>   # prints `export ...` lines on stdout (the log goes to stderr)
//   node scripts/servers/cli.ts stop  <dir>
//   eval "$(bash scripts/test-servers.sh start .ci/servers)"   # the same, as .ci/run calls it
//
// `start` exports DATABASE_URL (database `shop`), REDIS_URL, PUSHGATEWAY_URL, PROMETHEUS_URL and PROMTOOL.
// All state lives under <dir> (pg, redis, pushgateway, prometheus). `start` is safe to repeat: it first stops
// whatever a previous `start` left running in <dir> and wipes it. The servers are detached, with pid files in
// <dir>: they outlive this process (.ci/run starts them, then runs `npm test`) until `stop`, which ignores those
// already gone. All listen on 127.0.0.1 only. The Pushgateway keeps pushed metrics in memory only, so every
// `start` begins with an empty gateway. Prometheus scrapes the gateway (honor_labels) and itself every second,
// from monitoring/prometheus.test.yml rendered with the actual ports.
//
// Ports: POSTGRES_PORT (default 55432), REDIS_PORT (56379), PUSHGATEWAY_PORT (59091), PROMETHEUS_PORT (59090).
// Missing Debian packages are installed with apt-get (scripts/servers/packages.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { commandPath, ensurePackages } from './packages.ts';
import { giveToPostgres, isRoot, postgresBin, PostgresProcess } from './postgres.ts';
import { prometheusLaunch, renderTestConfig, waitForTargets } from './prometheus.ts';
import { pushgatewayLaunch } from './pushgateway.ts';
import { redisLaunch } from './redis.ts';
import { checkConfig, isListening, ServerProcess, type Launch } from './process.ts';

export interface Ports {
  postgres: number;
  redis: number;
  pushgateway: number;
  prometheus: number;
}

const PORT_ENV: Record<keyof Ports, [string, number]> = {
  postgres: ['POSTGRES_PORT', 55432],
  redis: ['REDIS_PORT', 56379],
  pushgateway: ['PUSHGATEWAY_PORT', 59091],
  prometheus: ['PROMETHEUS_PORT', 59090],
};

export function portsFromEnv(env: NodeJS.ProcessEnv = process.env): Ports {
  const ports = Object.fromEntries(
    Object.entries(PORT_ENV).map(([name, [variable, fallback]]) => {
      const value = env[variable] || String(fallback);
      if (!/^\d+$/.test(value)) throw new Error(`${variable} must be a number: ${value}`);
      return [name, Number(value)];
    }),
  ) as unknown as Ports;
  if (new Set(Object.values(ports)).size !== 4) throw new Error(`${Object.values(PORT_ENV).map(([v]) => v).join(', ')} must differ`);
  return ports;
}

const READY_MS = 30_000;
// A cluster the postgres user could not have in <dir> goes under this prefix (see postgresDataRoot).
const PG_FALLBACK_PREFIX = '/tmp/test-servers-pg.';

// The servers started detached, by their pid files under <dir> (postgres: pg_ctl's own postmaster.pid).
const DETACHED = ['prometheus', 'pushgateway', 'redis'] as const;
const pidFile = (dir: string, name: string) => path.join(dir, name, `${name}.pid`);
const logFile = (dir: string, name: string) => path.join(dir, name, `${name}.log`);

/**
 * <dir>/pg, owned by postgres. When the postgres user cannot reach <dir> (a checkout under /root, mode 700), the
 * cluster goes in a fresh directory under /tmp and <dir>/pg is a symlink to it.
 */
function postgresDataRoot(dir: string, log: (line: string) => void): string {
  const link = path.join(dir, 'pg');
  giveToPostgres(link);
  if (!isRoot() || spawnSync('runuser', ['-u', 'postgres', '--', 'test', '-w', link], { cwd: '/' }).status === 0) return link;
  const real = mkdtempSync(PG_FALLBACK_PREFIX);
  log(`user postgres cannot reach ${link}; using ${real} (symlinked as ${link})`);
  rmSync(link, { recursive: true });
  giveToPostgres(real);
  symlinkSync(real, link);
  return real;
}

/** <dir>/pg's cluster directory: the symlink's target when it is one. */
function pgRoot(dir: string): string {
  const link = path.join(dir, 'pg');
  return existsSync(link) && lstatSync(link).isSymbolicLink() ? readlinkSync(link) : link;
}

/** Removes <dir>/pg, and the cluster under /tmp it may point to (which would outlive a deleted checkout). */
function removePg(dir: string): void {
  const root = pgRoot(dir);
  if (root.startsWith(PG_FALLBACK_PREFIX)) rmSync(root, { recursive: true, force: true });
  rmSync(path.join(dir, 'pg'), { recursive: true, force: true });
}

async function stopAll(dir: string, ports: Ports, log: (line: string) => void): Promise<void> {
  for (const name of DETACHED) {
    const server = ServerProcess.fromPidFile(name, pidFile(dir, name));
    if (!server) continue;
    log(`stopping ${name} (pid ${server.pid})`);
    // With no save point, a SIGTERM stops Redis without writing anything.
    await server.stop();
  }
  const bin = postgresBin();
  const data = path.join(pgRoot(dir), 'data');
  if (bin && existsSync(data)) {
    const postgres = PostgresProcess.at(bin, { dataDir: data, port: ports.postgres });
    if (await postgres.running()) {
      log('stopping postgres');
      await postgres.ensureStopped();
    }
  }
}

export interface Started {
  /** What `start` exports. */
  env: Record<'DATABASE_URL' | 'REDIS_URL' | 'PUSHGATEWAY_URL' | 'PROMETHEUS_URL' | 'PROMTOOL', string>;
  /** The servers' main processes, by name. */
  pids: Record<string, number>;
}

export async function start(dirArg: string, ports: Ports, log: (line: string) => void): Promise<Started> {
  ensurePackages(log);
  const bin = postgresBin()!;
  mkdirSync(dirArg, { recursive: true });
  const dir = realpathSync(dirArg);

  // Idempotent: stop anything a previous start left in this dir, then start from a clean slate.
  await stopAll(dir, ports, log);
  removePg(dir);
  for (const name of DETACHED) rmSync(path.join(dir, name), { recursive: true, force: true });
  for (const [name, port] of Object.entries(ports)) {
    if (await isListening(port)) throw new Error(`port ${port} (${PORT_ENV[name as keyof Ports][0]}) is already in use on 127.0.0.1`);
  }

  const pids: Record<string, number> = {};
  try {
    const root = postgresDataRoot(dir, log);
    log(`postgres: ${bin}, data in ${root}, port ${ports.postgres}`);
    const postgres = await PostgresProcess.create(bin, { dataDir: path.join(root, 'data'), logFile: path.join(root, 'postgres.log'), port: ports.postgres });
    await postgres.createDatabase('shop');

    const detached = async (name: string, launch: Launch) => {
      mkdirSync(path.join(dir, name), { recursive: true });
      log(launch.name);
      const server = await ServerProcess.start({ ...launch, readyTimeoutMs: READY_MS }, { pidFile: pidFile(dir, name), logFile: logFile(dir, name) });
      pids[name] = server.pid;
    };
    await detached('redis', redisLaunch(ports.redis, path.join(dir, 'redis'), 'none'));
    await detached('pushgateway', pushgatewayLaunch(ports.pushgateway));

    const promDir = path.join(dir, 'prometheus');
    const config = path.join(promDir, 'prometheus.yml');
    mkdirSync(promDir, { recursive: true });
    renderTestConfig(config, ports);
    checkConfig('promtool', ['check', 'config', config], `${config} (from monitoring/prometheus.test.yml)`);
    await detached('prometheus', prometheusLaunch(ports.prometheus, config, path.join(promDir, 'data')));
    await waitForTargets(`http://127.0.0.1:${ports.prometheus}`, READY_MS);
  } catch (err) {
    // Half a set of servers is no use: stop what was started.
    log('start failed; stopping what was started');
    await stopAll(dir, ports, log);
    throw err;
  }
  log(`ready: postgres on ${ports.postgres} (db shop), redis on ${ports.redis}, pushgateway on ${ports.pushgateway}, prometheus on ${ports.prometheus}`);
  return {
    pids,
    env: {
      DATABASE_URL: `postgres://postgres@127.0.0.1:${ports.postgres}/shop`,
      REDIS_URL: `redis://127.0.0.1:${ports.redis}`,
      PUSHGATEWAY_URL: `http://127.0.0.1:${ports.pushgateway}`,
      PROMETHEUS_URL: `http://127.0.0.1:${ports.prometheus}`,
      PROMTOOL: commandPath('promtool'),
    },
  };
}

export async function stop(dirArg: string, ports: Ports, log: (line: string) => void): Promise<void> {
  if (!existsSync(dirArg)) {
    log(`${dirArg} does not exist; nothing to stop`);
    return;
  }
  const dir = realpathSync(dirArg);
  await stopAll(dir, ports, log);
  // A cluster under /tmp goes now; one inside <dir> stays (its log may help) until the next start wipes it.
  if (pgRoot(dir).startsWith(PG_FALLBACK_PREFIX)) removePg(dir);
  log('stopped');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [command, dir] = process.argv.slice(2);
  const log = (line: string) => process.stderr.write(`test-servers: ${line}\n`);
  if ((command !== 'start' && command !== 'stop') || !dir || process.argv.length !== 4) {
    log('usage: node scripts/servers/cli.ts start|stop <dir>');
    process.exit(2);
  }
  try {
    const ports = portsFromEnv();
    if (command === 'stop') await stop(dir, ports, log);
    else for (const [name, value] of Object.entries((await start(dir, ports, log)).env)) process.stdout.write(`export ${name}=${value}\n`);
  } catch (err) {
    log(`ERROR: ${(err as Error).message}`);
    process.exit(1);
  }
}
