// The whole stack from the Debian packages on 127.0.0.1, without Docker (scripts/start-monitoring.sh runs it):
// Postgres, Redis, the Pushgateway, Prometheus with the rules, Alertmanager, the exporters, the API
// (serverless-offline, as `npm start` runs it) and the nginx edge, with configs rendered from monitoring/ by
// render.ts.
//
//   node scripts/stack/local.ts        # start, print the URLs, run until Ctrl-C (or SIGTERM) or a server dies
//   node scripts/stack/local.ts stop   # stop what a launcher that was killed left running
//
// Every server is detached with a pid file in <STACK_DIR>/run (Postgres: pg_ctl's own), so that a Ctrl-C in the
// terminal reaches only this launcher, which stops them in order, and `stop` finds them after a kill -9. Data
// survives restarts in STACK_DIR (default .stack/): Postgres, Redis (append-only file), the Pushgateway's
// persistence file, Prometheus's TSDB, Alertmanager's silences; logs in .stack/logs/. Ports: see
// start-monitoring.sh.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { alertmanagerLaunch } from '../servers/alertmanager.ts';
import { nodeExporterLaunch, postgresExporterLaunch, redisExporterLaunch } from '../servers/exporters.ts';
import { missingPackages } from '../servers/packages.ts';
import { postgresBin, PostgresProcess } from '../servers/postgres.ts';
import { checkConfig, httpOk, isListening, onPath, ServerProcess, sleep, type Launch } from '../servers/process.ts';
import { prometheusLaunch, waitForTargets } from '../servers/prometheus.ts';
import { pushgatewayLaunch } from '../servers/pushgateway.ts';
import { redisLaunch } from '../servers/redis.ts';
import { COMPOSE_PORTS, PORT_ENV, portsFromEnv, renderAll, type LocalPorts, type Service } from './render.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const STACK_DIR = path.resolve(REPO_ROOT, process.env.STACK_DIR ?? '.stack');
const RUN_DIR = path.join(STACK_DIR, 'run');
const LOG_DIR = path.join(STACK_DIR, 'logs');
const READY_MS = Number(process.env.READY_TIMEOUT ?? 60) * 1000;
// serverless-offline bundles every function with esbuild before it answers.
const API_READY_MS = Number(process.env.API_READY_TIMEOUT ?? 300) * 1000;

const log = (line: string) => process.stderr.write(`stack: ${line}\n`);

// Start order; stopped in reverse (the edge and the API first, the databases last). Postgres is not here: pg_ctl.
const SERVICES = ['redis', 'pushgateway', 'prometheus', 'alertmanager', 'postgres-exporter', 'redis-exporter', 'node-exporter', 'api', 'nginx'] as const;
type Detached = (typeof SERVICES)[number];
// The API runs npx and serverless-offline under it: signals go to its whole process group.
const placement = (name: Detached) => ({ pidFile: path.join(RUN_DIR, `${name}.pid`), logFile: path.join(LOG_DIR, `${name}.log`), group: name === 'api' });
const running = (name: Detached) => ServerProcess.fromPidFile(name, placement(name).pidFile, name === 'api');

/** The compose ports unless the environment says otherwise (PORT_ENV, and LAMBDA_PORT for serverless-offline). */
function ports(): LocalPorts & { lambda: number } {
  const env = { ...process.env };
  for (const service of Object.keys(COMPOSE_PORTS) as Service[]) env[PORT_ENV[service]] ||= String(COMPOSE_PORTS[service]);
  const lambda = env.LAMBDA_PORT || '3002';
  if (!/^\d+$/.test(lambda)) throw new Error(`LAMBDA_PORT must be a port number: ${lambda}`);
  const all = { ...portsFromEnv(env), lambda: Number(lambda) };
  if (new Set(Object.values(all)).size !== Object.keys(all).length) throw new Error(`the ports must differ: ${JSON.stringify(all)}`);
  return all;
}

function postgres(port: number): PostgresProcess | undefined {
  const bin = postgresBin();
  return bin ? PostgresProcess.at(bin, { dataDir: path.join(STACK_DIR, 'postgres'), logFile: path.join(LOG_DIR, 'postgres.log'), port, throwaway: false }) : undefined;
}

// One stop, whoever asks first (a signal, a dead server, a failed start); the others wait for the same.
let stopping: Promise<void> | undefined;
const stopAll = (pgPort: number): Promise<void> => (stopping ??= stopEverything(pgPort));

