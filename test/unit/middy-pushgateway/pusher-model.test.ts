// The push design's two invariants, checked against random histories: several containers push to Redis and
// the gateway (both in memory, on one fake clock) while those fail in every way the design allows for.
// (1) After every step, no series' sum over the gateway's groups is above what the containers counted.
// (2) At quiescence (everything up, every container that is still alive invoked once more, every lease
//     and the janitor's run lock lapsed, the janitor run twice), every sum equals what was counted.
// A container is only killed right after a push that met no fault: one killed with counts in no store and
// on no gateway takes them with it, whatever the design.
// Without a gateway (remote write), the sums are taken over Redis's states as the flusher takes them, the
// janitor retires idle groups, and (3) no sum ever goes down: Prometheus would read a counter reset.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { createPusher } from '../../../packages/middy-pushgateway/src/pusher.ts';
import { runJanitor, RUN_LOCK_MS } from '../../../packages/middy-pushgateway/src/janitor.ts';
import { seriesKey, snapshot } from '../../../packages/middy-pushgateway/src/exposition.ts';
import { DEFAULT_JOB as JOB, type GatewayRequest } from '../../../packages/middy-pushgateway/src/gateway.ts';
import { MemorySlotStore, type RedisFault } from '../../support/memory-slot-store.ts';
import { MemoryGateway, type GatewayFault } from '../../support/memory-gateway.ts';

const FN = 'checkout';
const GATEWAY_URL = 'http://gateway.test';
const CONTAINERS = 3;
const MAX_SLOTS = 2; // fewer than the containers: some overflow
const LEASE_TTL_MS = 10_000;
const JANITOR_LEASE_MS = 10_000;
// Real milliseconds: what a hung request costs the run.
const TIMEOUT_MS = 5;
// Whatever the run's clock does, overflow groups must not go stale: the janitor would delete them, counts and all.
const STALE_AFTER_SECONDS = 30 * 24 * 3600;
/** The families the invariants are about: counted by each invocation before it pushes. */
const COUNTED = ['requests_total', 'latency_seconds'];

type Command =
  | { t: 'invoke'; c: number; route: 'a' | 'b'; n: number; observed: number }
  | { t: 'invokeAll' }
  | { t: 'redis'; fault: RedisFault | undefined; after: number }
  | { t: 'redisRestart' }
  | { t: 'gateway'; fault: GatewayFault | undefined; after: number }
  | { t: 'release'; order: number[] }
  | { t: 'gatewayRestart' }
  | { t: 'advance'; ms: number }
  | { t: 'freeze' | 'thaw' | 'kill'; c: number }
  | { t: 'janitor' };

const containerIndex = fc.nat({ max: CONTAINERS - 1 });
const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      t: fc.constant('invoke' as const),
      c: containerIndex,
      route: fc.constantFrom('a' as const, 'b' as const),
      n: fc.integer({ min: 1, max: 3 }),
      // Sums of these are exact in floating point: a histogram's _sum adds up like its counts.
      observed: fc.constantFrom(0.25, 0.5, 2),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ t: 'invokeAll' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('redis' as const),
      fault: fc.constantFrom(undefined, 'refuse' as const, 'drop' as const, 'loseReply' as const),
      after: fc.nat({ max: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ t: 'redisRestart' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({ t: fc.constant('gateway' as const), fault: fc.constantFrom(undefined, 'down' as const, 'hang' as const), after: fc.nat({ max: 3 }) }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('release' as const), order: fc.array(fc.nat({ max: 5 }), { maxLength: 4 }) }) },
  { weight: 2, arbitrary: fc.constant({ t: 'gatewayRestart' as const }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.constantFrom(1000, 4000, 9500, 12_000) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constantFrom('freeze' as const, 'thaw' as const, 'kill' as const), c: containerIndex }) },
  { weight: 2, arbitrary: fc.constant({ t: 'janitor' as const }) },
);

// Without a gateway, idle groups are retired this long after their last store: often, within a history.
const RETIRE_AFTER_SECONDS = 5;

