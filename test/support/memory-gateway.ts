// A Pushgateway in memory, as the pusher's and the janitor's `transport` (packages/middy-pushgateway/src/pusher.ts), on a clock
// the test controls. It keeps what the real one keeps, as far as our pushes can tell: groups by grouping key,
// a POST replacing the group's families of the same name, a PUT the whole group, a DELETE dropping it, and
// GET /api/v1/metrics in the real JSON shape (the one packages/middy-pushgateway/src/gateway.ts `groupSeries` reads). Its faults
// are the network's as well as its own: `down` refuses at once; `hang` holds requests, whose callers give up
// when their AbortSignal fires, while the requests themselves wait to be applied late, in any order.
import { seriesKey, type FamilyType, type Labels } from '../../packages/middy-pushgateway/src/exposition.ts';
import type { GatewayRequest } from '../../packages/middy-pushgateway/src/gateway.ts';

export type GatewayFault = 'down' | 'hang';

interface Sample {
  metricName: string;
  labels: Labels;
  value: number;
}
interface StoredFamily {
  type: FamilyType;
  help: string;
  /** By series key: the sample's own labels, without the group's. */
  samples: Map<string, Sample>;
}
interface Group {
  labels: Labels;
  families: Map<string, StoredFamily>;
  /** Seconds, as push_time_seconds shows it. */
  pushedAt: number;
}
interface Held {
  url: string;
  request: GatewayRequest;
  answer(handle: () => string): void;
}

const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];

export class MemoryGateway {
  /** By grouping key (the group's labels as a series key). */
  readonly groups = new Map<string, Group>();
  /** Requests a hang holds, in arrival order. */
  readonly held: Held[] = [];
  /** Requests a fault met, so a test can tell a push that went through cleanly. */
  faults = 0;
  private fault: GatewayFault | undefined;
  private faultIn = 0;
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /** Every request from the `after`-th next one on meets `fault` (undefined: the gateway answers again). */
  setFault(fault: GatewayFault | undefined, after = 0): void {
    this.fault = fault;
    this.faultIn = after;
  }

  /** The gateway restarts without persistence: every group is gone. Requests held on the way still arrive. */
  restart(): void {
    this.groups.clear();
  }

  /** Applies held requests late: those at `order`'s indices, in that order (default: all, as they came). */
  release(order: number[] = this.held.map((_, i) => i)): void {
    const chosen = [...new Set(order)].flatMap((i) => this.held[i] ?? []);
    for (const request of chosen) {
      this.held.splice(this.held.indexOf(request), 1);
      request.answer(() => this.handle(request.url, request.request));
    }
  }

  readonly transport = (url: string, request: GatewayRequest = {}): Promise<string> => {
    if (request.signal?.aborted) return Promise.reject(request.signal.reason as Error);
    const fault = this.faultIn > 0 ? (this.faultIn--, undefined) : this.fault;
    if (fault) this.faults++;
    if (fault === 'down') return Promise.reject(new Error('connect ECONNREFUSED (gateway down)'));
    if (fault === 'hang') {
      return new Promise((resolve, reject) => {
        // Once the caller gave up, the answer goes nowhere, but the request is still applied.
        this.held.push({ url, request, answer: (handle) => settle(handle, resolve, reject) });
        request.signal?.addEventListener('abort', () => reject(request.signal!.reason as Error), { once: true });
      });
    }
    return Promise.resolve().then(() => this.handle(url, request));
  };

  /** Each series of a job summed over its groups, keyed as packages/middy-pushgateway/src/exposition.ts `seriesKey`. */
  totals(job: string): Map<string, number> {
    const totals = new Map<string, number>();
    for (const group of this.groups.values()) {
      if (group.labels.job !== job) continue;
      for (const family of group.families.values()) for (const [key, s] of family.samples) totals.set(key, (totals.get(key) ?? 0) + s.value);
    }
    return totals;
  }

  private handle(url: string, { method = 'GET', body = '' }: GatewayRequest): string {
    const { pathname } = new URL(url);
    if (pathname === '/api/v1/metrics' && method === 'GET') return JSON.stringify(this.metrics());
    const labels = groupingKey(pathname);
    const key = seriesKey('', labels);
    if (method === 'DELETE') {
      this.groups.delete(key);
      return '';
    }
    if (method !== 'POST' && method !== 'PUT') throw new Error('gateway answered 405');
    const pushed = parse(body);
    const group = (method === 'POST' && this.groups.get(key)) || { labels, families: new Map<string, StoredFamily>(), pushedAt: 0 };
    for (const [name, family] of pushed) group.families.set(name, family);
    group.pushedAt = this.now() / 1000;
    this.groups.set(key, group);
    return '';
  }

