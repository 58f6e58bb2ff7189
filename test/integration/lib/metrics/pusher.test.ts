// The pusher's rules, one at a time, against a real Pushgateway and a slot store whose failures we control.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Counter, Gauge, Registry } from 'prom-client';
import { createPusher } from '../../../../packages/middy-pushgateway/src/pusher.ts';
import { runJanitor } from '../../../../packages/middy-pushgateway/src/janitor.ts';
import { snapshot } from '../../../../packages/middy-pushgateway/src/exposition.ts';
import { MemorySlotStore } from '../../../support/memory-slot-store.ts';
import { familyTotal, gatewayGroups } from '../../../../scripts/support/gateway.ts';
import { unique } from '../../../support/fixtures.ts';
import { watchGatewayPosts } from '../../../../scripts/support/gateway-posts.ts';
import { PushgatewayProcess, gatewayBinaryAvailable } from '../../../../scripts/servers/pushgateway.ts';
import { freePort } from '../../../../scripts/servers/process.ts';

let gatewayUrl: string | undefined;

function container(fn: string, slots: MemorySlotStore | undefined, { gateway = gatewayUrl!, pushIntervalMs = 0, maxSlots = 4, leaseTtlMs = 60_000 } = {}) {
  const registry = new Registry();
  const requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests answered.', labelNames: ['route'] as const, registers: [registry] });
  const memory = new Gauge({ name: 'process_resident_memory_bytes', help: 'Resident memory.', registers: [registry] });
  const pusher = createPusher({ registry, functionName: fn, gatewayUrl: gateway, timeoutMs: 1000, slots, maxSlots, leaseTtlMs, pushIntervalMs, reclaimIntervalMs: 60_000 });
  return { registry, requests, memory, pusher };
}

/** Runs `work` while recording the body of every POST it sends. */
async function capturingPosts(work: () => Promise<void>): Promise<string[]> {
  const sent: string[] = [];
  const unwatch = watchGatewayPosts((body) => sent.push(body));
  try {
    await work();
  } finally {
    unwatch();
  }
  return sent;
}

const total = async (fn: string) => familyTotal(await gatewayGroups(gatewayUrl!, fn), 'http_requests_total');

