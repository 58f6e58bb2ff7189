// The remote-write flusher against a real Prometheus (its own, started here with the remote-write receiver on)
// and the real Redis: the groups' states stored as the pusher stores them, flushed, and read back with PromQL.
// The fleet's sums must be exact, a request sent twice (a retry after a lost answer) must count once, and a
// run with nothing new must still write (idle series stay within the lookback).
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis, type RedisConnection } from '../../../../lib/redis.ts';
import { createRedisSlotStore, type Lease, type SlotStore, type StoredSeries } from '../../../../packages/middy-pushgateway/src/slots.ts';
import { flushFleet, type FlushOptions } from '../../../../packages/middy-pushgateway/src/flusher.ts';
import { runJanitor } from '../../../../packages/middy-pushgateway/src/janitor.ts';
import { postWriteRequest, RemoteWriteError } from '../../../../packages/middy-pushgateway/src/remote-write.ts';
import { seriesKey } from '../../../../packages/middy-pushgateway/src/exposition.ts';
import { prometheusLaunch } from '../../../../scripts/servers/prometheus.ts';
import { freePort, onPath, requireBinaries, ServerProcess } from '../../../../scripts/servers/process.ts';
import { unique } from '../../../support/fixtures.ts';

const redisUrl = process.env.REDIS_URL;
const prometheusAvailable = requireBinaries(onPath('prometheus'), 'prometheus (the Debian package)');

interface Result {
  metric: Record<string, string>;
  value: [number, string];
}

const COUNTER = 'http_requests_total';
const HISTOGRAM = 'http_request_duration_seconds';
const LEASE_MS = 60_000;

/** A histogram's stored series for one route: two buckets, sum and count (values exact in binary). */
const histogram = (route: string, fast: number, all: number, sum: number): StoredSeries[] => [
  [HISTOGRAM, `${HISTOGRAM}_bucket`, { route, le: '0.1' }, fast],
  [HISTOGRAM, `${HISTOGRAM}_bucket`, { route, le: '+Inf' }, all],
  [HISTOGRAM, `${HISTOGRAM}_sum`, { route }, sum],
  [HISTOGRAM, `${HISTOGRAM}_count`, { route }, all],
];
const counter = (route: string, value: number): StoredSeries => [COUNTER, COUNTER, { route }, value];

