// Remote write: the WriteRequest protobuf read back by a decoder of the test's own (not the encoding library's),
// the snappy body uncompressed, and the flusher's sums and retries against models of Redis and a receiver.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { uncompress } from 'snappyjs';
import { encodeWriteRequest, remoteWriteHeaders, RemoteWriteError, writeRequestBody, type WriteSeries } from '../../../packages/middy-pushgateway/src/remote-write.ts';
import { fleetSeries, flushFleet, gaugeSeries, type FleetGroup } from '../../../packages/middy-pushgateway/src/flusher.ts';
import type { Family } from '../../../packages/middy-pushgateway/src/exposition.ts';
import type { RetiredSeries, SlotStore, StoredSeries } from '../../../packages/middy-pushgateway/src/slots.ts';

// A protobuf reader for the four messages, written from the wire format's definition.
function reader(bytes: Uint8Array) {
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = bytes[pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return result;
    }
  };
  return {
    done: () => pos >= bytes.length,
    /** [field number, wire type, value] */
    field(): [number, number, bigint | Uint8Array | number] {
      const key = Number(varint());
      const [field, type] = [key >> 3, key & 7];
      if (type === 0) return [field, type, varint()];
      if (type === 1) {
        const value = new DataView(bytes.buffer, bytes.byteOffset + pos, 8).getFloat64(0, true);
        pos += 8;
        return [field, type, value];
      }
      if (type === 2) {
        const length = Number(varint());
        const value = bytes.subarray(pos, pos + length);
        pos += length;
        return [field, type, value];
      }
      throw new Error(`unexpected wire type ${type}`);
    },
  };
}

interface Decoded {
  labels: [string, string][];
  samples: { value: number; timestamp: number }[];
}
function decodeWriteRequest(bytes: Uint8Array): Decoded[] {
  const out: Decoded[] = [];
  const text = new TextDecoder('utf-8', { fatal: true });
  for (const request = reader(bytes); !request.done(); ) {
    const [field, type, ts] = request.field();
    expect([field, type]).toEqual([1, 2]);
    const series: Decoded = { labels: [], samples: [] };
    for (const r = reader(ts as Uint8Array); !r.done(); ) {
      const [f, t, body] = r.field();
      expect(t).toBe(2);
      const inner = reader(body as Uint8Array);
      if (f === 1) {
        const label = ['', ''] as [string, string];
        while (!inner.done()) {
          const [lf, , v] = inner.field();
          label[lf - 1] = text.decode(v as Uint8Array);
        }
        series.labels.push(label);
      } else {
        expect(f).toBe(2);
        const sample = { value: 0, timestamp: 0 };
        while (!inner.done()) {
          const [sf, st, v] = inner.field();
          if (sf === 1) expect(st).toBe(1);
          if (sf === 2) expect(st).toBe(0);
          if (sf === 1) sample.value = v as number;
          else sample.timestamp = Number(BigInt.asIntN(64, v as bigint));
        }
        series.samples.push(sample);
      }
    }
    out.push(series);
  }
  return out;
}

const labelName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,12}$/).filter((n) => n !== '__name__');
const aSeries = fc.record({
  name: fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,20}$/),
  labels: fc.dictionary(labelName, fc.string({ unit: 'binary', minLength: 1 }), { maxKeys: 5 }),
  samples: fc.array(fc.record({ value: fc.double(), timestamp: fc.integer({ min: 0, max: 2 ** 52 }) }), { minLength: 1, maxLength: 3 }),
});