describe.runIf(gatewayBinaryAvailable() || process.env.CI)('the pusher', () => {
  let gateway: PushgatewayProcess;
  beforeAll(async () => {
    gateway = new PushgatewayProcess(await freePort());
    await gateway.start();
    gatewayUrl = gateway.url;
  });
  afterAll(async () => gateway.stop());

  it('pushes zeros first to a fresh slot, so increase() sees the first request', async () => {
    const fn = unique('zeros');
    const c = container(fn, new MemorySlotStore());
    const sent = await capturingPosts(async () => {
      c.requests.inc({ route: '/a' });
      await c.pusher.push();
    });
    expect(sent).toHaveLength(2);
    expect(sent[0]).toContain('http_requests_total{route="/a"} 0');
    expect(sent[1]).toContain('http_requests_total{route="/a"} 1');
  });

  it('continues a slot from its stored values when another container takes it over', async () => {
    const fn = unique('continue');
    const slots = new MemorySlotStore();
    const first = container(fn, slots);
    first.requests.inc({ route: '/a' }, 5);
    await first.pusher.push();
    slots.expire(fn, 0); // the first container is gone, its lease ran out

    const second = container(fn, slots);
    second.requests.inc({ route: '/a' }, 2);
    await second.pusher.push();

    expect(second.pusher.status().instance).toBe(`${fn}-0`);
    expect(await total(fn)).toBe(7); // 5 + 2: the slot never went backwards
  });

  it('carries increments it never recorded into a new slot when it loses its lease', async () => {
    const fn = unique('carry');
    const slots = new MemorySlotStore();
    const c = container(fn, slots);
    c.requests.inc({ route: '/a' }, 3);
    await c.pusher.push(); // slot 0 holds 3
    slots.steal(fn, 0); // frozen too long: slot 0 is someone else's now

    c.requests.inc({ route: '/a' }, 4);
    await c.pusher.push();

    expect(c.pusher.status().instance).toBe(`${fn}-1`);
    const groups = await gatewayGroups(gatewayUrl!, fn);
    const byInstance = Object.fromEntries(groups.map((g) => [g.labels.instance, familyTotal([g], 'http_requests_total')]));
    expect(byInstance).toEqual({ [`${fn}-0`]: 3, [`${fn}-1`]: 4 }); // nothing counted twice, nothing lost
  });

  it('keeps its slot while Redis is down and its lease is valid by its own clock', async () => {
    const fn = unique('redis-down');
    const slots = new MemorySlotStore();
    const c = container(fn, slots);
    c.requests.inc({ route: '/a' });
    await c.pusher.push();
    slots.down = true;
    c.requests.inc({ route: '/a' });
    await c.pusher.push();
    expect(c.pusher.status()).toEqual(expect.objectContaining({ instance: `${fn}-0`, lastPushOk: true }));
    expect(await total(fn)).toBe(2);
  });

  it('pushes to an overflow group when every slot is taken, and counts it', async () => {
    const fn = unique('overflow');
    const slots = new MemorySlotStore();
    for (let slot = 0; slot < 4; slot++) slots.steal(fn, slot);
    const c = container(fn, slots);
    c.requests.inc({ route: '/a' }, 2);
    await c.pusher.push();
    expect(c.pusher.status()).toEqual(expect.objectContaining({ target: 'overflow' }));
    expect(c.pusher.status().instance).toMatch(new RegExp(`^${fn}-overflow-`));
    const overflow = (await c.registry.getSingleMetric('metrics_slot_overflow_total')!.get()).values[0]!.value;
    expect(overflow).toBe(1);
    expect(await total(fn)).toBe(2);
  });

  it('sends only the families that changed since the last push', async () => {
    // Prepare: a registry with families that will not change after the first push
    const fn = unique('changed');
    const c = container(fn, undefined);
    for (let n = 0; n < 10; n++) new Counter({ name: `static_${n}_total`, help: 'Never changes.', registers: [c.registry] }).inc(n);
    c.requests.inc({ route: '/a' });
    c.memory.set(100);
    await c.pusher.push();
    // Act
    const sent = await capturingPosts(async () => {
      c.requests.inc({ route: '/a' });
      await c.pusher.push();
    });
    // Assess
    expect(sent).toHaveLength(1);
    expect(sent[0]).toContain('http_requests_total{route="/a"} 2');
    expect(sent[0]).not.toContain('static_');
    expect(sent[0]).not.toContain('process_resident_memory_bytes');
    expect(Buffer.byteLength(sent[0]!)).toBeLessThan(Buffer.byteLength(await c.registry.metrics()));
  });

  it('sends a slot to the gateway at most once per interval, with every invocation stored in Redis meanwhile', async () => {
    // Prepare
    const fn = unique('interval');
    const slots = new MemorySlotStore();
    const c = container(fn, slots, { pushIntervalMs: 60_000 });
    // Act
    const sent = await capturingPosts(async () => {
      for (let n = 0; n < 5; n++) {
        c.requests.inc({ route: '/a' });
        await c.pusher.push();
      }
    });
    // Assess: the first invocation sends (zeros, then its values); the other four are stored, not sent
    expect(sent).toHaveLength(2);
    expect(c.pusher.status()).toEqual(expect.objectContaining({ pushes: 1, deferred: 4, failures: 0 }));
    expect(await total(fn)).toBe(1);
    expect(slots.state.get(`${fn}:0`)?.find(([, name]) => name === 'http_requests_total')?.[3]).toBe(5);
    // The holder is gone and its lease lapsed: the janitor puts what it never sent on the gateway
    slots.expire(fn, 0);
    const report = await runJanitor({ gatewayUrl: gatewayUrl!, slots, staleAfterSeconds: 3600, families: (await snapshot(c.registry)).families, onlyFunction: fn });
    expect(report.healed).toEqual([`${fn}-0`]);
    expect(await total(fn)).toBe(5);
  });

  it('sends at once, whatever the interval, what Redis could not store', async () => {
    const fn = unique('interval-unstored');
    const slots = new MemorySlotStore();
    const c = container(fn, slots, { pushIntervalMs: 60_000 });
    c.requests.inc({ route: '/a' });
    await c.pusher.push();
    c.requests.inc({ route: '/a' });
    await c.pusher.push(); // stored, not sent
    expect(await total(fn)).toBe(1);
    // Act: Redis goes down while the lease is still valid by our own clock
    slots.down = true;
    c.requests.inc({ route: '/a' });
    await c.pusher.push();
    // Assess: the increment Redis refused goes to our own group at once; the slot is only ever shown what Redis
    // holds (2), at its next POST or by the janitor
    const groups = await gatewayGroups(gatewayUrl!, fn);
    expect(familyTotal(groups.filter((g) => g.labels.instance === `${fn}-0`), 'http_requests_total')).toBe(1);
    expect(await total(fn)).toBe(2);
    expect(c.pusher.status()).toEqual(expect.objectContaining({ pushes: 2, deferred: 1, target: 'slot' }));
  });

  /**
   * Four requests, each pushed: the second's store reaches Redis but its answer does not (Redis goes down), the
   * lease then runs out by our own clock (a short lease), so the third goes to an overflow group; Redis is back
   * for the fourth. `meanwhile` changes what Redis kept before it comes back. Returns the gateway's total once
   * the janitor has put the slot's stored state up.
   */
  async function lostReplyRun(meanwhile: (fn: string, slots: MemorySlotStore) => void): Promise<{ total: number; target: string }> {
    const fn = unique('lost-reply');
    const slots = new MemorySlotStore();
    const { registry, requests, pusher } = container(fn, slots, { maxSlots: 1, leaseTtlMs: 1200 });
    const request = async () => {
      requests.inc({ route: '/a' });
      await pusher.push();
    };
    await request();
    slots.loseNextReply = true;
    await request();
    meanwhile(fn, slots);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await request();
    slots.down = false;
    await request();
    slots.expire(fn, 0);
    await runJanitor({ gatewayUrl: gatewayUrl!, slots, staleAfterSeconds: 3600, families: (await snapshot(registry)).families, onlyFunction: fn });
    return { total: await total(fn), target: pusher.status().target };
  }

  it('counts once a store whose reply was lost, though it moved on to another group before knowing', async () => {
    // The second store did land: the overflow group must not get the second request again
    expect(await lostReplyRun(() => {})).toEqual({ total: 4, target: 'overflow' });
  });

  it('carries a store whose reply was lost when Redis says it never landed', async () => {
    // Redis came back without that store (say, restarted from a snapshot taken before it)
    const forget = (fn: string, slots: MemorySlotStore) => {
      slots.written.clear();
      slots.state.set(`${fn}:0`, slots.state.get(`${fn}:0`)!.map(([family, name, labels, value]) => [family, name, labels, name === 'http_requests_total' ? 1 : value]));
    };
    expect(await lostReplyRun(forget)).toEqual({ total: 4, target: 'overflow' });
  });

  it('never throws and stays within its timeout when the gateway does not answer', async () => {
    const net = await import('node:net');
    const silent = net.createServer(() => {}); // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as import('node:net').AddressInfo;
    try {
      const registry = new Registry();
      new Counter({ name: 'http_requests_total', help: 'HTTP requests answered.', registers: [registry] }).inc(); // something to send
      const pusher = createPusher({ registry, functionName: unique('silent'), gatewayUrl: `http://127.0.0.1:${port}`, timeoutMs: 150, maxSlots: 1, leaseTtlMs: 1000 });
      const started = performance.now();
      await pusher.push();
      const elapsed = performance.now() - started;
      expect(pusher.status()).toEqual(expect.objectContaining({ lastPushOk: false, failures: 1 }));
      expect(elapsed).toBeLessThan(400);
    } finally {
      silent.close();
    }
  });
});