async function stopEverything(pgPort: number): Promise<void> {
  for (const name of [...SERVICES].reverse()) {
    const server = running(name);
    if (!server) continue;
    log(`stopping ${name} (pid ${server.pid})`);
    await server.stop();
  }
  const pg = postgres(pgPort);
  if (pg && (await pg.running())) {
    log('stopping postgres');
    await pg.ensureStopped();
  }
}

/** Starts the stack; returns the servers it started (Postgres aside). */
async function start(): Promise<Detached[]> {
  const missing = missingPackages(['redis-server', 'prometheus-pushgateway', 'prometheus', 'promtool', 'prometheus-alertmanager', 'amtool', 'prometheus-postgres-exporter', 'prometheus-redis-exporter', 'prometheus-node-exporter']);
  if (missing.length) throw new Error(`missing Debian packages: apt-get install ${missing.join(' ')}`);
  const withNginx = onPath('nginx');
  if (!withNginx) log(`nginx is not installed: no edge, the API answers on its own port`);
  const port = ports();
  mkdirSync(RUN_DIR, { recursive: true });
  mkdirSync(LOG_DIR, { recursive: true });

  // A launcher killed without its cleanup leaves its servers running: say so rather than start a second set.
  for (const name of SERVICES) {
    const server = running(name);
    if (server) throw new Error(`${name} from an earlier start is still running (pid ${server.pid}); stop it with: bash scripts/start-monitoring.sh stop`);
  }
  const pg = postgres(port.postgres)!;
  if (await pg.running()) throw new Error(`postgres in ${pg.dataDir} is still running; stop it with: bash scripts/start-monitoring.sh stop`);
  const taken: string[] = [];
  for (const [name, p] of Object.entries(port)) {
    if (name === 'nginx' && !withNginx) continue;
    if (await isListening(p)) taken.push(`${name === 'lambda' ? 'LAMBDA_PORT' : PORT_ENV[name as Service]}=${p}`);
  }
  if (taken.length) throw new Error(`ports already in use on 127.0.0.1: ${taken.join(' ')} (stop what holds them, or set other ports)`);

  const configs = renderAll(RUN_DIR, port);
  checkConfig('promtool', ['check', 'config', configs.prometheus], `${configs.prometheus} (rendered from monitoring/prometheus.yml)`);
  checkConfig('amtool', ['check-config', configs.alertmanager], `${configs.alertmanager} (rendered from monitoring/alertmanager.yml)`);
  const nginxArgs = ['-c', configs.nginx, '-e', path.join(RUN_DIR, 'nginx', 'error.log')];
  if (withNginx) checkConfig('nginx', [...nginxArgs, '-t', '-q'], `${configs.nginx} (rendered from monitoring/nginx/nginx.conf)`);

  log(`starting postgres on 127.0.0.1:${port.postgres}`);
  // A developer's loopback-only cluster, kept between runs.
  await PostgresProcess.create(postgresBin()!, { dataDir: pg.dataDir, logFile: path.join(LOG_DIR, 'postgres.log'), port: port.postgres, throwaway: false });
  await pg.createDatabase('shop');
  const databaseUrl = pg.urlOf('shop');
  const redisUrl = `redis://127.0.0.1:${port.redis}`;
  const gatewayUrl = `http://127.0.0.1:${port.pushgateway}`;

  const launches: Record<Detached, Launch | undefined> = {
    redis: redisLaunch(port.redis, mkdir(path.join(STACK_DIR, 'redis')), 'appendonly'),
    pushgateway: pushgatewayLaunch(port.pushgateway, { persistenceFile: path.join(STACK_DIR, 'pushgateway.db') }),
    prometheus: prometheusLaunch(port.prometheus, configs.prometheus, path.join(STACK_DIR, 'prometheus'), { remoteWriteReceiver: true }),
    alertmanager: alertmanagerLaunch(port.alertmanager, configs.alertmanager, path.join(STACK_DIR, 'alertmanager')),
    'postgres-exporter': postgresExporterLaunch(port['postgres-exporter'], databaseUrl),
    'redis-exporter': redisExporterLaunch(port['redis-exporter'], redisUrl),
    'node-exporter': nodeExporterLaunch(port['node-exporter']),
    // What `npm start` runs (without npm, whose process title would not be "node"): it migrates and seeds the
    // database, then runs serverless-offline. The bundles go to a folder of their own, so that tests or another
    // `npm start` in this checkout never rebuild them under the stack.
    api: {
      name: `api on 127.0.0.1:${port.api}`,
      command: process.execPath,
      args: ['scripts/start.ts'],
      cwd: REPO_ROOT,
      env: { ...process.env, DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, PUSHGATEWAY_URL: gatewayUrl, REMOTE_WRITE_URL: `http://127.0.0.1:${port.prometheus}/api/v1/write`, HTTP_PORT: String(port.api), LAMBDA_PORT: String(port.lambda), ESBUILD_WORK_FOLDER: '.stack/esbuild' },
      ready: () => httpOk(`http://127.0.0.1:${port.api}/healthz`),
      readyTimeoutMs: API_READY_MS,
    },
    nginx: withNginx ? { name: `nginx on 127.0.0.1:${port.nginx}`, command: 'nginx', args: [...nginxArgs, '-g', 'daemon off;'], ready: () => httpOk(`http://127.0.0.1:${port.nginx}/healthz`) } : undefined,
  };
  const started = SERVICES.filter((name) => launches[name]);
  for (const name of started) {
    log(`starting ${launches[name]!.name}`);
    await ServerProcess.start({ readyTimeoutMs: READY_MS, ...launches[name]! }, placement(name));
  }
  log('waiting for Prometheus to scrape every target');
  await waitForTargets(`http://127.0.0.1:${port.prometheus}`, READY_MS);
  printUrls(port, withNginx, databaseUrl, redisUrl);
  return started;
}

