// The package as a stranger gets it: `npm pack` of packages/middy-pushgateway (as built by `npm test`), the
// tarball installed into a copy of examples/quickstart from the npm registry (no workspace, no links to this
// repository), that project run with `npx serverless offline` as its README says, and what it pushed read back
// from the real Pushgateway: every request counted exactly once, per route and status.
//
// The example POSTs after every invocation here (PUSH_INTERVAL_MS=0, an environment variable the example reads):
// with its default interval (5 s per slot) the last invocations of each slot are stored in Redis only, and the
// janitor may not bring a held slot up to them: that waits for the lease (60 s) to lapse, and a test that waits
// for it checks the janitor, which the exactness suites do. The janitor is still invoked once, to see that the
// packed module runs, and changes nothing. A POST that outlived the push's deadline would likewise leave its
// slot's group one request behind until the next push (a CI run saw 7 of 8 with the default 200 ms on a busy
// machine): the deadline is raised here, so that every answer follows its POST.
//
// Kept apart from the other tests sharing the servers: a stage of its own (function names and the Pushgateway
// job, `quickstart-<stage>`, come from it) and a Redis database of its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { Redis } from 'ioredis';
import { freePort, sleep } from '../../../scripts/servers/process.ts';
import { groupUrl } from '../../../packages/middy-pushgateway/src/gateway.ts';

const { REDIS_URL: redisUrl, PUSHGATEWAY_URL: gatewayUrl } = process.env;
const ROOT = path.resolve(import.meta.dirname, '../../..');
const PACKAGE_DIR = path.join(ROOT, 'packages/middy-pushgateway');
const EXAMPLE_DIR = path.join(ROOT, 'examples/quickstart');
// Not used by any other test (they share database 0, which the global setup flushes): flushed here.
const EXAMPLE_REDIS_DB = 13;
const OFFLINE_READY_MS = 90_000;
const INSTALL_TIMEOUT_MS = 300_000;
const PUSH_TIMEOUT_MS = 10_000;

