// Metrics stored after the response (METRICS_AFTER_RESPONSE), run the way Lambda runs them: the deployed bundles
// in sandboxes of the Lambda emulator (test/support/lambda-emulator.ts), under the real runtime client, with
// real Postgres, Redis and Pushgateway of this suite's own.
// - Freeze safety: no sandbox is ever frozen with a request to Redis or the gateway in flight, although the answer
//   went out before the store; frozen as soon as the runtime alone waits (no extension holding), it would be.
// - Exactness: many sandboxes, frozen for seconds (past their lease), killed right after an invocation's phase,
//   shut down (SIGTERM, then SIGKILL), crashed while idle, the janitor on its schedule: the gateway ends up holding
//   exactly what was answered. Crashes in the middle of an invocation are the one thing that can lose or add that
//   invocation's counts (the client may or may not have had its answer): checked as a bound.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import pg from 'pg';
import { FUNCTION_BUILD } from '../../scripts/support/function-build.ts';
import { httpEvent } from '../../scripts/support/lambda.ts';
import { freePort, requireBinaries } from '../../scripts/servers/process.ts';
import { gatewayBinaryAvailable, PushgatewayProcess } from '../../scripts/servers/pushgateway.ts';
import { PostgresProcess, postgresBin } from '../../scripts/servers/postgres.ts';
import { RedisProcess, redisAvailable } from '../../scripts/servers/redis.ts';
import { parseSeriesKey } from '../../packages/middy-pushgateway/src/exposition.ts';
import { Sandbox, type Invocation, type SandboxOptions } from '../support/lambda-emulator.ts';
import { gatewayTotals } from '../support/gateway-totals.ts';

const LEASE_TTL_MS = 2000;
const JANITOR_PERIOD_MS = 3000;
const QUIET_BOUND_MS = LEASE_TTL_MS + 2 * JANITOR_PERIOD_MS + 5000; // + one janitor run and a sandbox's retry
const ROOT = path.resolve(import.meta.dirname, '../..');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const bin = postgresBin();
const servers = requireBinaries(bin !== undefined && redisAvailable() && gatewayBinaryAvailable(), 'postgres, redis-server and prometheus-pushgateway');

/** The functions under test: entry, route, and the events a client sends them. */
const FUNCTIONS = {
  getProduct: { entry: 'functions/products/get.ts', route: 'GET /api/products/{id}' },
  info: { entry: 'functions/ops/info.ts', route: 'GET /info' },
  janitor: { entry: 'functions/ops/metrics-janitor.ts', route: undefined },
} as const;
type Fn = keyof typeof FUNCTIONS;
/** Each test's functions are named apart, so that its groups on the gateway are its own. */
const fnName = (fn: Fn, run: string) => `${run}-${fn}`;

