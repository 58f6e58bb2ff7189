// One wrk run of the mixed workload (scripts/load/mix.lua), and what its done() reports.
import { spawn } from 'node:child_process';
import path from 'node:path';

const MIX = path.join(import.meta.dirname, 'mix.lua');
/** No order is sent in a run's last seconds, so none is in flight when wrk stops (see mix.lua): serverless-offline
 * answers within the functions' timeout (serverless.yml: 10 s), if only with a 504. */
export const ORDER_GRACE_SECONDS = 10;

export interface WrkResult {
  duration_us: number;
  requests: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latency_us: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** Responses by kind (list, view, login, created, out_of_stock, other; list_hit and view_hit; status_<code>
   * of the others) and requests sent by kind (sent_*). */
  counts: Record<string, number>;
  /** Sum of totalCents of the created orders, by currency. */
  revenue: Record<string, number>;
}

export interface WrkRun {
  url: string;
  seconds: number;
  threads: number;
  connections: number;
  workloadFile: string;
  /** Unique per run: the orders' Idempotency-Keys start with it. */
  keyPrefix: string;
}

export const wrkAvailable = (): Promise<boolean> =>
  new Promise((resolve) => {
    const child = spawn('wrk', ['--version'], { stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('exit', () => resolve(true));
  });

export function runWrk(run: WrkRun, say: (line: string) => void): Promise<WrkResult> {
  const ordersUntil = Math.floor(Date.now() / 1000) + run.seconds - ORDER_GRACE_SECONDS;
  const args = [
    `--threads=${run.threads}`,
    `--connections=${run.connections}`,
    `--duration=${run.seconds}s`,
    // wrk's default (2 s) counts a slow answer as an error; answers are counted by mix.lua whenever they come.
    '--timeout=10s',
    `--script=${MIX}`,
    run.url,
    '--',
    run.workloadFile,
    String(ordersUntil),
    run.keyPrefix,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    // mix.lua writes samples of unexpected answers there.
    child.stderr.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line) say(`wrk: ${line}`);
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = stdout.split('\n').find((l) => l.startsWith('LOAD_RESULT '));
      if (code !== 0 || !line) return reject(new Error(`wrk exited with ${code} and no result:\n${stdout}`));
      resolve(JSON.parse(line.slice('LOAD_RESULT '.length)) as WrkResult);
    });
  });
}
