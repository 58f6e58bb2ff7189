// Bundle size and cold start of one function (getProduct), with and without metrics. The bundles are built
// the way serverless.yml's custom.esbuild builds them; "without metrics" swaps the lib/metrics modules on the
// request path for no-op stubs (scripts/bench/stubs), so prom-client and the pusher are not bundled.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { noMetricsPlugin, ROOT } from './no-metrics.ts';
import { FUNCTION_BUILD } from '../support/function-build.ts';

export type BuildKind = 'with metrics' | 'without metrics';
export const BUILDS: BuildKind[] = ['with metrics', 'without metrics'];

export interface BundleInfo {
  kind: BuildKind;
  file: string;
  bytes: number;
  gzipBytes: number;
  mapBytes: number;
  promClientBytes: number;
  metricsLibBytes: number;
}

export interface ColdStart {
  kind: BuildKind;
  importMs: number;
  firstInvocationMs: number;
  processMs: number;
}

export async function buildBundles(): Promise<{ dir: string; bundles: BundleInfo[]; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'shop-bench-'));
  // Lambda picks ESM for .js from the nearest package.json (scripts/esbuild-plugins.cjs writes the same).
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }) + '\n');
  const bundles: BundleInfo[] = [];
  for (const kind of BUILDS) {
    const outfile = path.join(dir, kind === 'with metrics' ? 'with' : 'without', 'get.js');
    const result = await build({
      absWorkingDir: ROOT,
      entryPoints: [path.join(ROOT, 'functions', 'products', 'get.ts')],
      outfile,
      ...FUNCTION_BUILD,
      plugins: kind === 'without metrics' ? [noMetricsPlugin] : [],
      metafile: true,
      logLevel: 'silent',
    });
    const code = await readFile(outfile);
    const map = await readFile(`${outfile}.map`);
    const inputs = Object.entries(result.metafile.outputs[path.relative(ROOT, outfile)]?.inputs ?? {});
    const sum = (test: (file: string) => boolean) => inputs.filter(([file]) => test(file)).reduce((n, [, i]) => n + i.bytesInOutput, 0);
    bundles.push({
      kind,
      file: outfile,
      bytes: code.byteLength,
      gzipBytes: gzipSync(code, { level: 9 }).byteLength,
      mapBytes: map.byteLength,
      // prom-client and what it brings along (tdigest and bintrees for summaries, @opentelemetry/api for exemplars).
      promClientBytes: sum((f) => /node_modules\/(prom-client|tdigest|bintrees|@opentelemetry\/api)\//.test(f)),
      metricsLibBytes: sum((f) => f.startsWith('lib/metrics/') || f.startsWith('packages/middy-pushgateway/') || f.startsWith('scripts/bench/stubs/')),
    });
  }
  return { dir, bundles, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

// Runs in a fresh `node`: import time of the bundle (the init phase), then its first invocation.
const COLD_SCRIPT = `
const [bundle, eventJson] = process.argv.slice(1);
const t0 = performance.now();
const { handler } = await import(bundle);
const t1 = performance.now();
const context = { callbackWaitsForEmptyEventLoop: false, functionName: 'bench', functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:bench', memoryLimitInMB: '512', awsRequestId: 'cold',
  logGroupName: 'g', logStreamName: 's', getRemainingTimeInMillis: () => 10000, done() {}, fail() {}, succeed() {} };
const response = await handler(JSON.parse(eventJson), context);
const t2 = performance.now();
process.stdout.write('\\nBENCH_RESULT ' + JSON.stringify({ importMs: t1 - t0, firstInvocationMs: t2 - t1, status: response.statusCode }) + '\\n');
process.exit(0);
`;

export function coldStart(bundle: BundleInfo, event: unknown, env: NodeJS.ProcessEnv): Promise<ColdStart> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', COLD_SCRIPT, pathToFileURL(bundle.file).href, JSON.stringify(event)], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err = (err + chunk.toString()).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      const processMs = performance.now() - started;
      const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
      if (code !== 0 || !line) return reject(new Error(`cold start of ${bundle.kind} failed (exit ${code}):\n${err}\n${out.slice(-2000)}`));
      const parsed = JSON.parse(line.slice('BENCH_RESULT '.length)) as { importMs: number; firstInvocationMs: number; status: number };
      if (parsed.status !== 200) return reject(new Error(`cold start of ${bundle.kind} answered ${parsed.status}`));
      resolve({ kind: bundle.kind, importMs: parsed.importMs, firstInvocationMs: parsed.firstInvocationMs, processMs });
    });
  });
}
