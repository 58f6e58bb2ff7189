// Where a child's CPU went:
//
//   node scripts/bench/profile-summary.ts <file.cpuprofile> [top] [--under <function name>]
//
// prints self time by function and inclusive time of the functions of lib/, prom-client and the HTTP/Redis
// clients, as % of the samples kept; with --under, only samples with that function on their stack are kept
// (e.g. --under pushOnce: the push alone, without the request around it).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const { positionals, values } = parseArgs({ allowPositionals: true, options: { under: { type: 'string' } } });
const [file, topArg] = positionals;
if (!file) throw new Error('usage: node scripts/bench/profile-summary.ts <file.cpuprofile> [top] [--under <function>]');
const top = Number(topArg ?? 25);
const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const isUnder = (id: number) => {
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) if (byId.get(cur)!.callFrame.functionName === values.under) return true;
  return false;
};
const self = new Map<number, number>();
profile.samples.forEach((id, i) => {
  if (values.under && !isUnder(id)) return;
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...self.values()].reduce((a, b) => a + b, 0);

const label = (n: Node) => {
  const url = n.callFrame.url.replace(/^file:\/\//, '');
  const short = url.includes('node_modules/') ? url.slice(url.lastIndexOf('node_modules/') + 13) : url ? path.relative(process.cwd(), url) : '(native)';
  return `${n.callFrame.functionName || '(anonymous)'} ${short}:${n.callFrame.lineNumber + 1}`;
};
const pct = (t: number) => `${((100 * t) / total).toFixed(1).padStart(5)} %`;

const selfBy = new Map<string, number>();
for (const [id, t] of self) selfBy.set(label(byId.get(id)!), (selfBy.get(label(byId.get(id)!)) ?? 0) + t);
console.log(`${(total / 1000).toFixed(0)} ms sampled${values.under ? ` under ${values.under}` : ''}\n\nself time, top ${top}:`);
for (const [name, t] of [...selfBy].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${name}`);

// Inclusive: a sample counts once for each distinct function on its stack.
const inclusive = new Map<string, number>();
for (const [id, t] of self) {
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const name = label(byId.get(cur)!);
    if (!seen.has(name)) inclusive.set(name, (inclusive.get(name) ?? 0) + t);
    seen.add(name);
  }
}
const interesting = /lib\/|prom-client|undici|ioredis|fetch|exposition|pusher|slots/;
console.log(`\ninclusive time, top ${top} of lib/, prom-client, undici, ioredis:`);
for (const [name, t] of [...inclusive].filter(([n]) => interesting.test(n)).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${name}`);
