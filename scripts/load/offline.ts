// serverless-offline for the load run and the e2e tests: the real bundles and HTTP API emulation, as `npm start`
// runs it, in a process group of its own so that stopping it stops everything it started.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { patchOffline } from '../offline-patch.ts';

const READY_TIMEOUT_MS = 180_000;
const ROOT = path.resolve(import.meta.dirname, '../..');
const SERVERLESS = path.join(ROOT, 'node_modules', 'serverless', 'bin', 'serverless.js');

export interface Offline {
  pid: number;
  url: string;
  /** From spawn to "Server ready" (bundling included). */
  startMs: number;
  /** Resolves once every HTTP invocation it started has ended (answered, failed or timed out), or after
   * `timeoutMs`; says whether they all ended. */
  drained(timeoutMs: number): Promise<boolean>;
  /** Its scheduled functions (serverless.yml `schedule` events, run at every minute's start) as its log has
   * told so far: how many, since when (ms since the epoch), and how many of their runs have ended. */
  scheduled: { jobs(): number; since(): number; runs(): number };
  stop(): Promise<void>;
}

/**
 * HTTP invocations in flight, from serverless-offline's own log lines: "<METHOD> <path> (λ: <function>)" when
 * one starts, "(λ: <function>) RequestId: ... Duration: ..." when its handler returns, "× [<status>] <error>"
 * when it fails or times out (its worker is then terminated). Scheduled invocations log no start line and are left out.
 */