describe.runIf(servers)('metrics stored after the response, in Lambda sandboxes', () => {
  let postgres: PostgresProcess;
  let redis: RedisProcess;
  let gateway: PushgatewayProcess;
  let bundles: string;
  let productId: number;
  const report: string[] = [];

  beforeAll(async () => {
    postgres = await PostgresProcess.create(bin!);
    const { prepareDatabase } = await import('../../lib/db/prepare.ts');
    await prepareDatabase(postgres.url);
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    productId = Number((await client.query<{ id: number }>('SELECT id FROM products ORDER BY id LIMIT 1')).rows[0]!.id);
    await client.end();
    redis = await RedisProcess.create();
    gateway = new PushgatewayProcess(await freePort());
    await gateway.start();
    bundles = await mkdtemp(path.join(os.tmpdir(), 'shop-emulated-'));
    await writeFile(path.join(bundles, 'package.json'), JSON.stringify({ type: 'module' }) + '\n');
    for (const [fn, { entry }] of Object.entries(FUNCTIONS)) {
      await build({ ...FUNCTION_BUILD, absWorkingDir: ROOT, entryPoints: [path.join(ROOT, entry)], outfile: path.join(bundles, `${fn}.js`), logLevel: 'silent' });
    }
  }, 120_000);

  afterAll(async () => {
    await gateway?.stop();
    await redis?.destroy();
    await postgres?.destroy();
    if (bundles) await rm(bundles, { recursive: true, force: true });
    console.log(`after-response sandboxes:\n${report.join('\n')}`);
  });

  function options(fn: Fn, run: string, extra: Partial<SandboxOptions> = {}, env: Record<string, string> = {}): SandboxOptions {
    return {
      functionName: fnName(fn, run),
      taskRoot: bundles,
      handler: `${fn}.handler`,
      timeoutMs: fn === 'janitor' ? 30_000 : 10_000,
      env: {
        DATABASE_URL: postgres.url,
        REDIS_URL: redis.url,
        PUSHGATEWAY_URL: gateway.url,
        JWT_SECRET: 'emulated-sandboxes-secret-of-at-least-32-chars',
        METRICS_AFTER_RESPONSE: 'true',
        METRICS_LEASE_TTL_MS: String(LEASE_TTL_MS),
        METRICS_SLOTS: '6',
        METRICS_PUSH_INTERVAL_MS: '1000',
        METRICS_STALE_AFTER_SECONDS: '3600',
        PUSH_TIMEOUT_MS: '2000',
        LOG_LEVEL: 'warn',
        ...env,
      },
      ...extra,
    };
  }

  function eventFor(fn: Fn, i: number) {
    if (fn === 'info') return httpEvent('GET /info');
    // Every fifth a product that does not exist: a 404 is counted like any answer.
    return httpEvent('GET /api/products/{id}', { params: { id: String(i % 5 === 0 ? 999_999 : productId) } });
  }

  it('never freezes a sandbox with a store in flight; without the extension holding, it would', async () => {
    // Every request through Redis and the gateway takes 2 × 5 ms more: long enough for a freeze to catch it.
    const watch = { REDIS_URL: 5, PUSHGATEWAY_URL: 5 };
    const inFlightAtFreezes = async (run: string, extra: Partial<SandboxOptions>) => {
      const sandbox = await Sandbox.start(options('getProduct', run, { watch, ...extra }, { METRICS_PUSH_INTERVAL_MS: '0' }));
      const busyAfter: number[] = [];
      try {
        for (let i = 1; i <= 20; i++) {
          const invocation = await sandbox.invoke(eventFor('getProduct', i));
          expect(invocation.outcome, sandbox.output).toBe('answered');
          await sandbox.whenIdle();
          busyAfter.push(invocation.doneAt! - invocation.answeredAt!);
        }
        const afterInvocations = sandbox.freezes.filter((f) => f.after !== undefined);
        return {
          extensions: sandbox.extensionCount,
          caught: afterInvocations.filter((f) => Object.values(f.inFlight).some((n) => n > 0)).length,
          freezes: afterInvocations.length,
          busyAfterP50: busyAfter.sort((a, b) => a - b)[busyAfter.length >> 1]!,
        };
      } finally {
        await sandbox.close();
      }
    };

    const held = await inFlightAtFreezes('held', {});
    const unheld = await inFlightAtFreezes('unheld', { freezeWithoutExtensions: true });
    report.push(
      `freeze safety (Redis and gateway 10 ms per round trip, a POST after every invocation): with the extension ${held.caught} of ${held.freezes} freezes caught a request in flight, ` +
        `busy after the response p50 ${held.busyAfterP50.toFixed(1)} ms; frozen without waiting for it ${unheld.caught} of ${unheld.freezes}`,
    );
    expect(held.extensions).toBe(1);
    expect(held.caught).toBe(0);
    // The answer went out before the store: the phase went on after it for at least a Redis round trip.
    expect(held.busyAfterP50).toBeGreaterThanOrEqual(10);
    expect(unheld.caught).toBeGreaterThan(unheld.freezes / 2);
  });

  it('sends nothing before the answer with the extension; stores before answering without it', async () => {
    // GET /info touches neither Redis nor the gateway: whatever the sandbox sends them is the metrics' push.
    const sentBeforeAnswers = async (afterResponse: boolean) => {
      const run = afterResponse ? 'after' : 'awaited';
      const sandbox = await Sandbox.start(options('info', run, { watch: { REDIS_URL: 5, PUSHGATEWAY_URL: 5 } }, { METRICS_AFTER_RESPONSE: String(afterResponse), METRICS_PUSH_INTERVAL_MS: '0' }));
      try {
        let sent = 0;
        for (let i = 1; i <= 10; i++) {
          const invocation = await sandbox.invoke(eventFor('info', i));
          expect(invocation.outcome, sandbox.output).toBe('answered');
          await sandbox.whenIdle();
          // Not the first: the Redis client's ready check, begun at init and frozen with it, goes out then.
          const during = (t: number) => i > 1 && t > invocation.startedAt && t < invocation.answeredAt!;
          sent += [...sandbox.requestTimes('REDIS_URL'), ...sandbox.requestTimes('PUSHGATEWAY_URL')].filter(during).length;
        }
        expect(sandbox.freezes.filter((f) => f.after !== undefined && (f.inFlight.REDIS_URL! > 0 || f.inFlight.PUSHGATEWAY_URL! > 0))).toEqual([]);
        return { extensions: sandbox.extensionCount, sent };
      } finally {
        await sandbox.close();
      }
    };
    const after = await sentBeforeAnswers(true);
    const awaited = await sentBeforeAnswers(false);
    report.push(`requests to Redis and the gateway before the answer, 9 warm invocations: after the response ${after.sent}, awaited ${awaited.sent}`);
    expect(after).toEqual({ extensions: 1, sent: 0 });
    expect(awaited.extensions).toBe(0);
    expect(awaited.sent).toBeGreaterThanOrEqual(9);
  });

  /** Answers by function and status: what the gateway must add up to. */
  class Truth {
    readonly answered = new Map<string, number>();
    readonly run: string;
    constructor(run: string) {
      this.run = run;
    }
    add(fn: Fn, invocation: Invocation): void {
      if (invocation.outcome !== 'answered') return;
      const status = String((invocation.payload as { statusCode: number }).statusCode);
      const key = `${fnName(fn, this.run)} ${status}`;
      this.answered.set(key, (this.answered.get(key) ?? 0) + 1);
    }
  }

  /** http_requests_total on the gateway of one run's functions, by function and status, as Truth keys it. */
  async function onGateway(run: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const [key, value] of (await gatewayTotals(gateway.url)).sums) {
      const { metricName, labels } = parseSeriesKey(key);
      if (metricName !== 'http_requests_total' || value === 0 || !labels.function!.startsWith(`${run}-`)) continue;
      const k = `${labels.function} ${labels.status_code}`;
      out.set(k, (out.get(k) ?? 0) + value);
    }
    return out;
  }

  const differences = (a: Map<string, number>, b: Map<string, number>) =>
    [...new Set([...a.keys(), ...b.keys()])].filter((k) => (a.get(k) ?? 0) !== (b.get(k) ?? 0)).map((k) => `${k}: gateway ${a.get(k) ?? 0}, answered ${b.get(k) ?? 0}`);

  /**
   * Clients invoking through a fleet of sandboxes per function, with the faults `fault` picks after each
   * invocation, while the janitor runs in a sandbox of its own every JANITOR_PERIOD_MS.
   */
  async function fleetRun(name: string, plan: { durationMs: number; clients: number; maxPerFunction: number; crash?: { everyMs: number; idleOnly: boolean } }, truth: Truth) {
    const idle: Record<'getProduct' | 'info', Sandbox[]> = { getProduct: [], info: [] };
    const all = new Set<Sandbox>();
    /** Sandboxes a client is using (invoking, or shutting down): an idle-only crash leaves them alone. */
    const inUse = new Set<Sandbox>();
    const counts = { invocations: 0, parked: 0, killedAfter: 0, shutdown: 0, graceful: 0, crashedIdle: 0, crashedBeforeAnswer: 0, crashedAfterAnswer: 0, started: 0 };
    const stopAt = performance.now() + plan.durationMs;
    let running = true;

    const acquire = async (fn: 'getProduct' | 'info'): Promise<Sandbox> => {
      for (;;) {
        const sandbox = idle[fn].shift();
        if (sandbox && sandbox.state === 'frozen') return sandbox;
        if (!sandbox && [...all].filter((s) => s.options.functionName === fnName(fn, truth.run) && s.state !== 'dead').length < plan.maxPerFunction) {
          counts.started++;
          const started = await Sandbox.start(options(fn, truth.run));
          all.add(started);
          return started;
        }
        if (!sandbox) await sleep(5);
      }
    };
    const release = (fn: 'getProduct' | 'info', sandbox: Sandbox) => {
      if (sandbox.state !== 'dead') idle[fn].push(sandbox);
    };

    const client = async (c: number) => {
      const fn = c % 3 === 0 ? 'info' : 'getProduct';
      for (let i = 0; running && performance.now() < stopAt; i++) {
        const sandbox = await acquire(fn);
        inUse.add(sandbox);
        const invocation = await sandbox.invoke(eventFor(fn, i));
        truth.add(fn, invocation);
        counts.invocations++;
        await sandbox.whenIdle();
        const dice = Math.random();
        if (dice < 0.04) {
          counts.killedAfter++;
          sandbox.kill(); // right after the phase that answered: before the sandbox could do anything else
        } else if (dice < 0.08) {
          counts.shutdown++;
          if (await sandbox.shutdown()) counts.graceful++;
        } else if (dice < 0.2) {
          counts.parked++; // frozen for seconds, often past its lease: another sandbox may take its slot meanwhile
          inUse.delete(sandbox);
          setTimeout(() => release(fn, sandbox), 1000 + Math.random() * 4000);
        } else {
          inUse.delete(sandbox);
          release(fn, sandbox);
        }
      }
    };

    /** Invocations a crash cut. Told apart once settled: a response the runtime had posted may still reach its
     * client after the kill (the emulator reads it), though its push never started. */
    const cut: Invocation[] = [];
    const crasher = async () => {
      while (plan.crash && running && performance.now() < stopAt) {
        await sleep(plan.crash.everyMs * (0.5 + Math.random()));
        const live = [...all].filter((s) => (plan.crash!.idleOnly ? s.state === 'frozen' && !inUse.has(s) : s.state !== 'dead'));
        const victim = live[Math.floor(Math.random() * live.length)];
        if (!victim) continue;
        if (victim.state === 'running') cut.push(victim.invocations.at(-1)!);
        else counts.crashedIdle++;
        victim.kill();
      }
    };

    const janitor = await Sandbox.start(options('janitor', truth.run));
    const janitorLoop = (async () => {
      while (running) {
        await sleep(JANITOR_PERIOD_MS);
        const run = await janitor.invoke({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} });
        if (run.outcome !== 'answered') throw new Error(`janitor run ${run.outcome}: ${janitor.output}`);
        await janitor.whenIdle();
      }
    })();

    try {
      await Promise.all([...Array.from({ length: plan.clients }, (_, c) => client(c)), crasher()]);
      counts.crashedAfterAnswer = cut.filter((invocation) => invocation.outcome === 'answered').length;
      counts.crashedBeforeAnswer = cut.length - counts.crashedAfterAnswer;
      // Quiet: idle holders' leases lapse, and the janitor brings every group up to what Redis holds.
      const quietFrom = performance.now();
      let diff: string[] = [];
      let shown = new Map<string, number>();
      for (;;) {
        shown = await onGateway(truth.run);
        diff = differences(shown, truth.answered);
        if (diff.length === 0 || performance.now() - quietFrom > QUIET_BOUND_MS) break;
        await sleep(500);
      }
      const after = ((performance.now() - quietFrom) / 1000).toFixed(1);
      const total = (m: Map<string, number>) => [...m.values()].reduce((n, v) => n + v, 0);
      report.push(
        `${name}: ${JSON.stringify(counts)}; gateway ${total(shown)}, answered ${total(truth.answered)}, ` +
          (diff.length === 0 ? `exact ${after} s after the last answer` : `not exact ${after} s after the last answer`),
      );
      return { counts, diff, shown: total(shown), answered: total(truth.answered) };
    } finally {
      running = false;
      await janitorLoop.catch((err: unknown) => report.push(`${name}: ${String(err)}`));
      await janitor.close();
      for (const sandbox of all) await sandbox.close();
    }
  }

  it('ends exact: sandboxes frozen for seconds, killed right after answering, shut down, crashed while idle', async () => {
    const truth = new Truth('faults');
    const { counts, diff } = await fleetRun('Lambda-shaped faults', { durationMs: 20_000, clients: 6, maxPerFunction: 4, crash: { everyMs: 1500, idleOnly: true } }, truth);
    expect(Math.min(counts.parked, counts.killedAfter, counts.shutdown, counts.crashedIdle)).toBeGreaterThan(0);
    expect(counts.graceful).toBe(counts.shutdown);
    expect(diff).toEqual([]);
  }, 180_000);

  it('stays within what crashes in the middle of invocations can lose or add', async () => {
    const truth = new Truth('crashes');
    const { counts, shown, answered } = await fleetRun('crashes at random points', { durationMs: 15_000, clients: 6, maxPerFunction: 4, crash: { everyMs: 700, idleOnly: false } }, truth);
    // Per crash, at most the one invocation it cut: counted and never answered, or answered and never stored.
    expect(shown).toBeGreaterThanOrEqual(answered - counts.crashedAfterAnswer);
    expect(shown).toBeLessThanOrEqual(answered + counts.crashedBeforeAnswer);
  }, 180_000);
});