describe.runIf(redisUrl && prometheusAvailable)('remote-write flusher into a real Prometheus', () => {
  let dir: string;
  let prometheus: ServerProcess;
  let base: string;
  let connection: RedisConnection;
  let slots: SlotStore;
  const job = unique('rw');
  const retiringJob = unique('rw-retire');

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'shop-rw-prometheus-'));
    const config = path.join(dir, 'prometheus.yml');
    await writeFile(config, 'global:\n  scrape_interval: 1m\nscrape_configs: []\n'); // it only receives
    const port = await freePort();
    prometheus = await ServerProcess.start(prometheusLaunch(port, config, path.join(dir, 'data'), { remoteWriteReceiver: true }));
    base = `http://127.0.0.1:${port}`;
    connection = connectRedis(redisUrl!, 1000);
    slots = createRedisSlotStore(connection.redis, job);
  });
  afterAll(async () => {
    if (connection) {
      for (const name of [job, retiringJob]) {
        const keys = await connection.redis.keys(`metrics:${encodeURIComponent(name)}:*`).catch(() => []);
        if (keys.length > 0) await connection.redis.del(...keys).catch(() => {});
      }
      connection.release();
    }
    await prometheus?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function query(promql: string, atMs: number): Promise<Result[]> {
    const url = new URL('/api/v1/query', base);
    url.searchParams.set('query', promql);
    url.searchParams.set('time', (atMs / 1000).toFixed(3));
    const body = (await (await fetch(url)).json()) as { status: string; error?: string; data: { result: Result[] } };
    if (body.status !== 'success') throw new Error(`${promql}: ${body.error}`);
    return body.data.result;
  }

  /** Every series of the job at `atMs`, keyed by function and series (name and labels without job/function). */
  async function written(atMs: number, of = job): Promise<Map<string, number>> {
    const results = await query(`{job="${of}", instance=""}`, atMs);
    for (const r of results) expect(r.metric.instance).toBeUndefined();
    return new Map(
      results.map(({ metric: { __name__: name, job: _job, function: fn, ...labels }, value }) => [`${fn} ${seriesKey(name!, labels)}`, Number(value[1])]),
    );
  }

  /** What the flusher should write: every stored series summed per function. */
  function sums(states: Map<string, { fn: string; values: StoredSeries[] }>): Map<string, number> {
    const out = new Map<string, number>();
    for (const { fn, values } of states.values()) {
      for (const [, name, labels, value] of values) {
        const key = `${fn} ${seriesKey(name, labels)}`;
        out.set(key, (out.get(key) ?? 0) + value);
      }
    }
    return out;
  }

  it('writes the exact sums, counts a repeated request once, and writes again when nothing changed', async () => {
    // Prepare: two functions; two slots and an overflow group of the first, a slot of the second
    await slots.saveFamilies([
      { name: COUNTER, type: 'counter', help: 'Requests.' },
      { name: HISTOGRAM, type: 'histogram', help: 'Durations.' },
    ]);
    const [orders, users] = [unique('orders'), unique('users')];
    const leases = new Map<string, { fn: string; lease: Lease; overflow: boolean; writes: number }>();
    const states = new Map<string, { fn: string; values: StoredSeries[] }>();
    const take = async (name: string, fn: string, overflow: boolean) => {
      const lease = overflow
        ? { id: `overflow-${randomUUID().slice(0, 8)}`, token: randomUUID(), validUntil: 0 }
        : (await slots.claim(fn, 4, LEASE_MS, randomUUID()))!;
      leases.set(name, { fn, lease, overflow, writes: 0 });
    };
    // Stores a group's whole state, as its holder does.
    const store = async (name: string, values: StoredSeries[]) => {
      const held = leases.get(name)!;
      expect(await slots.renewAndStore(held.fn, held.lease, LEASE_MS, values, ++held.writes, held.overflow)).toBe(true);
      states.set(name, { fn: held.fn, values });
    };
    await take('orders-a', orders, false);
    await take('orders-b', orders, false);
    await take('orders-overflow', orders, true);
    await take('users-a', users, false);
    await store('orders-a', [counter('/orders', 3), counter('/cart', 1), ...histogram('/orders', 2, 3, 0.25)]);
    await store('orders-b', [counter('/orders', 5), ...histogram('/orders', 4, 5, 1.5)]);
    await store('orders-overflow', [counter('/orders', 1), ...histogram('/orders', 0, 1, 2.125)]);
    await store('users-a', [counter('/login', 7), ...histogram('/login', 7, 7, 0.5)]);
    // Every attempt's body, and a receiver whose first answer to each run is lost after it took the request
    const bodies: Uint8Array[] = [];
    let loseNext = true;
    const transport: FlushOptions['transport'] = async (url, body, options) => {
      bodies.push(body);
      await postWriteRequest(url, body, options);
      if (loseNext) {
        loseNext = false;
        throw new RemoteWriteError('answer lost', 503);
      }
    };
    const flush = (now?: () => number) => {
      loseNext = true;
      return flushFleet({ slots, url: `${base}/api/v1/write`, transport, timeoutMs: 5000, now });
    };

    // Act 1: the first run, its request sent twice
    const first = await flush();
    // Assess 1
    expect(first).toMatchObject({ groups: 4, attempts: 2 });
    expect(first.series).toBe(sums(states).size);
    expect(Buffer.from(bodies[1]!).equals(Buffer.from(bodies[0]!))).toBe(true);
    expect(await written(first.timestamp!)).toEqual(sums(states));

    // Act 2: values grow in one slot and the overflow group, a new series appears; then a run
    await store('orders-a', [counter('/orders', 10), counter('/cart', 2), ...histogram('/orders', 6, 8, 0.75)]);
    await store('orders-overflow', [counter('/orders', 2), counter('/refund', 1), ...histogram('/orders', 1, 2, 2.625)]);
    const second = await flush();
    // Assess 2
    expect(second.timestamp!).toBeGreaterThan(first.timestamp!);
    expect(await written(second.timestamp!)).toEqual(sums(states));
    expect(await written(first.timestamp!)).not.toEqual(sums(states)); // the first run's samples are still there

    // Act 3: a run with nothing new, by a runner whose clock is a minute behind
    const third = await flush(() => second.timestamp! - 60_000);
    // Assess 3: written anyway, 1 ms after the last
    expect(third.timestamp).toBe(second.timestamp! + 1);
    expect(await written(third.timestamp!)).toEqual(sums(states));
    // One sample per run per series, though every run's request arrived twice
    const samples = await query(`count_over_time({job="${job}", __name__="${COUNTER}", function="${orders}", route="/orders"}[1h])`, third.timestamp!);
    expect(samples.map((r) => Number(r.value[1]))).toEqual([3]);
    expect(await slots.nextTimestamp(0)).toBe(third.timestamp! + 1); // the last one recorded is the third run's

    // Act 4: an old request arriving late (after newer runs) is refused whole, and is not retried
    const late = postWriteRequest(`${base}/api/v1/write`, bodies[0]!);
    // Assess 4
    await expect(late).rejects.toMatchObject({ status: 400, retryable: false });
    expect(await written(third.timestamp!)).toEqual(sums(states));
  });

  it('retires idle groups without changing a written sum, refuses their holders, and writes fresh gauge readings per instance', async () => {
    // Prepare: two slots and an overflow group of one function, each with gauge readings, the overflow group's
    // 20 minutes old; durations whose float sum depends on its order (0.1 + 0.2 + 0.3)
    const store = createRedisSlotStore(connection.redis, retiringJob);
    const fn = unique('orders');
    const slot = (await store.claim(fn, 4, LEASE_MS, randomUUID()))!;
    const held = (await store.claim(fn, 4, LEASE_MS, randomUUID()))!;
    const overflow = { id: `overflow-${randomUUID().slice(0, 8)}`, token: randomUUID(), validUntil: 0 };
    const slotValues = [counter('/orders', 3), ...histogram('/orders', 2, 3, 0.1)];
    const heldValues = [counter('/orders', 4), ...histogram('/orders', 4, 4, 0.3)];
    const overflowValues = [counter('/orders', 2), ...histogram('/orders', 1, 2, 0.2)];
    expect(await store.renewAndStore(fn, slot, LEASE_MS, slotValues, 1, false)).toBe(true);
    expect(await store.renewAndStore(fn, held, LEASE_MS, heldValues, 1, false)).toBe(true);
    expect(await store.renewAndStore(fn, overflow, LEASE_MS, overflowValues, 1, true)).toBe(true);
    const memory = (bytes: number): StoredSeries[] => [['process_resident_memory_bytes', 'process_resident_memory_bytes', {}, bytes]];
    await store.storeGauges(fn, slot.id, memory(100), Date.now());
    await store.storeGauges(fn, overflow.id, memory(50), Date.now() - 20 * 60_000);
    const durationSum = `${fn} ${HISTOGRAM}_sum{route="/orders"}`;
    const flush = () => flushFleet({ slots: store, url: `${base}/api/v1/write`, timeoutMs: 5000 });

    // Act 1
    const before = await flush();
    // Assess 1: the sums (exact: 0.6, where adding in order gives 0.6000000000000001), and the slot's fresh
    // readings with its instance and push time (the stale ones left out)
    expect(before.gaugeGroups).toBe(1);
    const expected = await written(before.timestamp!, retiringJob);
    const counts = sums(new Map(Object.entries({ slotValues, heldValues, overflowValues }).map(([k, values]) => [k, { fn, values }])));
    expect(expected).toEqual(new Map([...counts, [durationSum, 0.6]]));
    const gauges = await query(`{job="${retiringJob}", instance!=""}`, before.timestamp!);
    expect(Object.fromEntries(gauges.map((r) => [`${r.metric.__name__} ${r.metric.instance}`, Number(r.value[1])]))).toEqual({
      [`process_resident_memory_bytes ${fn}-${slot.id}`]: 100,
      [`push_time_seconds ${fn}-${slot.id}`]: expect.closeTo(Date.now() / 1000, -1),
    });

    // Act 2: two holders gone (leases given up), the janitor of remote write alone retires their groups, and a run
    await store.release(fn, slot);
    await store.release(fn, overflow);
    const report = await runJanitor({ slots: store, staleAfterSeconds: 0 });
    const after = await flush();
    // Assess 2: every sum exactly as before, to the last digit; no readings of retired groups
    expect(report.retired.sort()).toEqual([`${fn}-${overflow.id}`, `${fn}-${slot.id}`].sort());
    expect(await store.storedGroups()).toEqual([{ fn, id: held.id }]);
    expect((await store.retiredTotals()).map((total) => total.fn)).toEqual([fn]);
    expect(await written(after.timestamp!, retiringJob)).toEqual(expected);
    expect(after.gaugeGroups).toBe(0);

    // Act 3: the old holders come back with more
    const slotBack = await store.renewAndStore(fn, slot, LEASE_MS, [counter('/orders', 4)], 2, false);
    const overflowBack = await store.renewAndStore(fn, overflow, LEASE_MS, [counter('/orders', 3)], 2, true);
    const next = (await store.claim(fn, 4, LEASE_MS, randomUUID()))!;
    // Assess 3: both refused (the overflow id is fenced), and the slot's next holder starts from nothing
    expect([slotBack, overflowBack]).toEqual([false, false]);
    expect(next.id).toBe(slot.id);
    expect(await store.load(fn, next.id)).toBeUndefined();
  });
});