function mkdir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

function printUrls(port: ReturnType<typeof ports>, withNginx: boolean, databaseUrl: string, redisUrl: string): void {
  const base = `http://127.0.0.1:${withNginx ? port.nginx : port.api}`;
  const edge = withNginx ? `  shop through the nginx edge   http://127.0.0.1:${port.nginx}\n` : '';
  process.stdout.write(`
serverless-shop stack is up (local binaries, data in ${shown(STACK_DIR)}/, logs in ${shown(LOG_DIR)}/):
${edge}  API (serverless-offline)      http://127.0.0.1:${port.api}      (curl ${base}/api/products?limit=3)
  Prometheus                    http://127.0.0.1:${port.prometheus}      (/targets, /alerts, /rules)
  Pushgateway                   http://127.0.0.1:${port.pushgateway}
  Alertmanager                  http://127.0.0.1:${port.alertmanager}
  exporters                     http://127.0.0.1:${port['postgres-exporter']}/metrics (postgres)  http://127.0.0.1:${port['redis-exporter']}/metrics (redis)  http://127.0.0.1:${port['node-exporter']}/metrics (node)
  Postgres                      ${databaseUrl}
  Redis                         ${redisUrl}
Grafana is not part of the local stack: import monitoring/grafana/dashboards/*.json into a Grafana whose
Prometheus datasource (uid "prometheus") points at http://127.0.0.1:${port.prometheus}, or use Docker
(docker-compose.full.yml brings Grafana with them provisioned).
Traffic: npm run traffic -- --base-url ${base} --duration 60
Ctrl-C stops everything.
`);
}

/** A path relative to the checkout when it is inside it. */
const shown = (file: string) => (file.startsWith(`${REPO_ROOT}/`) ? path.relative(REPO_ROOT, file) : file);

/** Returns when one of the servers has died, naming it. */
async function watch(started: Detached[], pgPort: number): Promise<void> {
  const pg = postgres(pgPort)!;
  while (!stopping) {
    const dead = started.find((name) => running(name) === undefined);
    const why = dead ? `${dead} exited (see ${shown(placement(dead).logFile)})` : !(await pg.running()) && `postgres exited (see ${shown(path.join(LOG_DIR, 'postgres.log'))})`;
    // Servers that a stop (Ctrl-C) took away meanwhile are no news.
    if (why && !stopping) log(`ERROR: ${why}`);
    if (why) return;
    await sleep(2000);
  }
}

const port = ports();
if (process.argv[2] === 'stop') {
  mkdirSync(RUN_DIR, { recursive: true });
  await stopAll(port.postgres);
} else if (process.argv.length > 2) {
  log('usage: node scripts/stack/local.ts [stop]');
  process.exit(2);
} else {
  // From here on, whatever happens, what was started is stopped.
  let exitCode = 1;
  const exit = (code: number, why: string) => {
    log(why);
    exitCode = code;
    void stopAll(port.postgres).finally(() => process.exit(code));
  };
  process.once('SIGINT', () => exit(130, 'interrupted'));
  process.once('SIGTERM', () => exit(143, 'terminated'));
  try {
    await watch(await start(), port.postgres);
  } catch (err) {
    if (!stopping) log(`ERROR: ${(err as Error).message}`);
  }
  await stopAll(port.postgres);
  process.exit(exitCode);
}