describe('remote write encoding', () => {
  it('encodes series that a protobuf reader reads back: labels sorted by name, values to the bit, timestamps exact', () => {
    fc.assert(
      fc.property(fc.array(aSeries, { maxLength: 5 }), (generated) => {
        // Prepare
        const series: WriteSeries[] = generated.map((g) => ({ labels: { ...g.labels, __name__: g.name }, samples: g.samples }));
        // Act
        const decoded = decodeWriteRequest(encodeWriteRequest(series));
        // Assess
        expect(decoded).toHaveLength(series.length);
        for (const [i, s] of series.entries()) {
          const names = Object.keys(s.labels).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
          expect(decoded[i]!.labels).toEqual(names.map((n) => [n, s.labels[n]]));
          expect(decoded[i]!.samples.map((x) => x.timestamp)).toEqual(s.samples.map((x) => x.timestamp));
          for (const [j, x] of s.samples.entries()) expect(Object.is(decoded[i]!.samples[j]!.value, x.value)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('puts __name__ before lower-case label names and leaves out labels with empty values', () => {
    // Act
    const [decoded] = decodeWriteRequest(encodeWriteRequest([{ labels: { route: '/x', __name__: 'a_total', function: 'f', empty: '', job: 'j', le: '+Inf' }, samples: [{ value: 1, timestamp: 5 }] }]));
    // Assess
    expect(decoded!.labels.map(([n]) => n)).toEqual(['__name__', 'function', 'job', 'le', 'route']);
  });

  it('snappy-compresses the protobuf in the block format, across several 64 KiB blocks', () => {
    // Prepare: about 300 KB of protobuf, so the compressor works in several blocks
    const series: WriteSeries[] = Array.from({ length: 3000 }, (_, i) => ({
      labels: { __name__: 'http_request_duration_seconds_bucket', function: `fn-${i % 7}`, route: `/products/${i}`, le: String(i / 1000) },
      samples: [{ value: i * 1.5, timestamp: 1_764_000_000_000 + i }],
    }));
    // Act
    const body = writeRequestBody(series);
    const protobuf = encodeWriteRequest(series);
    // Assess: a block starts with the uncompressed length as a varint (the framed format starts with 0xff)
    expect(protobuf.byteLength).toBeGreaterThan(3 * 65536);
    expect(body[0]).not.toBe(0xff);
    expect(Buffer.from(uncompress(body)).equals(Buffer.from(protobuf))).toBe(true);
    expect(body.byteLength).toBeLessThan(protobuf.byteLength / 2);
  });

  it('sends the protocol headers, with basic auth, a bearer token or a tenant', () => {
    // Act
    const plain = remoteWriteHeaders();
    const basic = remoteWriteHeaders({ auth: { username: 'u', password: 'p' }, tenant: 'shop' });
    const bearer = remoteWriteHeaders({ auth: { bearerToken: 't0k' }, headers: { 'X-Extra': '1' } });
    // Assess
    expect(plain).toMatchObject({ 'Content-Encoding': 'snappy', 'Content-Type': 'application/x-protobuf', 'X-Prometheus-Remote-Write-Version': '0.1.0' });
    expect(plain.Authorization).toBeUndefined();
    expect(basic).toMatchObject({ Authorization: `Basic ${Buffer.from('u:p').toString('base64')}`, 'X-Scope-OrgID': 'shop' });
    expect(bearer).toMatchObject({ Authorization: 'Bearer t0k', 'X-Extra': '1' });
  });

  it('retries 5xx, 429 and no answer, never another 4xx', () => {
    expect([503, 500, 429, undefined].map((s) => new RemoteWriteError('x', s).retryable)).toEqual([true, true, true, true]);
    expect([400, 401, 404, 413].map((s) => new RemoteWriteError('x', s).retryable)).toEqual([false, false, false, false]);
  });
});

const families = new Map<string, Family>([
  ['http_requests_total', { name: 'http_requests_total', type: 'counter', help: '' }],
  ['http_request_duration_seconds', { name: 'http_request_duration_seconds', type: 'histogram', help: '' }],
  ['process_resident_memory_bytes', { name: 'process_resident_memory_bytes', type: 'gauge', help: '' }],
  ['in_flight', { name: 'in_flight', type: 'gauge', help: '' }],
  ['latency', { name: 'latency', type: 'summary', help: '' }],
]);
const histogram = (route: string, counts: [number, number], sum: number): StoredSeries[] => [
  ['http_request_duration_seconds', 'http_request_duration_seconds_bucket', { route, le: '0.1' }, counts[0]],
  ['http_request_duration_seconds', 'http_request_duration_seconds_bucket', { route, le: '+Inf' }, counts[1]],
  ['http_request_duration_seconds', 'http_request_duration_seconds_sum', { route }, sum],
  ['http_request_duration_seconds', 'http_request_duration_seconds_count', { route }, counts[1]],
];
const byKey = (series: { labels: Record<string, string>; value: number }[]) =>
  Object.fromEntries(series.map((s) => [Object.entries(s.labels).sort().map(([k, v]) => `${k}=${v}`).join(','), s.value]));

describe('fleet sums', () => {
  it('sums counters and histogram buckets, sums and counts across a function\'s groups, per function, without an instance label', () => {
    // Prepare
    const groups: FleetGroup[] = [
      { fn: 'orders', id: '0', values: [['http_requests_total', 'http_requests_total', { route: '/a' }, 3], ...histogram('/a', [2, 3], 0.25)] },
      { fn: 'orders', id: '1', values: [['http_requests_total', 'http_requests_total', { route: '/a' }, 4], ...histogram('/a', [1, 4], 0.5)] },
      { fn: 'orders', id: 'overflow-1a2b', values: [['http_requests_total', 'http_requests_total', { route: '/b' }, 1]] },
      { fn: 'users', id: '0', values: [['http_requests_total', 'http_requests_total', { route: '/a' }, 10]] },
    ];
    // Act
    const series = byKey(fleetSeries(groups, families, 'shop'));
    // Assess
    expect(series).toEqual({
      '__name__=http_requests_total,function=orders,job=shop,route=/a': 7,
      '__name__=http_requests_total,function=orders,job=shop,route=/b': 1,
      '__name__=http_requests_total,function=users,job=shop,route=/a': 10,
      '__name__=http_request_duration_seconds_bucket,function=orders,job=shop,le=0.1,route=/a': 3,
      '__name__=http_request_duration_seconds_bucket,function=orders,job=shop,le=+Inf,route=/a': 7,
      '__name__=http_request_duration_seconds_sum,function=orders,job=shop,route=/a': 0.75,
      '__name__=http_request_duration_seconds_count,function=orders,job=shop,route=/a': 7,
    });
  });

  it('drops summary quantiles and sums every other stored series, of a known family or not, with the retired totals', () => {
    // Prepare
    const groups: FleetGroup[] = [
      { fn: 'f', id: '0', values: [['latency', 'latency', { quantile: '0.5' }, 0.2], ['latency', 'latency_sum', {}, 1], ['mystery', 'mystery_total', {}, 1]] },
    ];
    const retired = [{ fn: 'f', values: [['latency', 'latency', { quantile: '0.5' }, [0.4]], ['latency', 'latency_sum', {}, [2]], ['mystery', 'mystery_total', {}, [2]]] as RetiredSeries[] }];
    // Act
    const series = byKey(fleetSeries(groups, families, 'shop', retired));
    // Assess
    expect(series).toEqual({ '__name__=latency_sum,function=f,job=shop': 3, '__name__=mystery_total,function=f,job=shop': 3 });
  });

  it('writes each group\'s fresh gauge readings as they are, with its instance and push time, and leaves stale ones out', () => {
    // Prepare
    const memory = (value: number) => [['process_resident_memory_bytes', 'process_resident_memory_bytes', {}, value]] as FleetGroup['values'];
    const groups = [
      { fn: 'f', id: '0', atMs: 100_000, values: memory(100) },
      { fn: 'f', id: '1', atMs: 40_000, values: memory(300) },
    ];
    // Act
    const series = byKey(gaugeSeries(groups, 'shop', 130_000, 60_000));
    // Assess
    expect(series).toEqual({
      '__name__=push_time_seconds,function=f,instance=f-0,job=shop': 100,
      '__name__=process_resident_memory_bytes,function=f,instance=f-0,job=shop': 100,
    });
  });

  it('labels a series with the store\'s job and the function over labels of the same names of its own', () => {
    // Act
    const [series] = fleetSeries([{ fn: 'f', id: '0', values: [['c_total', 'c_total', { job: 'theirs', function: 'other', x: '1' }, 1]] }], families, 'shop');
    // Assess
    expect(series!.labels).toEqual({ __name__: 'c_total', job: 'shop', function: 'f', x: '1' });
  });

  it('gives the same float to the bit whatever order Redis lists the groups in', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 2, maxLength: 12 }), fc.integer(), (sums, seed) => {
        // Prepare
        const groups: FleetGroup[] = sums.map((sum, i) => ({ fn: 'f', id: String(i), values: [['h', 'h_sum', {}, sum]] }));
        const shuffled = [...groups].sort((a, b) => ((Number(a.id) * 7919 + seed) % 13) - ((Number(b.id) * 7919 + seed) % 13));
        // Act
        const [a] = fleetSeries(groups, families, 'j');
        const [b] = fleetSeries(shuffled, families, 'j');
        // Assess
        expect(Object.is(a!.value, b!.value)).toBe(true);
      }),
    );
  });
});

// A model of the slot store, with the flusher's clock (shared by the stores made with the same `clock`).
function modelStore(groups: FleetGroup[], lockHeld = false, clock = { last: 0 }): SlotStore {
  return {
    job: 'shop',
    nextTimestamp: async (now: number) => (clock.last = Math.max(now, clock.last + 1)),
    storedGroups: async () => groups.map(({ fn, id }) => ({ fn, id })),
    storedGauges: async () => [],
    retiredTotals: async () => [],
    load: async (fn, id) => groups.find((g) => g.fn === fn && g.id === id)?.values,
    families: async () => families,
    exclusive: async (_name, _ttl, work) => (lockHeld ? undefined : work()),
  } as Partial<SlotStore> as SlotStore;
}

describe('flushFleet', () => {
  const groups: FleetGroup[] = [
    { fn: 'f', id: '0', values: [['http_requests_total', 'http_requests_total', { route: '/a' }, 3]] },
    { fn: 'f', id: '1', values: [['http_requests_total', 'http_requests_total', { route: '/a' }, 4]] },
  ];

  it('retries a failed write with the very same body, and reports what it wrote', async () => {
    // Prepare
    const bodies: Buffer[] = [];
    const answers = [new RemoteWriteError('answered 503', 503), new RemoteWriteError('socket hang up', undefined), undefined];
    const transport = async (_url: string, body: Uint8Array) => {
      bodies.push(Buffer.from(body));
      const answer = answers.shift();
      if (answer) throw answer;
    };
    // Act
    const report = await flushFleet({ slots: modelStore(groups), url: 'http://receiver/api/v1/write', transport, now: () => 1_000_000 });
    // Assess
    expect(bodies).toHaveLength(3);
    expect(bodies[1]!.equals(bodies[0]!) && bodies[2]!.equals(bodies[0]!)).toBe(true);
    expect(decodeWriteRequest(Buffer.from(uncompress(bodies[0]!)))).toEqual([
      { labels: [['__name__', 'http_requests_total'], ['function', 'f'], ['job', 'shop'], ['route', '/a']], samples: [{ value: 7, timestamp: 1_000_000 }] },
    ]);
    expect(report).toMatchObject({ groups: 2, series: 1, bytes: bodies[0]!.byteLength, timestamp: 1_000_000, attempts: 3 });
  });

  it('does not retry a refusal (400), and fails', async () => {
    // Prepare
    let sends = 0;
    const transport = async () => {
      sends++;
      throw new RemoteWriteError('answered 400: out of order sample', 400);
    };
    // Act
    const run = flushFleet({ slots: modelStore(groups), url: 'http://receiver/api/v1/write', transport });
    // Assess
    await expect(run).rejects.toThrow(/400/);
    expect(sends).toBe(1);
  });

  it('writes strictly later timestamps run after run, even when the clock goes back', async () => {
    // Prepare
    const stamps: number[] = [];
    const clock = { last: 0 };
    const times = [5000, 4000, 4000, 9000];
    // Act
    for (const t of times) stamps.push((await flushFleet({ slots: modelStore(groups, false, clock), url: 'http://r/', transport: async () => {}, now: () => t })).timestamp!);
    // Assess
    expect(stamps).toEqual([5000, 5001, 5002, 9000]);
  });

  it('writes nothing while another flusher holds the lease', async () => {
    // Prepare
    let sends = 0;
    // Act
    const report = await flushFleet({ slots: modelStore(groups, true), url: 'http://r/', transport: async () => void sends++ });
    // Assess
    expect(report.skipped).toMatch(/another flusher/);
    expect(sends).toBe(0);
  });
});
