// Where our push's time goes: one whole push, then its steps, each timed on its own with the real modules, in
// a child forked by scripts/bench/run.ts (REDIS_URL set, BENCH_GATEWAY_URL the gateway; optionally
// BENCH_NOCHECK_GATEWAY_URL, a gateway run with --push.disable-consistency-check, and
// BENCH_SCRATCH_GATEWAY_URL, an empty gateway this child fills).
//
//   node scripts/bench/breakdown.ts <warmup> <iterations> <productId>
//
// PUSHGATEWAY_URL is unset, so the handler only records; this child builds its own pusher exactly as
// lib/metrics/container.ts does (same registry, a Redis slot store) and calls it on its own, so a push can be
// timed without the request around it. The handler first runs `warmup` times so that the registry holds what
// it holds in the "ours" runs. Then each step runs `iterations` times: p50 wall time and mean CPU per call.
// The steps are what pushOnce does (packages/middy-pushgateway/src/pusher.ts), rebuilt from exported pieces; they write a slot
// and a group of their own ("bench-breakdown").
import { Registry, type Metric } from 'prom-client';

const warmup = Number(process.argv[2]);
const iterations = Number(process.argv[3]);
const productId = process.argv[4]!;

const { handler } = await import('../../functions/products/get.ts');
const { httpEvent, lambdaContext } = await import('../support/lambda.ts');
const { config } = await import('../../lib/config.ts');
const { registry } = await import('../../lib/metrics/registry.ts');
const { createPusher } = await import('../../packages/middy-pushgateway/src/pusher.ts');
const { createRedisSlotStore } = await import('../../packages/middy-pushgateway/src/slots.ts');
const { connectRedis } = await import('../../lib/redis.ts');
const { snapshot, render } = await import('../../packages/middy-pushgateway/src/exposition.ts');
const { createSeriesReader } = await import('../../packages/middy-pushgateway/src/series-reader.ts');
const { gatewayRequest, groupUrl, TEXT_FORMAT } = await import('../../packages/middy-pushgateway/src/gateway.ts');
const { watchGatewayPosts } = await import('../support/gateway-posts.ts');

const gatewayUrl = process.env.BENCH_GATEWAY_URL!;
const nocheckUrl = process.env.BENCH_NOCHECK_GATEWAY_URL;
const pusherFor = (target: Registry, functionName: string, url: string, pushIntervalMs = 0) =>
  createPusher({
    registry: target,
    functionName,
    gatewayUrl: url,
    timeoutMs: config.metrics.pushTimeoutMs,
    slots: createRedisSlotStore(connectRedis(config.cache.redisUrl!, config.cache.commandTimeoutMs).redis),
    maxSlots: config.metrics.slots,
    leaseTtlMs: config.metrics.leaseTtlMs,
    pushIntervalMs,
  });
// The app's families, in more registries (the same metric objects) for more pushers: each pusher adds its own
// three families to the registry it pushes, and a registry takes a name once.
const mirrored = () => {
  const mirror = new Registry();
  for (const metric of registry.getMetricsAsArray() as unknown as Metric[]) mirror.registerMetric(metric);
  return mirror;
};
// Mirrored before any pusher adds its families to `registry`.
const [nocheckRegistry, deployedRegistry] = [mirrored(), mirrored()];
const pusher = pusherFor(registry, config.functionName, gatewayUrl);
const nocheckPusher = nocheckUrl ? pusherFor(nocheckRegistry, `${config.functionName}-nocheck`, nocheckUrl) : undefined;
// As deployed: after its first push (a step's warm-up), every push only stores in Redis; the POST waits for
// the interval, which these runs never reach.
const deployedPusher = pusherFor(deployedRegistry, `${config.functionName}-deployed`, gatewayUrl, config.metrics.pushIntervalMs);

// What our pusher sends after one request: the families that changed, taken from its last body.
let typicalBody = '';
const unwatch = watchGatewayPosts((body) => {
  typicalBody = body;
});

const event = () => httpEvent('GET /api/products/{id}', { params: { id: productId } });
const request = () => handler(event(), lambdaContext());
for (let i = 0; i < warmup; i++) {
  await request();
  await pusher.push();
}

unwatch();

const own = await snapshot(registry);
const fullBody = render(own.families.values(), own.series.values());
const changed = new Set([...typicalBody.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!));
// What one request changes, as the pusher reads it and stores it (packages/middy-pushgateway/src/series-reader.ts, slots.ts).
const reader = createSeriesReader(registry, { function: config.functionName });
await reader.read('cumulative');
await request();
const moved = (await reader.read('cumulative')).map((key) => reader.snapshot.series.get(key)!);
const movedSeries = moved.map((s): [string, string, Record<string, string>, number] => [s.family, s.metricName, s.labels, s.value]);
const { redis, release: releaseRedis } = connectRedis(config.cache.redisUrl!, config.cache.commandTimeoutMs);
const slotStore = createRedisSlotStore(redis);
const lease = (await slotStore.claim('bench-breakdown', 1, 600_000, 'bench-breakdown'))!;
let writes = 0;

const TINY = '# TYPE bench_breakdown_total counter\nbench_breakdown_total 1\n';
const url = groupUrl(gatewayUrl, 'bench-breakdown', 'bench-breakdown-0');
const postTo = (to: string, body: string) => gatewayRequest(to, { method: 'POST', body, headers: { 'Content-Type': TEXT_FORMAT } });
const post = (body: string) => postTo(url, body);