  /** GET /api/v1/metrics: every series carries its group's labels; values are strings. */
  private metrics() {
    const data = [...this.groups.values()].map((group) => {
      const stamp = new Date(group.pushedAt * 1000).toISOString();
      const gauge = (help: string, value: number) => ({ time_stamp: stamp, type: 'GAUGE', help, metrics: [{ labels: group.labels, value: String(value) }] });
      const out: Record<string, unknown> = { labels: group.labels, last_push_successful: true };
      for (const [name, family] of group.families) {
        out[name] = { time_stamp: stamp, type: family.type.toUpperCase(), help: family.help, metrics: jsonMetrics(family, group.labels) };
      }
      out.push_time_seconds = gauge('Last Unix time when changing this group in the Pushgateway succeeded.', group.pushedAt);
      out.push_failure_time_seconds = gauge('Last Unix time when changing this group in the Pushgateway failed.', 0);
      return out;
    });
    return { status: 'success', data };
  }
}

function settle(handle: () => string, resolve: (body: string) => void, reject: (err: Error) => void): void {
  try {
    resolve(handle());
  } catch (err) {
    reject(err as Error);
  }
}

/** `/metrics/job/<job>/<label>/<value>...`, a value ending its name with `@base64` being base64url. */
function groupingKey(pathname: string): Labels {
  const parts = pathname.split('/').slice(1);
  if (parts[0] !== 'metrics' || parts[1] !== 'job' || parts.length % 2 !== 1) throw new Error('gateway answered 404');
  const labels: Labels = {};
  for (let i = 1; i < parts.length; i += 2) {
    const name = parts[i]!;
    const value = parts[i + 1]!;
    if (name.endsWith('@base64')) labels[name.slice(0, -'@base64'.length)] = Buffer.from(value, 'base64url').toString();
    else labels[name] = decodeURIComponent(value);
  }
  return labels;
}

const unescape = (text: string) => text.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
const number = (text: string) => (text === '+Inf' ? Infinity : text === '-Inf' ? -Infinity : Number(text));

/** Text exposition 0.0.4, as packages/middy-pushgateway/src/exposition.ts `render` writes it: HELP and TYPE before each family's samples. */
function parse(body: string): Map<string, StoredFamily> {
  const families = new Map<string, StoredFamily>();
  let current: [string, StoredFamily] | undefined;
  const familyOf = (name: string) => {
    let family = families.get(name);
    if (!family) families.set(name, (family = { type: 'untyped', help: '', samples: new Map() }));
    current = [name, family];
    return family;
  };
  for (const line of body.split('\n')) {
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const family = familyOf(meta[2]!);
      if (meta[1] === 'HELP') family.help = unescape(meta[3]!);
      else family.type = meta[3] as FamilyType;
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    const [name, family] = current ?? [];
    const suffix = sample && name && sample[1]!.slice(name.length);
    if (!sample || !family || !sample[1]!.startsWith(name!) || !(suffix === '' || (family.type === 'histogram' && HISTOGRAM_SUFFIXES.includes(suffix!)))) {
      throw new Error(`gateway answered 400: ${line}`);
    }
    const labels: Labels = {};
    for (const [, label, value] of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[label!] = unescape(value!);
    family.samples.set(seriesKey(sample[1]!, labels), { metricName: sample[1]!, labels, value: number(sample[3]!) });
  }
  return families;
}

/** A family's series as the JSON API gives them: a histogram's as buckets (with +Inf), sum and count per label set. */
function jsonMetrics(family: StoredFamily, groupLabels: Labels) {
  const samples = [...family.samples.values()];
  if (family.type !== 'histogram') return samples.map((s) => ({ labels: { ...s.labels, ...groupLabels }, value: String(s.value) }));
  const byLabels = new Map<string, { labels: Labels; buckets: Record<string, string>; sum?: string; count?: string }>();
  for (const s of samples) {
    const { le, ...own } = s.labels;
    const key = seriesKey('', own);
    let metric = byLabels.get(key);
    if (!metric) byLabels.set(key, (metric = { labels: { ...own, ...groupLabels }, buckets: {} }));
    if (s.metricName.endsWith('_bucket')) metric.buckets[le === '+Inf' ? '+Inf' : String(Number(le))] = String(s.value);
    else if (s.metricName.endsWith('_sum')) metric.sum = String(s.value);
    else metric.count = String(s.value);
  }
  return [...byLabels.values()];
}