/** Redis, the gateway and the containers of one history; `viaGateway` false: remote write's record, Redis alone. */
function world(pushIntervalMs: number, viaGateway = true) {
  let clock = 1_700_000_000_000;
  const now = () => clock;
  const slots = new MemorySlotStore(now);
  const gateway = new MemoryGateway(now);
  const faults = () => slots.faults + gateway.faults;

  const containers = Array.from({ length: CONTAINERS }, () => {
    const registry = new Registry();
    const requests = new Counter({ name: 'requests_total', help: 'Requests.', labelNames: ['route'] as const, registers: [registry] });
    const latency = new Histogram({ name: 'latency_seconds', help: 'Latency.', labelNames: ['route'] as const, buckets: [0.1, 1], registers: [registry] });
    const pusher = createPusher({
      registry,
      functionName: FN,
      gatewayUrl: viaGateway ? GATEWAY_URL : undefined,
      remoteWrite: !viaGateway,
      timeoutMs: TIMEOUT_MS,
      slots,
      maxSlots: MAX_SLOTS,
      leaseTtlMs: LEASE_TTL_MS,
      reclaimIntervalMs: 3000,
      pushIntervalMs,
      transport: gateway.transport,
      now,
    });
    return { registry, requests, latency, pusher, state: 'running' as 'running' | 'frozen' | 'killed', lastPushClean: true };
  });

  async function invoke(picked: typeof containers, route: 'a' | 'b', n: number, observed: number): Promise<void> {
    const running = picked.filter((c) => c.state === 'running');
    const before = faults();
    await Promise.all(
      running.map(async (c) => {
        c.requests.inc({ route }, n);
        c.latency.observe({ route }, observed);
        await c.pusher.push();
      }),
    );
    for (const c of running) c.lastPushClean = faults() === before;
  }

  // The janitor passes no deadline of its own (a scheduled function's timeout ends it): a hang must not hold the run.
  const janitorTransport = (url: string, request: GatewayRequest = {}) => gateway.transport(url, { ...request, signal: AbortSignal.timeout(TIMEOUT_MS) });
  async function janitor(): Promise<void> {
    const families = (await snapshot(containers[0]!.registry)).families;
    if (!viaGateway) await runJanitor({ slots, staleAfterSeconds: RETIRE_AFTER_SECONDS, now });
    else await runJanitor({ gatewayUrl: GATEWAY_URL, slots, staleAfterSeconds: STALE_AFTER_SECONDS, families, transport: janitorTransport, now });
  }

  async function run(cmd: Command): Promise<void> {
    switch (cmd.t) {
      case 'invoke':
        return invoke([containers[cmd.c]!], cmd.route, cmd.n, cmd.observed);
      case 'invokeAll':
        return invoke(containers, 'a', 1, 0.5);
      case 'redis':
        return slots.setFault(cmd.fault, cmd.after);
      case 'redisRestart':
        return slots.restart();
      case 'gateway':
        return gateway.setFault(cmd.fault, cmd.after);
      case 'release':
        return gateway.release(cmd.order);
      case 'gatewayRestart':
        return gateway.restart();
      case 'advance':
        clock += cmd.ms;
        return;
      case 'freeze':
      case 'thaw': {
        const c = containers[cmd.c]!;
        if (c.state !== 'killed') c.state = cmd.t === 'freeze' ? 'frozen' : 'running';
        return;
      }
      case 'kill': {
        const c = containers[cmd.c]!;
        if (c.lastPushClean) c.state = 'killed';
        return;
      }
      case 'janitor':
        return janitor().catch(() => {}); // Redis or the gateway failing it: the next run does the work
    }
  }

  /**
   * Everything up and the held requests applied; once every lease lapsed, each live container is invoked once
   * more (nothing new counted: it pushes what it still holds); once their leases lapsed, two janitor runs.
   */
  async function quiesce(): Promise<void> {
    slots.setFault(undefined);
    gateway.setFault(undefined);
    gateway.release();
    clock += LEASE_TTL_MS + JANITOR_LEASE_MS;
    for (const c of containers) {
      if (c.state === 'killed') continue;
      c.state = 'running';
      await c.pusher.push();
    }
    // Past the janitor's run lock too: a run whose release was lost holds it until then.
    clock += Math.max(LEASE_TTL_MS + JANITOR_LEASE_MS, RUN_LOCK_MS);
    await janitor();
    await janitor();
  }

  /** Per series of the counted families: what every container counted, and the sum over the gateway's groups. */
  async function sums(): Promise<{ counted: Map<string, number>; shown: Map<string, number> }> {
    const ours = (key: string) => COUNTED.some((family) => key.startsWith(family));
    const counted = new Map<string, number>();
    for (const c of containers) {
      for (const [key, s] of (await snapshot(c.registry)).series) if (ours(key)) counted.set(key, (counted.get(key) ?? 0) + s.value);
    }
    const shown = new Map<string, number>();
    if (viaGateway) for (const [key, n] of gateway.totals(JOB)) ours(key) && shown.set(key, n);
    else {
      // As the flusher sums them: every group's state and the retired totals (whose partials add up to theirs).
      const values = [...slots.state.values()].flat().map(([, name, labels, n]) => [name, labels, [n]] as const);
      const retired = [...slots.retired.values()].flatMap((totals) => [...totals.values()]).map(([, name, labels, partials]) => [name, labels, partials] as const);
      for (const [name, labels, parts] of [...values, ...retired]) {
        const key = seriesKey(name, labels);
        if (ours(key)) shown.set(key, parts.reduce((sum, n) => sum + n, shown.get(key) ?? 0));
      }
    }
    return { counted, shown };
  }

  return { run, quiesce, sums };
}

describe.each([
  { path: 'the Pushgateway', viaGateway: true },
  { path: 'Redis alone (remote write)', viaGateway: false },
])('the push design through $path, against random histories of faults', ({ viaGateway }) => {
  it('never shows more than was counted, and shows exactly that at quiescence', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { maxLength: 40, size: 'max' }), fc.constantFrom(0, 4000), async (commands, pushIntervalMs) => {
        const { run, quiesce, sums } = world(pushIntervalMs, viaGateway);
        let before = new Map<string, number>();
        for (const [step, cmd] of commands.entries()) {
          await run(cmd);
          const { counted, shown } = await sums();
          const above = [...shown].filter(([key, n]) => n > (counted.get(key) ?? 0)).map(([key, n]) => `${key}: ${n} > ${counted.get(key) ?? 0}`);
          expect(above, `after step ${step} (${JSON.stringify(cmd)})`).toEqual([]);
          if (!viaGateway) {
            const down = [...before].filter(([key, n]) => (shown.get(key) ?? 0) < n).map(([key, n]) => `${key}: ${n} -> ${shown.get(key) ?? 0}`);
            expect(down, `a sum went down at step ${step} (${JSON.stringify(cmd)})`).toEqual([]);
            before = shown;
          }
        }
        await quiesce();
        const { counted, shown } = await sums();
        const nonZero = (sums: Map<string, number>) => Object.fromEntries([...sums].filter(([, n]) => n !== 0));
        expect(nonZero(shown), 'at quiescence').toEqual(nonZero(counted));
      }),
      { numRuns: 200 },
    );
  }, 60_000);
});