// 20 requests over both HTTP functions, a 404 among them: [path, expected status].
const PLAN: [string, number][] = [
  ...Array.from({ length: 8 }, () => ['/hello', 200] as [string, number]),
  ...Array.from({ length: 6 }, () => ['/items/1', 200] as [string, number]),
  ...Array.from({ length: 3 }, () => ['/items/2', 200] as [string, number]),
  ...Array.from({ length: 3 }, () => ['/items/7', 404] as [string, number]),
];
const LANES = 4; // requests at once: offline starts a worker (a container) per concurrent request

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; its output is kept. */
function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function mustRun(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<string> {
  const result = await run(command, args, options);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.code}:\n${result.stderr.slice(-4000)}\n${result.stdout.slice(-2000)}`);
  return result.stdout;
}

interface PackResult {
  filename: string;
  files: { path: string }[];
}

interface GatewayGroup {
  labels: Record<string, string>;
  [family: string]: unknown;
}

/** Our groups on the gateway (the example's job), and each family's sum by function and series labels. */
async function readTotals(job: string): Promise<{ groups: GatewayGroup[]; totals: Record<string, Record<string, number>> }> {
  const response = await fetch(new URL('/api/v1/metrics', gatewayUrl));
  const groups = ((await response.json()) as { data: GatewayGroup[] }).data.filter((g) => g.labels.job === job);
  const totals: Record<string, Record<string, number>> = {};
  for (const family of ['http_requests_total', 'function_invocations_total']) {
    const sums: Record<string, number> = {};
    for (const group of groups) {
      const metrics = (group[family] as { metrics: { labels: Record<string, string>; value: string }[] } | undefined)?.metrics ?? [];
      for (const { labels, value } of metrics) {
        const key =
          family === 'http_requests_total' ? `${group.labels.function} ${labels.method} ${labels.route} ${labels.status_code}` : `${group.labels.function} ${labels.outcome}`;
        sums[key] = (sums[key] ?? 0) + Number(value);
      }
    }
    totals[family] = sums;
  }
  return { groups, totals };
}

describe.runIf((gatewayUrl && redisUrl) || process.env.CI)('examples/quickstart installed from the packed tarball', () => {
  const stage = `t${process.pid}${Date.now().toString(36)}`;
  const service = 'quickstart';
  const job = `${service}-${stage}`;
  const fn = (name: string) => `${service}-${stage}-${name}`;
  // The same node for npm, npx and serverless-offline's workers as for this test (node 24).
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH}` };
  for (const name of Object.keys(env)) if (name.startsWith('VITEST') || name === 'NODE_OPTIONS') delete env[name];

  let dir: string;
  let app: string;
  let exampleRedisUrl: string;
  let packListing: string[] = [];
  let tarballListing: string[] = [];
  let offline: ChildProcess | undefined;
  let offlineOutput = '';
  let httpPort: number;
  let lambdaPort: number;

  const flushExampleDb = async () => {
    const redis = new Redis(exampleRedisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000 });
    try {
      await redis.connect();
      await redis.flushdb();
    } finally {
      redis.disconnect();
    }
  };

  beforeAll(async () => {
    if (!gatewayUrl || !redisUrl) throw new Error('PUSHGATEWAY_URL and REDIS_URL must be set (servers.setup.ts)');
    const url = new URL(redisUrl);
    url.pathname = `/${EXAMPLE_REDIS_DB}`;
    exampleRedisUrl = url.href;
    dir = mkdtempSync(path.join(os.tmpdir(), 'shop-quickstart-'));

    // Pack: the tarball of the dist/ that `npm test` built (its prepack would rebuild dist/ in place, under the
    // other test files that import it), then the listing npm reports for it.
    let started = performance.now();
    const [packed] = JSON.parse(await mustRun('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: PACKAGE_DIR, env, timeoutMs: 120_000 })) as PackResult[];
    const tarball = path.join(dir, packed!.filename);
    const [dryRun] = JSON.parse(await mustRun('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: PACKAGE_DIR, env, timeoutMs: 120_000 })) as PackResult[];
    packListing = dryRun!.files.map((f) => f.path).sort();
    tarballListing = (await mustRun('tar', ['-tzf', tarball], { cwd: dir, env, timeoutMs: 30_000 }))
      .split('\n')
      .filter((line) => line !== '' && !line.endsWith('/'))
      .map((line) => line.replace(/^package\//, ''))
      .sort();
    console.log(`npm pack: ${packed!.filename} in ${Math.round(performance.now() - started)} ms; npm pack --dry-run --json lists:\n  ${packListing.join('\n  ')}`);

    // The example, as a project of its own, with the tarball for the package's version range.
    app = path.join(dir, 'quickstart');
    cpSync(EXAMPLE_DIR, app, { recursive: true, filter: (source) => !/[/\\](node_modules|package-lock\.json|\.serverless)$/.test(source) });
    const manifest = JSON.parse(readFileSync(path.join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(manifest.dependencies['middy-pushgateway']).toBe('^0.1.0');
    manifest.dependencies['middy-pushgateway'] = `file:${tarball}`;
    writeFileSync(path.join(app, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    started = performance.now();
    // No install script is needed: esbuild (tsx's, under osls and offline) and es5-ext have one, which npm's
    // allowScripts leaves unrun; esbuild's binary comes in its platform package all the same.
    const install = await mustRun('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: app, env, timeoutMs: INSTALL_TIMEOUT_MS });
    console.log(`npm install of the example: ${((performance.now() - started) / 1000).toFixed(1)} s (${install.trim().split('\n').at(-1)})`);

    await flushExampleDb();
    httpPort = await freePort();
    lambdaPort = await freePort();
    offline = spawn('npx', ['serverless', 'offline', '--stage', stage, '--host', '127.0.0.1', '--httpPort', String(httpPort), '--lambdaPort', String(lambdaPort)], {
      cwd: app,
      env: { ...env, PUSHGATEWAY_URL: gatewayUrl, REDIS_URL: exampleRedisUrl, PUSH_INTERVAL_MS: '0', PUSH_TIMEOUT_MS: String(PUSH_TIMEOUT_MS) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // a process group of its own: npx, serverless and its workers stop together
    });
    const collect = (chunk: Buffer) => void (offlineOutput = (offlineOutput + chunk.toString()).slice(-50_000));
    offline.stdout!.on('data', collect);
    offline.stderr!.on('data', collect);
    started = performance.now();
    const exited = new Promise<never>((_, reject) => offline!.once('exit', (code) => reject(new Error(`serverless offline exited with ${code}:\n${offlineOutput}`))));
    exited.catch(() => {});
    const ready = (async () => {
      for (const until = Date.now() + OFFLINE_READY_MS; Date.now() < until && offline!.exitCode === null; await sleep(100)) {
        // Any answer from offline itself (a path no function serves): no function is invoked.
        if (offlineOutput.includes('Server ready') && (await fetch(`http://127.0.0.1:${httpPort}/not-a-route`).then((r) => r.status === 404, () => false))) return;
      }
      throw new Error(`serverless offline not ready after ${OFFLINE_READY_MS} ms:\n${offlineOutput}`);
    })();
    await Promise.race([ready, exited]);
    console.log(`serverless offline ready in ${Math.round(performance.now() - started)} ms (stage ${stage}, http ${httpPort}, lambda ${lambdaPort})`);
  }, INSTALL_TIMEOUT_MS + 2 * 120_000 + OFFLINE_READY_MS);

  afterAll(async () => {
    if (offline?.pid !== undefined) {
      const signal = (name: NodeJS.Signals) => {
        try {
          process.kill(-offline!.pid!, name);
        } catch {} // the group is gone already
      };
      if (offline.exitCode === null && offline.signalCode === null) {
        const exited = new Promise((resolve) => offline!.once('exit', resolve));
        signal('SIGTERM');
        await Promise.race([exited, sleep(10_000)]);
      }
      signal('SIGKILL'); // whatever is left of its group
    }
    if (gatewayUrl) {
      const { groups } = await readTotals(job).catch(() => ({ groups: [] as GatewayGroup[] }));
      for (const group of groups) await fetch(groupUrl(gatewayUrl, group.labels.function!, group.labels.instance!, job), { method: 'DELETE' }).catch(() => {});
    }
    if (exampleRedisUrl) await flushExampleDb().catch(() => {});
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('packs only the manifest, README, LICENSE and the built modules with their types', () => {
    const allowed = (file: string) => ['package.json', 'README.md', 'LICENSE'].includes(file) || /^dist\/.+\.(js|d\.ts)$/.test(file);
    expect(packListing.filter((file) => !allowed(file))).toEqual([]);
    expect(packListing).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts']));
    // Every module has its types, and the tarball holds what npm listed.
    const modules = packListing.filter((file) => file.endsWith('.js'));
    expect(modules.filter((file) => !packListing.includes(file.replace(/\.js$/, '.d.ts')))).toEqual([]);
    expect(tarballListing).toEqual(packListing);
  });

  it('counts every request of the example exactly once on the gateway, per route and status', { timeout: 120_000 }, async () => {
    onTestFailed(() => console.log(`serverless offline output (last 50 kB):\n${offlineOutput}`));
    // Act: the plan, LANES requests at a time
    let next = 0;
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: LANES }, async () => {
        while (next < PLAN.length) {
          const n = next++;
          const response = await fetch(`http://127.0.0.1:${httpPort}${PLAN[n]![0]}`);
          await response.arrayBuffer();
          statuses[n] = response.status;
        }
      }),
    );
    const afterRequests = await readTotals(job);
    const janitor = await fetch(`http://127.0.0.1:${lambdaPort}/2015-03-31/functions/${fn('janitor')}/invocations`, { method: 'POST', body: '{}' });
    const janitorError = janitor.headers.get('x-amz-function-error');
    const report = (await janitor.json()) as { deleted?: string[]; healed?: string[]; skipped?: string };
    const afterJanitor = await readTotals(job);

    // Assess
    const instances = afterRequests.groups.map((g) => g.labels.instance).sort();
    console.log(`${PLAN.length} requests, ${LANES} at once: ${instances.length} groups (${instances.join(', ')}); janitor ${JSON.stringify(report)}`);
    console.log(JSON.stringify(afterRequests.totals, null, 2));
    expect(statuses).toEqual(PLAN.map(([, status]) => status));
    const count = (prefix: string, status: number) => PLAN.filter(([p, s]) => p.startsWith(prefix) && s === status).length;
    // The statuses the package declares at 0 (200 and 500) are there too.
    expect(afterRequests.totals.http_requests_total).toEqual({
      [`${fn('hello')} GET /hello 200`]: count('/hello', 200),
      [`${fn('hello')} GET /hello 500`]: 0,
      [`${fn('item')} GET /items/{id} 200`]: count('/items/', 200),
      [`${fn('item')} GET /items/{id} 404`]: count('/items/', 404),
      [`${fn('item')} GET /items/{id} 500`]: 0,
    });
    expect(afterRequests.totals.function_invocations_total).toEqual({
      [`${fn('hello')} success`]: count('/hello', 200),
      [`${fn('hello')} error`]: 0,
      [`${fn('item')} success`]: count('/items/', 200) + count('/items/', 404),
      [`${fn('item')} error`]: 0,
    });
    // Pushed through Redis push slots (`<function>-<n>`), not overflow groups of single containers.
    for (const group of afterRequests.groups) expect(group.labels.instance).toMatch(new RegExp(`^${group.labels.function}-\\d+$`));
    // The janitor runs from the packed module and has nothing to do: every invocation was POSTed. (A scheduled
    // run of its own at the turn of the minute may hold its lock: then it skips.)
    expect(janitorError).toBeNull();
    expect({ deleted: report.deleted, healed: report.healed }).toEqual({ deleted: [], healed: [] });
    expect(afterJanitor.totals).toEqual(afterRequests.totals);
  });
});
