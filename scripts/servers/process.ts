// The lifecycle every server here shares: a binary run on loopback, waited for until it answers, signalled and
// stopped. One class for two uses. A test's server is a child of the test (Ctrl-C in the terminal reaches it too,
// its output is kept in memory for the error message). A launcher's server is detached: its own session, output
// appended to a log file, its pid and start time in a pid file, so that it outlives the launcher (`.ci/run` starts
// the servers, then runs `npm test`) and a later `stop` finds it. A pid is signalled only while it still has the
// start time we recorded, so a stale pid file never kills a stranger that reused the pid. (Not the command name:
// node renames its main thread "MainThread", and /proc/<pid>/comm is cut to 15 characters.)
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { isListening } from '../../lib/net.ts';

export { isListening };

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });

/** Polls `check` every 50 ms until it holds, or fails after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  for (const until = Date.now() + timeoutMs; Date.now() < until; ) {
    if (await check().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error(`${what} did not start`);
}

/** True once `url` answers 2xx. */
export const httpOk = (url: string, headers: Record<string, string> = {}): Promise<boolean> =>
  fetch(url, { headers, signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);

/** Whether `command` is an executable on PATH (or a path to one). */
export function onPath(command: string): boolean {
  const dirs = command.includes('/') ? [''] : (process.env.PATH ?? '').split(':').filter(Boolean);
  return dirs.some((dir) => spawnSync('test', ['-x', path.join(dir, command)]).status === 0);
}

/** Runs a config checker (promtool, amtool, nginx -t); fails with what it said. */
export function checkConfig(command: string, args: string[], what: string): void {
  // stdout to /dev/null, not a pipe: nginx -t opens /dev/stdout (its access log), which fails on a pipe.
  const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`invalid ${what}:\n${result.stderr || result.error?.message}`);
}

/** A binary a test needs: locally its absence skips the test, in CI it fails it (servers are required there). */
export function requireBinaries(available: boolean, what: string): boolean {
  if (!available && process.env.CI) throw new Error(`CI needs ${what} for the fault tests (see scripts/servers/packages.ts)`);
  return available;
}

/** Start time of `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat, counted after the command name,
 * which may hold spaces), or undefined when it is gone or a zombie. A multi-threaded server (the Go ones) shows
 * its main thread as a zombie while its other threads are still exiting and its sockets still open: it is gone
 * only once they have, or a port it held would still be taken. */
function startTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  if (fields[0] !== 'Z') return fields[19];
  return threadsLeft(pid) > 1 ? fields[19] : undefined;
}

function threadsLeft(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/task`).length;
  } catch {
    return 0;
  }
}

export interface Launch {
  /** For messages and log lines. */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** True once the server serves (polled every 50 ms). */
  ready: () => Promise<boolean>;
  readyTimeoutMs?: number;
}

export interface Placement {
  /** Detached, recorded in this file: outlives this process. Without it, a child of this process. */
  pidFile?: string;
  /** Where its output goes (appended); without it, the last lines are kept in memory. */
  logFile?: string;
  /** Signals go to its whole process group (a server with children of its own, such as npx). */
  group?: boolean;
}

const KEPT_LINES = 200;

export class ServerProcess {
  private readonly recent: string[] = [];
  readonly name: string;
  readonly pid: number;
  private readonly since: string | undefined;
  private readonly placement: Placement;

  private constructor(name: string, pid: number, since: string | undefined, placement: Placement) {
    this.name = name;
    this.pid = pid;
    this.since = since;
    this.placement = placement;
  }

  /** Starts it and waits until it is ready; a server that exits or is not ready in time is stopped and fails. */
  static async start(launch: Launch, placement: Placement = {}): Promise<ServerProcess> {
    const detached = placement.pidFile !== undefined;
    const log = placement.logFile === undefined ? 'pipe' : openSync(placement.logFile, 'a');
    const child = spawn(launch.command, launch.args, {
      env: launch.env ?? process.env,
      cwd: launch.cwd,
      // Its own session when detached, so that a Ctrl-C in the terminal reaches only the launcher.
      detached: detached || placement.group,
      stdio: ['ignore', log, log],
    });
    if (typeof log === 'number') closeSync(log);
    const failed = new Promise<Error>((resolve) => {
      child.once('error', (err) => resolve(new Error(`${launch.name}: cannot run ${launch.command}: ${err.message}`)));
      child.once('exit', (code, signal) => resolve(new Error(`${launch.name} exited during startup (${signal ?? `code ${code}`})`)));
    });
    if (child.pid === undefined) throw await failed;
    const server = new ServerProcess(launch.name, child.pid, startTime(child.pid), placement);
    const collect = (chunk: Buffer) => {
      server.recent.push(...chunk.toString().split('\n').filter(Boolean));
      server.recent.splice(0, server.recent.length - KEPT_LINES);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    if (detached) {
      writeFileSync(placement.pidFile!, `${server.pid}\n${server.since ?? ''}\n`);
      child.unref();
    }
    const ready = waitFor(launch.ready, `${launch.name} on loopback`, launch.readyTimeoutMs ?? 30_000).then(() => undefined);
    const outcome = await Promise.race([ready, failed]).catch((err: Error) => err);
    if (outcome instanceof Error) {
      await server.stop();
      throw new Error(`${outcome.message}\n${server.logTail()}`);
    }
    return server;
  }

  /** The server a pid file names, if it is still that process. */
  static fromPidFile(name: string, pidFile: string, group = false): ServerProcess | undefined {
    if (!existsSync(pidFile)) return undefined;
    const [pid, since] = readFileSync(pidFile, 'utf8').split('\n');
    const server = new ServerProcess(name, Number(pid), since, { pidFile, group });
    if (server.running) return server;
    rmSync(pidFile, { force: true });
    return undefined;
  }

  get running(): boolean {
    return Number.isInteger(this.pid) && this.pid > 0 && this.since !== undefined && startTime(this.pid) === this.since;
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      process.kill(this.placement.group ? -this.pid : this.pid, signal);
    } catch {
      // gone meanwhile
    }
  }

  private async gone(timeoutMs: number): Promise<boolean> {
    for (const until = Date.now() + timeoutMs; Date.now() < until; await sleep(50)) if (!this.running) return true;
    return !this.running;
  }

  /** `signal` (SIGTERM: a clean shutdown), SIGKILL after `graceMs`; forgets its pid file. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<void> {
    this.signal(signal);
    if (!(await this.gone(graceMs))) {
      this.signal('SIGKILL');
      await this.gone(5000);
    }
    if (this.placement.pidFile) rmSync(this.placement.pidFile, { force: true });
  }

  /** Killed outright: no shutdown, nothing written. */
  kill(): Promise<void> {
    return this.stop('SIGKILL');
  }

  /** Its last lines of output, for an error message. */
  logTail(lines = 40): string {
    const all = this.placement.logFile ? readLog(this.placement.logFile) : this.recent;
    return all.slice(-lines).map((line) => `    ${line}`).join('\n');
  }
}

const readLog = (file: string): string[] => {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
};
