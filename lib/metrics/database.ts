import { Gauge, Histogram } from 'prom-client';
import { registry } from './registry.ts';

export const dbQueryDuration = new Histogram({
  name: 'db_query_duration_seconds',
  help: 'Duration of database statements by operation and table.',
  labelNames: ['operation', 'table'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

export function observeQuery(labels: { operation: string; table: string }, seconds: number): void {
  dbQueryDuration.observe(labels, seconds);
}

export interface PoolCounts {
  total: number;
  idle: number;
  waiting: number;
}
let poolCounts: (() => PoolCounts) | undefined;

/** lib/db hands over its pool's counts; they are read when the registry is collected (at push time). */
export function reportPool(read: () => PoolCounts): void {
  poolCounts = read;
}

new Gauge({
  name: 'db_pool_connections',
  help: 'Connections of this container\'s pg pool, by state (total, idle, waiting clients).',
  labelNames: ['state'] as const,
  registers: [registry],
  collect() {
    const counts = poolCounts?.() ?? { total: 0, idle: 0, waiting: 0 };
    for (const state of ['total', 'idle', 'waiting'] as const) this.set({ state }, counts[state]);
  },
});