type Step = [name: string, run: () => unknown, before?: () => unknown];
const steps: Step[] = [
  ['**our whole push** (`pusher.push()`, right after an untimed request)', () => pusher.push(), request],
  [`**our push as deployed**: a Redis store only, the POST deferred (METRICS_PUSH_INTERVAL_MS ${config.metrics.pushIntervalMs})`, () => deployedPusher.push(), request],
  ['series reader: the counters and histograms one request moved (what every push reads)', () => reader.read('cumulative'), request],
  ['snapshot(registry): collect + getMetricsAsJSON + series map (every family; the reader replaced it)', () => snapshot(registry)],
  [`render(the ${changed.size} changed families) as text`, () =>
    render([...own.families.values()].filter((f) => changed.has(f.name)), [...own.series.values()].filter((x) => changed.has(x.family)))],
  [`render(all ${own.families.size} families) as text`, () => render(own.families.values(), own.series.values())],
  [`Redis renew-and-store of the ${movedSeries.length} series one request moved (slots.ts)`, () =>
    slotStore.renewAndStore('bench-breakdown', lease, 600_000, movedSeries, ++writes, false)],
  ['Redis renew-and-store of no series (the lease renewal alone)', () => slotStore.renewAndStore('bench-breakdown', lease, 600_000, [], ++writes, false)],
  ['Redis GET through the same connection (the round trip alone; a cached product view makes one)', () => redis.get('bench-breakdown-nothing')],
  [`fetch POST to the gateway (${Buffer.byteLength(typicalBody)} B typical body)`, async () => {
    const response = await fetch(url, { method: 'POST', body: typicalBody, headers: { 'Content-Type': TEXT_FORMAT } });
    await response.text();
  }],
  [`http.request POST to the gateway (same ${Buffer.byteLength(typicalBody)} B body; gateway.ts, what the pusher uses)`, () => post(typicalBody)],
  ['http.request GET /-/healthy (the loopback HTTP round trip alone)', () => gatewayRequest(new URL('/-/healthy', gatewayUrl))],
  [`http.request POST of one counter (${Buffer.byteLength(TINY)} B body)`, () => post(TINY)],
  [`http.request POST to the gateway (${Buffer.byteLength(fullBody)} B, whole registry)`, () => post(fullBody)],
];
if (nocheckPusher) {
  steps.splice(1, 0, ['**our whole push**, to a gateway run with `--push.disable-consistency-check`', () => nocheckPusher.push(), request]);
}

// Last, as they change the process: the naive push (default metrics on the global registry, plus our app
// families, then pushAdd of all of it), to both gateways.
const naiveSteps = async (): Promise<Step[]> => {
  const client = await import('prom-client');
  client.collectDefaultMetrics();
  for (const metric of registry.getMetricsAsArray() as unknown as Metric[]) {
    const name = (metric as unknown as { name: string }).name;
    if (!name.startsWith('metrics_') && !client.register.getSingleMetric(name)) client.register.registerMetric(metric);
  }
  const naive = (url: string) => new client.Pushgateway(url);
  const out: Step[] = [['**naive pushAdd** of the global registry (right after an untimed request)', () => naive(gatewayUrl).pushAdd({ jobName: 'bench-breakdown-naive' }), request]];
  if (nocheckUrl) {
    out.push(['**naive pushAdd**, to the gateway run with `--push.disable-consistency-check`', () => naive(nocheckUrl).pushAdd({ jobName: 'bench-breakdown-naive' }), request]);
  }
  return out;
};

const rows: { step: string; p50Us: number; cpuUs: number }[] = [];
for (const [name, run, before] of [...steps, ...(await naiveSteps())]) {
  const lat: number[] = [];
  let cpu = 0;
  for (let i = 0; i < iterations + 100; i++) {
    await before?.();
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await run();
    const t1 = process.hrtime.bigint();
    const c = process.cpuUsage(c0);
    if (i >= 100) {
      lat.push(Number(t1 - t0) / 1000);
      cpu += c.user + c.system;
    }
  }
  lat.sort((a, b) => a - b);
  rows.push({ step: name, p50Us: lat[Math.floor(lat.length / 2)]!, cpuUs: cpu / iterations });
}
// The gateway's side: a push's latency as the gateway holds more groups. A deployment holds one group per
// function and slot (17 functions × 16 slots here); each group here is a copy of our whole registry.
// The scratch gateway starts empty; the no-check one holds only the pushes above (a few groups) before it is
// filled the same way.
const scaling: { groups: number; series: number; p50Us: number; nocheckP50Us?: number }[] = [];
const scratch = process.env.BENCH_SCRATCH_GATEWAY_URL;
if (scratch) {
  const seriesPerGroup = fullBody.split('\n').filter((l) => l && !l.startsWith('#')).length;
  const timePushes = async (base: string, n: number) => {
    const target = groupUrl(base, 'bench-scaling', 'bench-scaling-0');
    const lat: number[] = [];
    for (let i = 0; i < n + 10; i++) {
      const t0 = process.hrtime.bigint();
      await postTo(target, typicalBody);
      if (i >= 10) lat.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    lat.sort((a, b) => a - b);
    return lat[Math.floor(lat.length / 2)]!;
  };
  const bases = [scratch, ...(nocheckUrl ? [nocheckUrl] : [])];
  for (const base of bases) await postTo(groupUrl(base, 'bench-scaling', 'bench-scaling-0'), fullBody);
  let filled = 1;
  for (const groups of [1, 17, 68, 272]) {
    for (; filled < groups; filled++) {
      for (const base of bases) await postTo(groupUrl(base, `f${filled % 17}`, `f${filled % 17}-${filled}`), fullBody);
    }
    const n = groups > 100 ? 60 : 200;
    scaling.push({
      groups,
      series: groups * seriesPerGroup,
      p50Us: await timePushes(scratch, n),
      nocheckP50Us: nocheckUrl ? await timePushes(nocheckUrl, n) : undefined,
    });
  }
}

releaseRedis();
process.send!({ rows, scaling }, () => process.exit(0));
