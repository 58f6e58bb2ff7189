// A function container in miniature for push tests: its own registry with the contract's HTTP and order
// families, and its own pusher (or a naive push), as separate Lambda containers would have.
import { Counter, Histogram, Pushgateway, Registry } from 'prom-client';
import { createPusher, type Pusher } from '../../packages/middy-pushgateway/src/pusher.ts';
import { redisSlots } from './redis-slots.ts';

export interface ContainerOptions {
  functionName: string;
  gatewayUrl: string;
  redisUrl?: string;
  maxSlots?: number;
  leaseTtlMs?: number;
  timeoutMs?: number;
  /** 0 (the default here) sends every push; deployed containers defer to once per METRICS_PUSH_INTERVAL_MS. */
  pushIntervalMs?: number;
}

function families(registry: Registry) {
  const f = {
    requests: new Counter({ name: 'http_requests_total', help: 'HTTP requests answered, by method, route template and status code.', labelNames: ['method', 'route', 'status_code'] as const, registers: [registry] }),
    duration: new Histogram({ name: 'http_request_duration_seconds', help: 'HTTP request latency inside the function, by method, route template and status code.', labelNames: ['method', 'route', 'status_code'] as const, buckets: [0.001, 0.01, 0.1, 1], registers: [registry] }),
    orders: new Counter({ name: 'orders_created_total', help: 'Orders created, by their status at creation.', labelNames: ['status'] as const, registers: [registry] }),
    revenue: new Counter({ name: 'revenue_total', help: 'Value of created orders in currency minor units (cents), by currency.', labelNames: ['currency'] as const, registers: [registry] }),
  };
  // As the real container does: every label set exists at 0 before its first event.
  for (const status_code of ['200', '404']) f.requests.inc({ method: 'POST', route: '/api/orders', status_code }, 0);
  f.orders.inc({ status: 'pending' }, 0);
  f.revenue.inc({ currency: 'EUR' }, 0);
  return f;
}

/** One invocation's worth of metrics: a request, and every third one an order of `cents`. */
function record(f: ReturnType<typeof families>, n: number, cents: number): void {
  const status = n % 10 === 0 ? '404' : '200';
  f.requests.inc({ method: 'POST', route: '/api/orders', status_code: status });
  f.duration.observe({ method: 'POST', route: '/api/orders', status_code: status }, 0.004);
  if (n % 3 === 0) {
    f.orders.inc({ status: 'pending' });
    f.revenue.inc({ currency: 'EUR' }, cents);
  }
}

export class SimulatedContainer {
  readonly registry = new Registry();
  readonly pusher: Pusher;
  private readonly slots: ReturnType<typeof redisSlots> | undefined;
  private readonly metrics = families(this.registry);

  constructor(options: ContainerOptions) {
    this.slots = options.redisUrl ? redisSlots(options.redisUrl, 100) : undefined;
    this.pusher = createPusher({
      registry: this.registry,
      functionName: options.functionName,
      gatewayUrl: options.gatewayUrl,
      timeoutMs: options.timeoutMs ?? 200,
      slots: this.slots,
      maxSlots: options.maxSlots ?? 16,
      leaseTtlMs: options.leaseTtlMs ?? 60_000,
      reclaimIntervalMs: 200,
      pushIntervalMs: options.pushIntervalMs ?? 0,
    });
  }

  async invoke(n: number, cents: number): Promise<void> {
    record(this.metrics, n, cents);
    await this.pusher.push();
  }

  /** The container is gone (frozen or recycled): it never pushes again and never releases its lease. */
  abandon(): void {
    this.slots?.close();
  }
}

export type NaiveMode = 'shared-group' | 'group-per-container';

/** What the naive designs do: prom-client's pushAdd of the container's registry after each invocation. */
export class NaiveContainer {
  readonly registry = new Registry();
  private readonly metrics = families(this.registry);
  private readonly gateway: Pushgateway<'text/plain; version=0.0.4; charset=utf-8'>;
  private readonly instance: string;
  private readonly functionName: string;

  constructor(functionName: string, gatewayUrl: string, mode: NaiveMode) {
    this.functionName = functionName;
    this.gateway = new Pushgateway(gatewayUrl, { timeout: 200 }, this.registry);
    this.instance = mode === 'shared-group' ? 'shared' : `${functionName}-${Math.random().toString(36).slice(2, 10)}`;
  }

  async invoke(n: number, cents: number): Promise<void> {
    record(this.metrics, n, cents);
    await this.gateway.pushAdd({ jobName: 'serverless-shop', groupings: { function: this.functionName, instance: this.instance } }).catch(() => {});
  }

  abandon(): void {}
}
