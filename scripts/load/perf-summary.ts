// Where serverless-offline's CPU goes under load, by source: reads a `perf record -g` profile that
// `npm run load -- --perf <dir>` wrote for one phase and charges every sample to the innermost JavaScript
// frame's original source (a package, a lib/ module, a node: internal), through the bundles' source maps.
//
//   node scripts/load/perf-summary.ts <dir>/<phase>.data <requests of that phase> [top]
//
// CPU samples, unlike the V8 profiler's, are taken only while a thread runs, so they hold up with ~30 worker
// threads on 2 cores. Compare an "on" and an "off" phase per request.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { PERF_FREQUENCY } from './perf.ts';

const [file, requestArg, topArg = '25'] = process.argv.slice(2);
if (!file || !requestArg) throw new Error('usage: node scripts/load/perf-summary.ts <phase>.data <requests> [top]');
const requests = Number(requestArg);

const maps = new Map<string, SourceMap | undefined>();
function originalSource(path: string, line: number, column: number): string {
  if (!maps.has(path)) maps.set(path, existsSync(`${path}.map`) ? new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8'))) : undefined);
  const entry = maps.get(path)?.findEntry(line - 1, column - 1);
  return entry && 'originalSource' in entry ? entry.originalSource : path;
}

/** A package, a lib/ module (lib/metrics file by file), a function's folder, or a node: internal. */
function sourceGroup(source: string): string {
  const path = source.replace(/^file:\/\//, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return pkg[1]!;
  if (path.startsWith('node:')) return path.split('/').slice(0, 2).join('/');
  return /((?:lib\/metrics\/[^/]+)|(?:lib|functions)\/[^/]+)/.exec(path)?.[1] ?? path;
}

// perf-basic-prof names a JIT frame "JS:<tier><name> <url>:<line>:<column>".
const JS_FRAME = /^JS:\S*\s*(?:\S+\s+)?((?:file:\/\/|\/|node:)\S+?):(\d+):(\d+)$/;
function frameGroup(symbol: string): string | undefined {
  const js = JS_FRAME.exec(symbol);
  if (js) return sourceGroup(originalSource(js[1]!.replace(/^file:\/\//, ''), Number(js[2]), Number(js[3])));
  if (/scrypt/i.test(symbol)) return '(scrypt)';
  if (/Scaveng|MarkCompact|ConcurrentMarking|Sweeper|MinorMark|Heap::/.test(symbol)) return '(garbage collector)';
  if (/Compil|Parser|Scanner|Maglev|Turbofan|compiler::|BaselineBatch/.test(symbol)) return '(compiler)';
  return undefined;
}

const script = execFileSync('perf', ['script', '-i', file, '-F', 'comm,tid,ip,sym,dso'], { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
const threads = new Map<string, number>();
const count = (into: Map<string, number>, key: string) => into.set(key, (into.get(key) ?? 0) + 1);
let samples = 0;
for (const block of script.split('\n\n')) {
  const [header, ...frames] = block.split('\n').filter((line) => line.trim());
  if (!header) continue;
  samples++;
  count(threads, header.trim().split(/\s+/)[0]!);
  const groups = frames.map((frame) => /^\s*[0-9a-f]+\s+(.*)\s+\(.*\)$/.exec(frame)?.[1]).map((symbol) => (symbol ? frameGroup(symbol) : undefined));
  count(self, groups.find((g) => g !== undefined) ?? '(native, no JavaScript frame)');
  for (const group of new Set(groups)) if (group) count(inclusive, group);
}

const msPerRequest = (n: number) => ((n / PERF_FREQUENCY) * 1000) / requests;
const show = (title: string, counts: Map<string, number>) => {
  console.log(`\n${title} (CPU ms per request)`);
  for (const [key, n] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg))) console.log(`${msPerRequest(n).toFixed(3).padStart(8)}  ${key}`);
};
console.log(`${samples} samples at ${PERF_FREQUENCY} Hz: ${msPerRequest(samples).toFixed(3)} CPU ms per request`);
show('by thread', threads);
show('self: charged to the innermost JavaScript frame', self);
show('inclusive: any frame of that source on the stack', inclusive);
