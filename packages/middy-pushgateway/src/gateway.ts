// Talking to the Pushgateway: group URLs, credentials, reading and writing groups. Shared by the pusher and the
// janitor, and exported for an application's own groups and checks.
import http from 'node:http';
import https from 'node:https';
import type { StoredSeries } from './slots.ts';

/** The `job` label of the groups when none is given. */
export const DEFAULT_JOB = 'lambda';

export interface GatewayAuth {
  username: string;
  password: string;
}

/** `/metrics/job/<job>/function/<fn>/instance/<instance>`, with `@base64` for values holding a slash. */
export function groupUrl(gatewayUrl: string, fn: string, instance: string, job = DEFAULT_JOB): string {
  const part = (value: string) =>
    value.includes('/') ? `${Buffer.from(value).toString('base64url')}@base64` : encodeURIComponent(value);
  return new URL(`/metrics/job/${part(job)}/function/${part(fn)}/instance/${part(instance)}`, gatewayUrl).href;
}

export function authHeaders(auth: GatewayAuth | undefined): Record<string, string> {
  return auth ? { Authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` } : {};
}

export const TEXT_FORMAT = 'text/plain; version=0.0.4; charset=utf-8';

export interface GatewayRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  body?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

// node:http rather than fetch: a POST costs about a third of fetch's CPU (docs/benchmarks.md), and undici,
// loaded on the first fetch, stays out of a container's first invocation. Sockets are kept alive between
// pushes; an idle one does not hold the process open (the agent unrefs it).
const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };

/** The client module and kept-alive agent for a URL's protocol (the gateway's, and remote write's). */
export function clientFor(target: URL): { client: typeof http | typeof https; agent: http.Agent } {
  return { client: target.protocol === 'https:' ? https : http, agent: agents[target.protocol as keyof typeof agents] };
}

/** One request to the gateway, its answer read whole (so that the socket can carry the next); throws on non-2xx. */
export function gatewayRequest(url: string | URL, { method = 'GET', body, headers = {}, signal }: GatewayRequest = {}): Promise<string> {
  const target = new URL(url);
  const { client, agent } = clientFor(target);
  return new Promise((resolve, reject) => {
    const request = client.request(target, { method, headers, agent, signal }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const status = response.statusCode ?? 0;
        if (status < 200 || status > 299) reject(new Error(`gateway answered ${status}`));
        else resolve(Buffer.concat(chunks).toString('utf8'));
      });
    });
    request.on('error', reject);
    request.end(body);
  });
}

// The gateway's JSON API: a group's metric families, histograms as buckets/sum/count.
export interface GatewayMetrics {
  data: ({ labels: Record<string, string> } & Record<string, unknown>)[];
}
interface GatewayFamily {
  type: string;
  metrics: { labels?: Record<string, string>; value?: string; buckets?: Record<string, string>; sum?: string; count?: string }[];
}

/** A group's counters and histograms from GET /api/v1/metrics, as stored series. */
export function groupSeries(body: GatewayMetrics, group: Record<string, string>): StoredSeries[] | undefined {
  const found = body.data.find((g) => Object.entries(group).every(([k, v]) => g.labels[k] === v));
  if (!found) return undefined;
  const out: StoredSeries[] = [];
  for (const [name, raw] of Object.entries(found)) {
    const family = raw as GatewayFamily;
    if (name === 'labels' || !family?.metrics) continue;
    for (const m of family.metrics) {
      const labels = Object.fromEntries(Object.entries(m.labels ?? {}).filter(([k]) => !(k in group) && k !== 'job'));
      if (family.type === 'COUNTER') out.push([name, name, labels, Number(m.value)]);
      if (family.type === 'HISTOGRAM') {
        for (const [le, count] of Object.entries(m.buckets ?? {})) out.push([name, `${name}_bucket`, { ...labels, le: le === '+Inf' ? '+Inf' : String(Number(le)) }, Number(count)]);
        out.push([name, `${name}_bucket`, { ...labels, le: '+Inf' }, Number(m.count)]);
        out.push([name, `${name}_sum`, labels, Number(m.sum)], [name, `${name}_count`, labels, Number(m.count)]);
      }
    }
  }
  return out;
}


/** How a request reaches the gateway: `gatewayRequest`, or a model of a gateway in tests. */
export type Transport = (url: string, request: GatewayRequest) => Promise<string>;

/** Every group the gateway holds, from its JSON API. */
export async function readGroups(gatewayUrl: string, init: Omit<GatewayRequest, 'method' | 'body'> = {}, transport: Transport = gatewayRequest): Promise<GatewayMetrics> {
  return JSON.parse(await transport(new URL('/api/v1/metrics', gatewayUrl).href, init)) as GatewayMetrics;
}
