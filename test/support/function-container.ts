// A function container of the real handlers, run in a worker thread (test/support/container-worker.ts) with
// an environment of its own: lib/config.ts reads the environment once per module graph, and each worker has
// its own graph, so a fault test can point containers at servers it owns and breaks, several at once.
import { Worker } from 'node:worker_threads';
import type { JanitorReport } from '../../packages/middy-pushgateway/src/janitor.ts';
import type { PushStatus } from '../../packages/middy-pushgateway/src/pusher.ts';

export interface CallOptions {
  body?: unknown;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  params?: Record<string, string>;
}
export interface Reply {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: string;
}
export interface LoadPlan {
  productId: number;
  token: string;
  /** Idempotency keys are `<keyPrefix>-<n>`. */
  keyPrefix: string;
}
export interface LoadRecord {
  /** Epoch ms when the invocation started, to place it before, during or after a fault. */
  at: number;
  ms: number;
  route: string;
  status: number;
  cache?: string;
  key?: string;
  quantity?: number;
  /** Only for answers of 300 and above. */
  body?: string;
}
export type Request = { id: number } & (
  | { op: 'call'; route: string; options?: CallOptions }
  | { op: 'startLoad'; plan: LoadPlan }
  | { op: 'stopLoad' }
  | { op: 'served' }
  | { op: 'pushStatus' }
  | { op: 'metric'; name: string }
  | { op: 'janitor' }
);
type Op = Request['op'];
type Args<O extends Op> = Omit<Extract<Request, { op: O }>, 'id' | 'op'>;

export interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

export class FunctionContainer {
  /** Everything the container wrote to stdout and stderr (its JSON log lines). */
  readonly logs: string[] = [];
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private dead: Error | undefined;

  /** `env` is laid over this process's environment; an empty value unsets a variable (lib/config.ts). */
  constructor(env: Record<string, string>) {
    this.worker = new Worker(new URL('./container-worker.ts', import.meta.url), { env: { ...process.env, ...env }, stdout: true, stderr: true });
    for (const stream of [this.worker.stdout, this.worker.stderr]) {
      stream.on('data', (chunk: Buffer) => this.logs.push(...chunk.toString().split('\n').filter(Boolean)));
    }
    this.worker.on('message', (message: { id: number; ok: boolean; value?: unknown; error?: string }) => {
      const waiting = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.ok) waiting?.resolve(message.value);
      else waiting?.reject(new Error(`in the container: ${message.error}`));
    });
    // A container that crashed answers nothing: whatever waits for it, or asks it later, fails with the cause.
    const fail = (err: Error) => {
      this.dead ??= err;
      for (const waiting of this.pending.values()) waiting.reject(this.dead);
      this.pending.clear();
    };
    this.worker.on('error', (err) => fail(new Error(`the container crashed: ${err.stack ?? err.message}`)));
    this.worker.on('exit', (code) => fail(new Error(`the container exited (code ${code})`)));
  }

  private send<O extends Op>(op: O, args: Args<O>): Promise<unknown> {
    const id = this.nextId++;
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, ...args });
    });
  }

  call(route: string, options?: CallOptions): Promise<Reply> {
    return this.send('call', { route, options }) as Promise<Reply>;
  }
  /** Starts serving the load plan in the background, one request at a time, until stopLoad. */
  startLoad(plan: LoadPlan): Promise<void> {
    return this.send('startLoad', { plan }) as Promise<void>;
  }
  stopLoad(): Promise<LoadRecord[]> {
    return this.send('stopLoad', {}) as Promise<LoadRecord[]>;
  }
  /** API invocations this container answered (any status), and orders it created (201, not replayed). */
  served(): Promise<{ invocations: number; ordersCreated: number }> {
    return this.send('served', {}) as Promise<{ invocations: number; ordersCreated: number }>;
  }
  pushStatus(): Promise<PushStatus | undefined> {
    return this.send('pushStatus', {}) as Promise<PushStatus | undefined>;
  }
  /** The values of one family in the container's registry. */
  metric(name: string): Promise<MetricValue[]> {
    return this.send('metric', { name }) as Promise<MetricValue[]>;
  }
  /** The scheduled metricsJanitor handler, run in this container. */
  janitor(): Promise<JanitorReport> {
    return this.send('janitor', {}) as Promise<JanitorReport>;
  }
  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}

let customers = 0;

/** A load plan per container, for a customer each registers through the real handler. */
export async function loadPlans(containers: FunctionContainer[], productId: number): Promise<{ container: FunctionContainer; plan: LoadPlan }[]> {
  return Promise.all(
    containers.map(async (container) => {
      const name = `fault-${process.pid}-${Date.now().toString(36)}-${++customers}`;
      const reply = await container.call('POST /api/users/register', { body: { email: `${name}@example.com`, password: 'correct-horse', name: 'Fault Tester' } });
      if (reply.status !== 201) throw new Error(`register failed: ${reply.status} ${reply.body}`);
      return { container, plan: { productId, token: (JSON.parse(reply.body) as { token: string }).token, keyPrefix: name } };
    }),
  );
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface FaultTimeline {
  /** Every container's load, merged. */
  records: LoadRecord[];
  /** Epoch ms: the fault began (before `inject`), and the dependency was back (after `repair`). */
  brokenAt: number;
  repairedAt: number;
}

/**
 * Load on every container; `inject` the fault after `warmMs`, `repair` it `faultMs` later, keep the load
 * `recoveryMs` longer, then stop. `duringFault` and `duringRecovery` run beside those waits, load still on.
 */
export async function faultUnderLoad(
  load: { container: FunctionContainer; plan: LoadPlan }[],
  phases: {
    warmMs: number;
    inject: () => Promise<void>;
    faultMs: number;
    duringFault?: () => Promise<void>;
    repair: () => Promise<void>;
    recoveryMs: number;
    duringRecovery?: () => Promise<void>;
  },
): Promise<FaultTimeline> {
  await Promise.all(load.map(({ container, plan }) => container.startLoad(plan)));
  await sleep(phases.warmMs);
  const brokenAt = Date.now();
  await phases.inject();
  await Promise.all([sleep(phases.faultMs), phases.duringFault?.()]);
  await phases.repair();
  const repairedAt = Date.now();
  await Promise.all([sleep(phases.recoveryMs), phases.duringRecovery?.()]);
  const records = (await Promise.all(load.map(({ container }) => container.stopLoad()))).flat();
  return { records, brokenAt, repairedAt };
}

/** Answers by status, e.g. { 200: 812, 201: 401 }. */
export function countByStatus(records: LoadRecord[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const r of records) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}

/** The q-quantile of the records' latencies in ms (q = 1: the slowest), to one decimal. */
export function percentile(records: LoadRecord[], q: number): number {
  const sorted = records.map((r) => r.ms).sort((a, b) => a - b);
  const value = sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  return Math.round(value * 10) / 10;
}