function invocationCounter() {
  const started = new Map<string, number>();
  const ended = new Map<string, number>();
  let failed = 0;
  const scheduled = { jobs: 0, since: 0, runs: 0 };
  const add = (map: Map<string, number>, fn: string) => map.set(fn, (map.get(fn) ?? 0) + 1);
  const count = (line: string) => {
    const start = /^[A-Z]+ \S+ \(λ: (\w+)\)$/.exec(line);
    const end = /^\(λ: (\w+)\) RequestId: \S+\s+Duration:/.exec(line);
    if (start) add(started, start[1]!);
    else if (end) add(ended, end[1]!);
    // An HTTP invocation that fails (a timeout, a crashed worker) logs its status; scheduled ones log otherwise.
    else if (/^× \[\d{3}\] /.test(line)) failed++;
    else if (/^Scheduling \[\w+\] cron: \[/.test(line)) {
      if (scheduled.jobs++ === 0) scheduled.since = Date.now();
    } else if (/(Successfully invoked|Failed to execute) scheduled function: \[\w+\]/.test(line)) scheduled.runs++;
  };
  return {
    /** A line splitter for one output stream. */
    stream() {
      let partial = '';
      return (chunk: Buffer) => {
        const lines = (partial + chunk.toString()).split('\n');
        partial = lines.pop()!;
        lines.forEach(count);
      };
    },
    scheduled: { jobs: () => scheduled.jobs, since: () => scheduled.since, runs: () => scheduled.runs },
    inFlight(): number {
      let n = -failed;
      for (const [fn, count] of started) n += count - (ended.get(fn) ?? 0);
      return n;
    },
  };
}

/** `env` is the whole environment of the process; HTTP_PORT and LAMBDA_PORT are set from `port`. */
export async function startOffline(port: number, env: NodeJS.ProcessEnv, logFile: string): Promise<Offline> {
  patchOffline();
  const started = performance.now();
  // `node serverless.js` rather than `npx serverless`: no npx process in the tree whose memory is sampled.
  const child = spawn(process.execPath, [SERVERLESS, 'offline', 'start'], {
    cwd: ROOT,
    env: { ...env, HTTP_PORT: String(port), LAMBDA_PORT: String(port + 2) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const log = createWriteStream(logFile, { flags: 'a' });
  let output = '';
  const invocations = invocationCounter();
  const collect = (chunk: Buffer) => {
    log.write(chunk);
    // Only what readiness needs; the handlers' output goes to the file.
    if (!output.includes('Server ready')) output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout!.on('data', invocations.stream());
  child.stderr!.on('data', invocations.stream());
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);

  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name);
    } catch {} // the group is gone already
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      signal('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    }
    // Whatever it left in its group (esbuild's service) goes too.
    signal('SIGKILL');
    log.end();
  };

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serverless-offline not ready after ${READY_TIMEOUT_MS} ms; see ${logFile}`)), READY_TIMEOUT_MS);
      const poll = setInterval(() => {
        if (!output.includes('Server ready')) return;
        clearInterval(poll);
        clearTimeout(timer);
        resolve();
      }, 100);
      child.once('exit', (code) => {
        clearInterval(poll);
        clearTimeout(timer);
        reject(new Error(`serverless-offline exited with ${code}; see ${logFile}`));
      });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  const drained = async (timeoutMs: number) => {
    const until = Date.now() + timeoutMs;
    while (invocations.inFlight() > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 100));
    return invocations.inFlight() <= 0;
  };
  return { pid: child.pid!, url: `http://127.0.0.1:${port}`, startMs: performance.now() - started, drained, scheduled: invocations.scheduled, stop };
}

export interface TreeMemory {
  /** The largest sum over the tree. */
  peakBytes: number;
  /** The largest of the root process alone (worker threads live inside their process). */
  rootPeakBytes: number;
  /** The processes counted at the tree's peak, by name. */
  processesAtPeak: string[];
}

/** Samples the resident memory of `rootPid` and all its descendants every `intervalMs`; stop() gives the peaks. */
export function sampleTreeMemory(rootPid: number, intervalMs = 200): { stop(): Promise<TreeMemory> } {
  const peak: TreeMemory = { peakBytes: 0, rootPeakBytes: 0, processesAtPeak: [] };
  let running = true;
  const loop = (async () => {
    while (running) {
      const tree = await processTree(rootPid);
      let bytes = 0;
      for (const p of tree) bytes += p.rssBytes;
      if (bytes > peak.peakBytes) Object.assign(peak, { peakBytes: bytes, processesAtPeak: tree.map((p) => p.name) });
      peak.rootPeakBytes = Math.max(peak.rootPeakBytes, tree[0]?.rssBytes ?? 0);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

/** Every process's /proc/<pid>/<file>, parsed; one that exits meanwhile, or that `parse` refuses, is left out. */
async function everyProcess<P extends { pid: number; ppid: number }>(file: 'stat' | 'status', parse: (pid: number, text: string) => P | undefined): Promise<P[]> {
  const all: P[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const text = await readFile(`/proc/${entry}/${file}`, 'utf8').catch(() => '');
    const parsed = text ? parse(Number(entry), text) : undefined;
    if (parsed) all.push(parsed);
  }
  return all;
}

/** `root` and its descendants among `all`, root first; empty when `root` is gone. */
function treeOf<P extends { pid: number; ppid: number }>(all: P[], root: number): P[] {
  const children = new Map<number, P[]>();
  for (const p of all) {
    const siblings = children.get(p.ppid);
    if (siblings) siblings.push(p);
    else children.set(p.ppid, [p]);
  }
  const tree = all.filter((p) => p.pid === root);
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!.pid) ?? []));
  return tree;
}

async function processTree(rootPid: number): Promise<{ name: string; rssBytes: number }[]> {
  const all = await everyProcess('status', (pid, status) => {
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1];
    const ppid = field('PPid');
    // VmRSS is absent for kernel threads and zombies.
    return ppid === undefined ? undefined : { pid, ppid: Number(ppid), name: field('Name') ?? '?', rssBytes: Number.parseInt(field('VmRSS') ?? '0', 10) * 1024 };
  });
  return treeOf(all, rootPid);
}

// USER_HZ: what /proc counts CPU time in (100 on every Linux this runs on; `getconf CLK_TCK`).
const TICKS_PER_SECOND = 100;

export interface CpuSnapshot {
  at: number;
  /** CPU seconds (user + system) used so far by each named root process and its descendants, threads included. */
  trees: Record<string, number>;
  /** CPU seconds the whole machine spent busy so far (all CPUs; idle and iowait excluded). */
  machine: number;
}

/** One pass over /proc: `roots` names the processes whose trees are summed (serverless-offline, the servers). */
export async function cpuSnapshot(roots: Record<string, number>): Promise<CpuSnapshot> {
  const all = await everyProcess('stat', (pid, stat) => {
    // Fields after the command name, which is in parentheses and may hold spaces: ppid is 4, utime and stime 14, 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(fields[1]), ticks: Number(fields[11] ?? 0) + Number(fields[12] ?? 0) };
  });
  const trees: Record<string, number> = {};
  for (const [name, root] of Object.entries(roots)) trees[name] = treeOf(all, root).reduce((sum, p) => sum + p.ticks, 0) / TICKS_PER_SECOND;
  const [, ...times] = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/);
  // user nice system idle iowait irq softirq ...
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = times.map(Number);
  const busy = user + nice + system + irq + softirq;
  return { at: performance.now(), trees, machine: busy / TICKS_PER_SECOND };
}
