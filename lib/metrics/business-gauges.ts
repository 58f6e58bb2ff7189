// The scheduled collector's gauges, in a registry of their own, pushed (PUT: the whole group replaced) to a
// group of their own: one writer, so the values are the database's, not a sum over containers.
import { Gauge, Registry } from 'prom-client';
import { groupUrl, gatewayRequest, snapshot, type SlotStore, type StoredSeries } from 'middy-pushgateway';

export interface BusinessFigures {
  ordersByStatus: Record<string, number>;
  productsByCategory: Record<string, number>;
  revenueByCurrency: Record<string, number>;
}

export function businessRegistry(figures: BusinessFigures): Registry {
  const registry = new Registry();
  const orders = new Gauge({ name: 'shop_orders', help: 'Orders in the database, by status.', labelNames: ['status'] as const, registers: [registry] });
  const products = new Gauge({ name: 'shop_products', help: 'Products on sale, by category.', labelNames: ['category'] as const, registers: [registry] });
  const revenue = new Gauge({
    name: 'shop_revenue_total_amount',
    help: 'Value of all orders not cancelled, in currency minor units, by currency.',
    labelNames: ['currency'] as const,
    registers: [registry],
  });
  for (const [status, n] of Object.entries(figures.ordersByStatus)) orders.set({ status }, n);
  for (const [category, n] of Object.entries(figures.productsByCategory)) products.set({ category }, n);
  for (const [currency, total] of Object.entries(figures.revenueByCurrency)) revenue.set({ currency }, total);
  return registry;
}

// Named after its function, like every other group, so alerts can tell when it stops (monitoring/rules).
const COLLECTOR_FUNCTION = 'collectBusinessMetrics';
const COLLECTOR_INSTANCE = 'collector';

export async function pushBusinessGauges(options: {
  gatewayUrl: string;
  registry: Registry;
  timeoutMs: number;
  headers?: Record<string, string>;
  job?: string;
}): Promise<void> {
  await gatewayRequest(groupUrl(options.gatewayUrl, COLLECTOR_FUNCTION, COLLECTOR_INSTANCE, options.job), {
    method: 'PUT',
    body: await options.registry.metrics(),
    headers: { 'Content-Type': options.registry.contentType, ...options.headers },
    signal: AbortSignal.timeout(options.timeoutMs),
  });
}

/** With remote write: the same group's readings into Redis, which the flusher writes with its instance and push time. */
export async function storeBusinessGauges(slots: SlotStore, registry: Registry): Promise<void> {
  const readings = [...(await snapshot(registry)).series.values()].map((s): StoredSeries => [s.family, s.metricName, s.labels, s.value]);
  await slots.storeGauges(COLLECTOR_FUNCTION, COLLECTOR_INSTANCE, readings, Date.now());
}
