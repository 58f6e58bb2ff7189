// The in-process variants of `npm run bench`, in table order, and what a child reports for one run.
import type { PushStatus } from '../../packages/middy-pushgateway/src/pusher.ts';

export const VARIANTS = ['bare', 'recorded', 'ours', 'ours-every', 'after-response', 'naive', 'powertools'] as const;
export type Variant = (typeof VARIANTS)[number];
/** The variants whose pushes go through our pusher (lib/metrics/container.ts). */
export const OUR_PUSHERS: readonly Variant[] = ['ours', 'ours-every', 'after-response'];

export const DESCRIPTIONS: Record<Variant, string> = {
  bare: 'real handler, every lib/metrics module the request path uses replaced by a no-op stub (no prom-client)',
  recorded: 'real handler with our hooks recording into our registry, PUSHGATEWAY_URL unset (nothing pushed)',
  ours: 'real handler, our pusher awaited in requestEnd, as deployed (METRICS_PUSH_INTERVAL_MS=5000): every invocation renews the slot lease and stores the series that changed in Redis; the changed families are POSTed to the gateway at most once every 5 s',
  'ours-every': '"ours" with METRICS_PUSH_INTERVAL_MS=0: the Redis store and a gateway POST of the changed families after every invocation',
  'after-response':
    '"ours" with METRICS_AFTER_RESPONSE=true: an internal Lambda extension, registered at import against a stand-in of the Extensions API in a worker thread of the bench child, holds the freeze until the push has settled, and the handler returns without awaiting it. Latency is still the handler call alone; CPU spans the whole phase, until the extension asks for its next event (`event/next`), so the HTTP handling of the stand-in, in the same process, counts too; "busy after response" is the time from the answer to that `event/next`, which Lambda bills and the next invocation waits for',
  naive: '"recorded" + prom-client `collectDefaultMetrics()` and `new Pushgateway(url).pushAdd()` of the global registry after every invocation',
  powertools: '"bare" + Powertools `logMetrics` (2 metrics per invocation, EMF on stdout)',
};

export interface ChildResult {
  variant: Variant;
  invocations: number;
  latencyUs: number[];
  cpuUs: number[];
  /** From the handler's answer to the end of the invocation's phase (0 unless an extension holds the freeze). */
  busyAfterUs: number[];
  wallMs: number;
  /** Responses that were not 200, and responses not served from the cache, during the measured loop. */
  bad: number;
  misses: number;
  naiveFailures: number;
  /** Bytes written on sockets during the measured loop, by peer. */
  wire: { gateway: number; redis: number; other: number };
  /** Our pusher's POST bodies during the measured loop. */
  pushed: { requests: number; bodyBytes: number; families: number };
  stdoutBytes: number;
  /** The full text exposition of the registry the variant pushes (ours: our registry; naive: the global one). */
  registry: { bytes: number; families: number } | undefined;
  pushStatus: PushStatus | undefined;
}
